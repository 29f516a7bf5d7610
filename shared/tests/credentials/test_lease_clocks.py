"""review26a L6: a refresh lease is judged by the waiting process's own monotonic clock watching the lease row's
version (every renewal moves it), never by comparing the holder's wall-clock stamp with the waiter's. Two processes
share one SQLite store; the holder's wall clock is set minutes off the waiter's (injected), and the waiter's
monotonic clock is the test's (time passes only in its sleeps, never outrunning the holder's renewals)."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore

from .conftest import WaiterClock, key_b64

#: A run on another host holding the refresh lease: its wall clock is ``argv[2]`` seconds off real time; it renews the
#: lease every 10 ms, reports the token it spends, then waits for a line on stdin (the vendor answering) before
#: returning the rotated token, which the lease persists.
HOLDER = """
import os, sys
from datetime import timedelta
from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import utcnow
from xlr8_kit.credentials.store import SQLiteCredentialStore

offset = timedelta(seconds=float(sys.argv[2]))
manager = CredentialManager(
    SQLiteCredentialStore(sys.argv[1], create=False),
    EnvelopeCipher(Keyring.parse(os.environ["HOLDER_KEY"], source="holder")),
    clock=lambda: utcnow() + offset,
    renew_every=0.01,
)

def provider(current):
    print("spent", current.credentials["refresh_token"], flush=True)
    sys.stdin.readline()
    return {"refresh_token": "rt-0002-from-holder"}

print("stored", manager.refresh_token("sf-prod", provider).credentials["refresh_token"], flush=True)
"""


@pytest.fixture
def key() -> str:
    return f"k1:{key_b64()}"


@pytest.fixture
def seeded(db_path: Path, key: str, make_credential: Callable[..., ProductCredential]) -> Path:
    manager = CredentialManager(SQLiteCredentialStore(db_path), EnvelopeCipher(Keyring.parse(key, source="test")))
    manager.store(make_credential("sf-prod"))
    manager.close()
    return db_path


@pytest.fixture
def start_holder(seeded: Path, key: str) -> Iterator[Callable[[float], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start(clock_offset_s: float) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(seeded), str(clock_offset_s)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOLDER_KEY": key},
        )
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["spent", "rt-0001-initial"]  # the lease is held
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def waiter(db_path: Path, key: str, clock: WaiterClock) -> CredentialManager:
    """The other run, on this host: the real wall clock, the test's monotonic clock."""
    return CredentialManager(
        SQLiteCredentialStore(db_path, create=False),
        EnvelopeCipher(Keyring.parse(key, source="test")),
        sleep=clock.sleep,
        monotonic=clock,
    )


def waiter_refreshes(
    db_path: Path, key: str, clock: WaiterClock, caplog: pytest.LogCaptureFixture
) -> tuple[ProductCredential, ProductCredential, list[str]]:
    """The waiter's refresh of ``sf-prod`` (warnings captured), its provider answering ``rt-0002-from-waiter``: what
    it returned, the row stored after it, and the refresh tokens the waiter itself spent."""
    manager = waiter(db_path, key, clock)
    spent: list[str] = []

    def provider(current: ProductCredential) -> dict[str, str]:
        spent.append(current.credentials["refresh_token"])
        return {"refresh_token": "rt-0002-from-waiter"}

    try:
        with caplog.at_level(logging.WARNING):
            got = manager.refresh_token("sf-prod", provider)
        return got, manager.get("sf-prod"), spent
    finally:
        manager.close()


def test_l6_holder_whose_clock_is_behind_is_never_taken_over(
    seeded: Path, key: str, start_holder: Callable[[float], subprocess.Popen[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """The holder's clock is 5 minutes behind the waiter's: its freshly renewed stamp looked 5 minutes old, so the
    waiter took the live lease over at once and spent the same refresh token a second time."""
    holder = start_holder(-300)

    def answer() -> None:
        assert holder.stdin is not None
        if not holder.stdin.closed:
            holder.stdin.write("\n")
            holder.stdin.close()

    def vendor_answers(clock: WaiterClock) -> None:
        if clock.waited >= 3 * 60 and holder.stdin is not None and not holder.stdin.closed:
            answer()
            clock.await_persisted()

    clock = WaiterClock(seeded, holder_renews_every=15, on_sleep=vendor_answers)
    try:
        got, stored, spent = waiter_refreshes(seeded, key, clock, caplog)
    finally:
        answer()  # already, unless the waiter went ahead without waiting
    assert holder.stdout is not None
    out = holder.stdout.read()
    assert holder.wait(timeout=30) == 0
    assert out.split() == ["stored", "rt-0002-from-holder"]
    assert spent == []  # the waiter never presented the holder's token
    assert got.credentials["refresh_token"] == stored.credentials["refresh_token"] == "rt-0002-from-holder"
    assert not stored.refresh_interrupted
    assert 180 <= clock.waited < 181
    assert "taking over" not in caplog.text


def test_l6_dead_holder_whose_clock_was_ahead_is_taken_over_after_one_lease(
    seeded: Path, key: str, start_holder: Callable[[float], subprocess.Popen[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """The holder's clock was 5 minutes ahead and it died mid-refresh: its stamp looked 5 minutes in the future, so
    the waiter waited until its wait limit and gave up ("not taking it over"). Now the lease not renewed for
    ``lease_seconds`` by the waiter's own clock is taken over."""
    holder = start_holder(+300)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    clock = WaiterClock()  # nothing renews a dead holder's lease
    got, stored, spent = waiter_refreshes(seeded, key, clock, caplog)
    assert spent == ["rt-0001-initial"]
    assert got.credentials["refresh_token"] == stored.credentials["refresh_token"] == "rt-0002-from-waiter"
    assert not stored.refresh_interrupted
    assert 60 <= clock.waited < 61
    assert "taking over a refresh lease last renewed at" in caplog.text
