"""A tap run waiting on another process's token-refresh lease ends at once on SIGTERM (exit 143), instead of holding
the exit until the lease ends (a CLI run holds the signal while the token refresh, this wait inside it, runs: the
wait was a plain sleep, up to ``wait_limit_seconds``). It held no lease and spent nothing, so nothing is saved: the
holder's lease and the stored token stay as they were, and the holder then persists its own rotation."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import typing as t
from collections.abc import Iterator
from pathlib import Path

import pytest

from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.exits import EXIT_TERMINATED
from xlr8_kit.testing.singer_cli import BIN, write_json
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import REFRESH_TOKEN, TENANT
from xlr8_sandbox.testing import workday_credential_store

CREDENTIAL = "wd-lease-wait"
TOKEN_PATH = f"/ccx/oauth2/{TENANT}/token"
#: Another process refreshing the credential: it takes the lease, says so, and holds it (renewed) until told.
HOLDER = textwrap.dedent(
    """
    import sys
    from xlr8_kit.credentials.resolve import open_manager

    def refresher(current):
        print("holding", flush=True)
        sys.stdin.readline()
        return {"refresh_token": "rt-from-the-holder"}

    open_manager(sys.argv[1], create=False).refresh_token(sys.argv[2], refresher)
    print("saved", flush=True)
    """
)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CredentialManager]:
    manager = workday_credential_store(tmp_path / "credentials.db", monkeypatch, CREDENTIAL)
    yield manager
    manager.close()


class Lines:
    """A process's output stream read line by line on a thread of its own (a blocking read never holds the test)."""

    def __init__(self, stream: t.IO[str]) -> None:
        self.queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: t.IO[str]) -> None:
        for line in stream:
            self.queue.put(line)
        self.queue.put("")  # the stream ended

    def until(self, text: str, limit: float = 120) -> str:
        """The first line holding ``text`` (the process's progress, not a timer); fails if the stream ends first
        or nothing comes for ``limit`` seconds (a hang guard)."""
        while True:
            try:
                line = self.queue.get(timeout=limit)
            except queue.Empty:
                line = ""
            if not line:
                raise AssertionError(f"{text!r} never came; got: {''.join(self.seen)[-3000:]}")
            self.seen.append(line)
            if text in line:
                return line

    def rest(self) -> str:
        """Every line read, once the stream has ended."""
        while (line := self.queue.get(timeout=60)) != "":
            self.seen.append(line)
        return "".join(self.seen)


def test_a_run_waiting_on_another_runs_lease_ends_on_sigterm_and_saves_nothing(
    url: str, sandbox: Sandbox, store: CredentialManager, tmp_path: Path
) -> None:
    db = str(tmp_path / "credentials.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, db, CREDENTIAL],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ),
    )
    waiter: subprocess.Popen[str] | None = None
    try:
        assert holder.stdout is not None
        assert holder.stdin is not None
        said = Lines(holder.stdout)
        said.until("holding")
        held = store.get(CREDENTIAL)
        assert held.refresh_started_at is not None

        config = {"base_url": url, "tenant": TENANT, "credential_id": CREDENTIAL, "credential_store": db,
                  "streams": ["jobs"]}  # fmt: skip
        waiter = subprocess.Popen(
            [str(BIN / "tap-workday"), "--config", write_json(tmp_path / "config.json", config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        assert waiter.stdout is not None
        assert waiter.stderr is not None
        out, err = Lines(waiter.stdout), Lines(waiter.stderr)
        err.until("waiting on the token-refresh lease another run holds")
        waiter.send_signal(signal.SIGTERM)
        try:  # a hang guard: on the old code it waited as long as the lease lived (the holder keeps it alive)
            waiter.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("the waiting run did not end on SIGTERM while the other run held the lease")
        assert waiter.returncode == EXIT_TERMINATED, err.rest()[-3000:]
        assert '"type":"RECORD"' not in out.rest().replace(" ", "")
        # Nothing spent or saved by the waiter: no token request, the holder's lease and token as they were.
        assert sandbox.requests("workday", TOKEN_PATH) == []
        after = store.get(CREDENTIAL)
        assert after.credentials["refresh_token"] == REFRESH_TOKEN
        assert after.refresh_started_at is not None  # still the holder's lease (renewals may have moved it)

        holder.stdin.write("\n")
        holder.stdin.flush()
        said.until("saved")
        assert holder.wait(timeout=60) == 0
        final = store.get(CREDENTIAL)
        assert final.credentials["refresh_token"] == "rt-from-the-holder"
        assert final.refresh_started_at is None
    finally:
        for process in (holder, waiter):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
