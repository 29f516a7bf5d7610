"""Fixtures for the credential store tests: fresh keys, a store under tmp_path, a frozen clock."""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.credentials.crypto import EnvelopeCipher, Keyring
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential
from xlr8_kit.credentials.store import SQLiteCredentialStore
from xlr8_kit.testing.residue import derived_forms, scan_for, store_files

#: A value no other test data contains, so finding it anywhere is a leak.
CANARY = "CANARY-s3cr3t-9f27c1d4e8b6-xyz"


class FrozenClock:
    def __init__(self, start: datetime = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class WaiterClock:
    """A waiting run's monotonic clock and sleep (``monotonic=clock, sleep=clock.sleep``): time passes only in its
    sleeps, so a 40-minute wait takes no real time. With ``holder_renews_every`` it never outruns a live holder: each
    time that many of its seconds pass it first waits (real time, bounded) until the lease row's version in
    ``db_path`` has moved, as it does when a holder renews. ``on_sleep(clock)`` runs after every sleep."""

    def __init__(
        self,
        db_path: Path | None = None,
        *,
        credential_id: str = "sf-prod",
        holder_renews_every: float | None = None,
        on_sleep: Callable[[WaiterClock], None] | None = None,
    ) -> None:
        self.now = 1000.0
        self.start = self.now
        self.slept: list[float] = []
        self._db = db_path
        self._credential_id = credential_id
        self._every = holder_renews_every
        self._due = self.now + (holder_renews_every or 0.0)
        self._version: int | None = None
        self._on_sleep = on_sleep

    def __call__(self) -> float:
        return self.now

    @property
    def waited(self) -> float:
        return self.now - self.start

    def row(self) -> tuple[int, str | None]:
        assert self._db is not None
        with closing(sqlite3.connect(self._db)) as conn:
            version, started = conn.execute(
                "SELECT version, refresh_started_at FROM credentials WHERE credential_id = ?", (self._credential_id,)
            ).fetchone()
        return int(version), started

    def await_persisted(self) -> None:
        """Block (real time, bounded) until the holder has persisted and released the lease, so the waiter's next
        read finds its result."""
        deadline = time.monotonic() + 60
        while self.row()[1] is not None:
            assert time.monotonic() < deadline, "the holder did not persist within 60 s"
            time.sleep(0.002)

    def sleep(self, seconds: float) -> None:
        if self._every is not None and self._version is None:
            self._version = self.row()[0]  # the lease the waiter has just found
        self.slept.append(seconds)
        self.now += seconds
        while self._every is not None and self.now >= self._due:
            deadline = time.monotonic() + 60
            while (current := self.row()[0]) == self._version:
                assert time.monotonic() < deadline, "the holder did not renew its lease within 60 s"
                time.sleep(0.002)
            self._version = current
            self._due += self._every
        if self._on_sleep is not None:
            self._on_sleep(self)


class FaultyStore(SQLiteCredentialStore):
    """A SQLite store that fails the way a store over a network does, armed by the test (one helper for every
    lost-answer and failed-read test, like ``VaultStandIn.lose_answer_next``):

    - ``lose_answer_next(exc)``: the next write (``lease_only``: the next that sets the lease, a renewal once it is
      held) commits, then raises ``exc`` (its answer lost: Vault's re-send told "cas did not match", a timeout after
      the commit); with ``then_unreadable`` reads then fail (in threads named ``unreadable_in``..., all by default)
      until a write clears the lease;
    - ``fail_swaps(exc, count, meanwhile)``: the next ``count`` writes fail without writing (SQLite's busy
      timeout), each after running ``meanwhile`` (another writer, a clock moving);
    - ``fail_reads(count, in_thread)``: the next ``count`` reads in threads whose name starts with ``in_thread``
      fail (a dropped connection).

    ``swaps`` counts write attempts (``swapped`` is notified on each)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._lose: Exception | None = None
        self._lose_lease_only = False
        self._then_unreadable = False
        self.unreadable = threading.Event()
        self.unreadable_in = ""
        self._fail: Exception | None = None
        self._fails = 0
        self._meanwhile: Callable[[], object] = lambda: None
        self._read_fails: dict[str, int] = {}
        self.swaps = 0
        self.swapped = threading.Condition()

    def lose_answer_next(
        self, exc: Exception, *, lease_only: bool = False, then_unreadable: bool = False, unreadable_in: str = ""
    ) -> None:
        self._lose, self._lose_lease_only = exc, lease_only
        self._then_unreadable, self.unreadable_in = then_unreadable, unreadable_in

    def fail_swaps(self, exc: Exception, count: int = 1, meanwhile: Callable[[], object] | None = None) -> None:
        self._fail, self._fails = exc, count
        self._meanwhile = meanwhile or (lambda: None)

    def fail_reads(self, count: int = 1, *, in_thread: str = "") -> None:
        self._read_fails[in_thread] = count

    def wait_for_swaps(self, count: int, timeout: float = 10.0) -> bool:
        with self.swapped:
            return self.swapped.wait_for(lambda: self.swaps >= count, timeout=timeout)

    def swap(self, sealed: Any, *, expected_version: int, encryptions: Any) -> None:
        with self.swapped:
            self.swaps += 1
            self.swapped.notify_all()
        if self._fail is not None and self._fails > 0:
            self._fails -= 1
            self._meanwhile()
            raise self._fail
        if sealed.refresh_started_at is None:
            self.unreadable.clear()  # the store is back for the write that clears the lease
        super().swap(sealed, expected_version=expected_version, encryptions=encryptions)
        lose = self._lose
        if lose is not None and (sealed.refresh_started_at is not None or not self._lose_lease_only):
            self._lose = None
            if self._then_unreadable:
                self.unreadable.set()
            raise lose

    def load(self, credential_id: str) -> Any:
        name = threading.current_thread().name
        if self.unreadable.is_set() and name.startswith(self.unreadable_in):
            raise TimeoutError("store unreachable")
        for prefix, left in self._read_fails.items():
            if left and name.startswith(prefix):
                self._read_fails[prefix] = left - 1
                raise TimeoutError("store unreachable")
        return super().load(credential_id)


def key_b64() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def keyring() -> Keyring:
    return Keyring.parse(f"k1:{key_b64()}", source="test")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / ".xlr8" / "credentials.db"


@pytest.fixture
def make_manager(db_path: Path, clock: FrozenClock) -> Iterator[Callable[..., CredentialManager]]:
    opened: list[CredentialManager] = []

    def make(keyring: Keyring, path: Path | None = None, **kw: object) -> CredentialManager:
        manager = CredentialManager(
            SQLiteCredentialStore(path or db_path),
            EnvelopeCipher(keyring),
            clock=clock,
            **kw,  # type: ignore[arg-type]
        )
        opened.append(manager)
        return manager

    yield make
    for manager in opened:
        manager.close()


@pytest.fixture
def manager(make_manager: Callable[..., CredentialManager], keyring: Keyring) -> CredentialManager:
    return make_manager(keyring)


def sample_credential(credential_id: str = "sf-prod", *, project_id: str = "acme", **secrets: str) -> ProductCredential:
    return ProductCredential(
        credential_id=credential_id,
        project_id=project_id,
        product_id="salesforce",
        auth_type=AuthType.OAUTH2_REFRESH_TOKEN,
        credentials=secrets or {"client_id": "client-abc", "client_secret": CANARY, "refresh_token": "rt-0001-initial"},
        instance_url="https://acme.my.salesforce.com",
    )


@pytest.fixture
def make_credential() -> Callable[..., ProductCredential]:
    return sample_credential


@pytest.fixture
def residue() -> object:
    class Residue:
        forms = staticmethod(derived_forms)
        scan = staticmethod(scan_for)
        files = staticmethod(store_files)

    return Residue()


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., CliResult]:
    """Run the installed ``xlr8-credentials`` console script in ``tmp_path`` with a clean key environment."""
    script = Path(sys.executable).parent / "xlr8-credentials"
    assert script.exists(), f"console script missing: {script} (run uv sync)"

    def run(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> CliResult:
        base = {k: v for k, v in os.environ.items() if not k.startswith("XLR8_CREDENTIALS")}
        proc = subprocess.run(
            [str(script), *args],
            input=stdin,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**base, **(env or {})},
            timeout=60,
            check=False,
        )
        return CliResult(proc.returncode, proc.stdout, proc.stderr)

    return run
