"""Running a tap the two ways tests need: its console script in a subprocess (as users and Meltano run it), or
``sync_all`` in-process over real HTTP; and reading the Singer messages it wrote.

Shared by every tap's tests so that a catalog is selected, a message stream parsed and a run's output read the
same way everywhere (and a fix to any of them reaches all taps).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

#: The workspace's console scripts sit next to the running interpreter.
BIN = Path(sys.executable).parent


def write_json(path: Path, value: Any) -> str:
    """Write ``value`` as a JSON file (a config, catalog or state for ``--config`` and friends); returns the path."""
    path.write_text(json.dumps(value))
    return str(path)


def run_tap_cli(
    tap: str,
    args: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """``<tap> <args>`` through the installed console script; ``env`` is laid over the inherited environment.
    Output captured as text, the exit code left to the caller to assert."""
    return subprocess.run(
        [str(BIN / tap), *args],
        cwd=cwd,
        env={**os.environ, **env} if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def piped(tap_args: Sequence[str], consumer_args: Sequence[str], log: Path, *, timeout: float = 300) -> Any:
    """``tap | consumer`` as a shell pipe runs it: the tap's stderr into ``log``, the consumer's output captured as
    text (a ``CompletedProcess``, its exit code left to the caller); the tap must exit 0 (``log``'s tail if not)."""
    with log.open("wb") as err:
        tap = subprocess.Popen(list(tap_args), stdout=subprocess.PIPE, stderr=err)
        consumer = subprocess.run(
            list(consumer_args), stdin=tap.stdout, capture_output=True, text=True, check=False, timeout=timeout
        )
        assert tap.stdout is not None
        tap.stdout.close()
        assert tap.wait(timeout=60) == 0, log.read_text(errors="replace")[-3000:]
    return consumer


class Running:
    """A command run in the background, its stdout and stderr read into ``out`` and ``err`` line by line as they
    come: for tests that act on a process part way (a signal once it is stuck). ``end`` signals it and waits."""

    def __init__(self, args: Sequence[str]) -> None:
        self.proc = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=lines.extend, args=(stream,), daemon=True)
            for lines, stream in ((self.out, self.proc.stdout), (self.err, self.proc.stderr))
        ]
        for reader in self._readers:
            reader.start()

    def wait_for(self, said: Callable[[], bool], what: str, timeout: float = 60) -> None:
        """Until ``said()``; fails naming ``what`` (with the stderr so far) if the process ends or time runs out."""
        deadline = time.monotonic() + timeout
        while not said():
            assert self.proc.poll() is None, f"ended before {what}: {''.join(self.err)[-3000:]}"
            assert time.monotonic() < deadline, f"no {what} within {timeout} s"
            time.sleep(0.005)

    def end(self, signum: int, timeout: float = 60) -> int:
        """Sends ``signum`` (the process must still run), waits for its exit and its output; the exit code."""
        try:
            assert self.proc.poll() is None, "it ended before the signal"
            self.proc.send_signal(signum)
            return self.proc.wait(timeout=timeout)
        finally:
            self.close()

    def close(self) -> None:
        """Kills the process if it still runs, and takes the rest of its output."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for reader in self._readers:
            reader.join(10)


def terminated(
    args: Sequence[str], until: Callable[[], bool], what: str, *, settle: float = 0.2
) -> tuple[int, float, str, str]:
    """``args`` run in the background, sent SIGTERM ``settle`` s after ``until()`` (named ``what``): its exit code,
    how long the exit took after the signal, its whole stdout and stderr (a stopped run's last STATE, e.g.)."""
    run = Running(args)
    try:
        run.wait_for(until, what)
        time.sleep(settle)  # an answer on its way to the process (read or not, the way out waits for it)
        started = time.monotonic()
        code = run.end(signal.SIGTERM)
        return code, time.monotonic() - started, "".join(run.out), "".join(run.err)
    finally:
        run.close()


def signalled(
    args: Sequence[str], until: Callable[[], bool], what: str, *, settle: float = 0.2
) -> tuple[int, float, str]:
    """``terminated``'s exit code, exit time and the end of its stderr."""
    code, took, _, err = terminated(args, until, what, settle=settle)
    return code, took, err[-2000:]


def parse_singer_messages(text: str, *, exact_decimals: bool = False) -> list[dict[str, Any]]:
    """One message per non-blank line; ``exact_decimals`` reads numbers with a fraction as ``Decimal``."""
    parse_float = Decimal if exact_decimals else None
    return [json.loads(line, parse_float=parse_float) for line in text.splitlines() if line.strip()]


def select_streams(catalog: dict[str, Any], wanted: Collection[str]) -> dict[str, Any]:
    """Select exactly the streams in ``wanted`` (stream-level metadata), in place; a name the catalog does not
    offer is an error, not a silently empty selection."""
    offered = {stream["tap_stream_id"] for stream in catalog["streams"]}
    unknown = set(wanted) - offered
    assert not unknown, f"no such streams: {sorted(unknown)} (catalog offers {sorted(offered)})"
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in wanted
    return catalog


def discover_selecting(tap: str, config: dict[str, Any], streams: Collection[str], cwd: Path) -> tuple[str, str]:
    """``config`` written to ``cwd``, ``<tap> --discover`` run with it (asserted to succeed) and its catalog written
    with exactly ``streams`` selected: the ``--config`` and ``--catalog`` paths of a sync through the CLI."""
    config_path = write_json(cwd / "config.json", config)
    discovered = run_tap_cli(tap, ["--config", config_path, "--discover"], cwd)
    assert discovered.returncode == 0, discovered.stderr[-2000:]
    catalog = select_streams(json.loads(discovered.stdout), streams)
    return config_path, write_json(cwd / "catalog.json", catalog)


@dataclass
class SingerOutput:
    """What one tap run wrote to stdout."""

    messages: list[dict[str, Any]]
    lines: list[str] = field(default_factory=list)
    #: The tap instance of an in-process run (None for a subprocess).
    tap: Any = None

    @classmethod
    def parse(cls, text: str, *, exact_decimals: bool = False, tap: Any = None) -> SingerOutput:
        lines = [line for line in text.splitlines() if line.strip()]
        return cls(parse_singer_messages(text, exact_decimals=exact_decimals), lines, tap)

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if m["type"] == kind]

    def records(self, stream: str | None = None) -> list[dict[str, Any]]:
        """The records of ``stream`` (of every stream when None), in the order written."""
        return [m["record"] for m in self.of_type("RECORD") if stream is None or m["stream"] == stream]

    def record_streams(self) -> set[str]:
        return {m["stream"] for m in self.of_type("RECORD")}

    def schema_message(self, stream: str) -> dict[str, Any]:
        """The SCHEMA message (``schema``, ``key_properties``, ``bookmark_properties``)."""
        found = [m for m in self.of_type("SCHEMA") if m["stream"] == stream]
        assert found, f"the tap wrote no SCHEMA for {stream!r}"
        return found[0]

    def schema(self, stream: str) -> dict[str, Any]:
        """The JSON schema of ``stream`` as first announced."""
        schema: dict[str, Any] = self.schema_message(stream)["schema"]
        return schema

    @property
    def state(self) -> dict[str, Any]:
        """The last STATE value: what a runner would store and pass back as ``--state``."""
        states = [m["value"] for m in self.of_type("STATE")]
        assert states, "the tap emitted no STATE"
        return states[-1]


def sync_in_process(tap: Any, *, exact_decimals: bool = False) -> SingerOutput:
    """``tap.sync_all()`` with stdout captured and parsed (over real HTTP, but debuggable and with injected
    clocks); exceptions propagate as the tap raised them."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        tap.sync_all()
    return SingerOutput.parse(buffer.getvalue(), exact_decimals=exact_decimals, tap=tap)


def sync_until_error(tap: Any) -> tuple[SingerOutput, Exception | None]:
    """``sync_in_process`` that returns the error the run raised, with what it wrote up to it (a test that checks
    both what a failed run emitted and why it failed)."""
    buffer = io.StringIO()
    error: Exception | None = None
    with contextlib.redirect_stdout(buffer):
        try:
            tap.sync_all()
        except Exception as exc:  # noqa: BLE001 - returned to the test
            error = exc
    return SingerOutput.parse(buffer.getvalue(), tap=tap), error


def sync_tap(
    tap_class: Any,
    config: dict[str, Any],
    *,
    streams: Collection[str] | None = None,
    state: dict[str, Any] | None = None,
    fake: Any = None,
) -> SingerOutput:
    """``sync_in_process`` of a fresh ``tap_class`` with exact decimals: only ``streams`` selected when given (the
    catalog read by a real-time instance first), waits on ``fake`` (a ``FakeTime``) when given."""
    catalog = None
    if streams is not None:
        catalog = select_streams(tap_class(config=config, parse_env_config=False).catalog_dict, streams)
    cls = tap_class
    if fake is not None:
        from xlr8_kit.testing.fake_time import with_fake_time

        cls = with_fake_time(tap_class, fake)
    tap = cls(config=config, catalog=catalog, state=state, parse_env_config=False)
    return sync_in_process(tap, exact_decimals=True)


def assert_one_error_line(stderr: str, *named: str) -> str:
    """A failed CLI run ended as the README's exit codes promise: no traceback, one ERROR line, naming ``named``
    (audit23b #8: ``--discover`` failures printed 60-95 lines of traceback). Returns that line."""
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if "| ERROR " in line]
    assert len(errors) == 1, stderr[-3000:]
    for text in named:
        assert text in errors[0], errors[0]
    return errors[0]
