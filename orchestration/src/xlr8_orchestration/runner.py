"""One sync: ``tap | target-xlr8-truths`` as two processes, state resumed from and saved to the state directory.

The tap gets only ``credential_id`` and the credential store (it resolves its secrets itself), the tenant's URL
and its share of the tenant's rate budget. The last STATE the target emitted (it emits only after a commit) is
saved even when the run fails, so a retry resumes from what landed: upserts by key make the overlap harmless.
Any non-zero exit of either process is a failure. So is a partial run that exits 0: a tap that stopped a stream
early with its state safe (vendor quota guard, a Retry-After beyond ``http.max_retry_after``) says so on stderr in
the kit's words, and that run is reported failed (``partial``) rather than green.

A tap that gave a report up (``REPORT_SPENT``: its run failed after the tenant ran it, and once more) fails with
``report_spent``: not retried, since every retry would run the report on the tenant again (review27b H1); the next
scheduled run tries it once more.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from xlr8_kit.exits import EXIT_PARTIAL_RUN
from xlr8_kit.http.errors import REPORT_SPENT
from xlr8_orchestration.plan import SyncSpec
from xlr8_orchestration.settings import OrchestrationSettings
from xlr8_orchestration.tenancy import tenant_slot

TARGET = "target-xlr8-truths"


#: What the kit and the taps log when they stop a stream early with the state safe (exit code 0).
PARTIAL_MARKERS = ("stopping with state safe", "skipped, the API quota guard stopped this run")


class SyncFailedError(RuntimeError):
    """The tap or the target exited non-zero, or the tap stopped early (``partial``: a retry now would hit the same
    quota or rate limit, so it is left to the next scheduled run, which resumes from the saved state)."""

    def __init__(
        self,
        spec: SyncSpec,
        tap_rc: int,
        target_rc: int,
        detail: str,
        *,
        partial: bool = False,
        dead_lettered: dict[str, int] | None = None,
        report_spent: bool = False,
    ) -> None:
        self.tap_rc, self.target_rc, self.partial = tap_rc, target_rc, partial
        #: The tap gave a report up after two runs on the tenant (``REPORT_SPENT``): a retry would run it again.
        self.report_spent = report_spent
        #: Records the target dead-lettered, per stream, in a run that otherwise succeeded: a retry would not land
        #: them (the state moved past them; they wait in ``_dead_letters``), so the run is failed, not retried.
        self.dead_lettered = dead_lettered or {}
        what = "partial run (a stream stopped early, state safe)" if partial else "failed"
        if self.dead_lettered:
            what = "records dead-lettered"
        if report_spent:
            what = "failed, a report given up after two runs on the tenant (not retried: left to the next schedule)"
        super().__init__(
            f"{spec.name}: {what}: tap exited {tap_rc}, target exited {target_rc}; state kept at the last commit. "
            f"{detail}"
        )


@dataclass
class SyncResult:
    spec: SyncSpec
    state: dict[str, Any] | None
    tap_rc: int
    target_rc: int
    slot: int
    #: per stream, its table after the sync: current rows and, apart, rows marked deleted (``table_rows``)
    tables: dict[str, dict[str, int]] = field(default_factory=dict)


def executable(name: str) -> str:
    """The console script beside this interpreter (the workspace venv), else on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else name


def state_path(settings: OrchestrationSettings, spec: SyncSpec) -> Path:
    return settings.state_dir / spec.project_id / f"{spec.product_id}.json"


def tap_config(settings: OrchestrationSettings, spec: SyncSpec) -> dict[str, Any]:
    config: dict[str, Any] = dict(settings.product_config.get(spec.product_id, {}))
    config["credential_id"] = spec.credential_id
    config["credential_store"] = settings.credential_store
    if spec.instance_url:
        config[spec.tap.url_setting] = spec.instance_url
    http = dict(config.get("http", {}))
    http["requests_per_second"] = settings.tenant_policy(spec.tenant).per_sync_rate()
    http.setdefault("rate_burst", 1)
    config["http"] = http
    return config


def target_config(settings: OrchestrationSettings, spec: SyncSpec) -> dict[str, Any]:
    """The project's route; an upload route stages beside the project's state (kept between runs)."""
    config = settings.route(spec.project_id).target_config(spec.project_id)
    if config["delivery"] == "upload" and "upload_staging_path" not in config:
        config["upload_staging_path"] = str(state_path(settings, spec).with_suffix(".upload-staging.duckdb"))
    return config


def _write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


@contextlib.contextmanager
def state_lock(path: Path) -> Iterator[None]:
    """Held for each read-modify-write of a (project, product) state file: its regular and partitioned jobs run at
    once and write the same file (a kernel lock, freed if the holder dies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f"{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def staging_turn(target: dict[str, Any]) -> Iterator[None]:
    """An upload route's syncs of one (project, product) take turns: they stage in one DuckDB file, which one
    target at a time can open (the partitioned job's ranges and the regular job run at once). Not a file per
    range: each upload sends the whole staged table, so a range's own file would send only its range."""
    if target.get("delivery") != "upload":
        yield
        return
    with state_lock(Path(str(target.get("upload_staging_path", ".xlr8/upload-staging.duckdb")))):
        yield


def _load_json(path: Path) -> dict[str, Any]:
    loaded = json.loads(path.read_text()) if path.exists() else None
    return loaded if isinstance(loaded, dict) else {}


def commit_state(path: Path, state: dict[str, Any], started: dict[str, Any]) -> None:
    """Write a committed STATE over the state file as it is now: only the bookmarks this run moved (its tap passes
    the others through as it read them at the start, which another job may have moved since)."""
    marks, before = state.get("bookmarks"), started.get("bookmarks") or {}
    if not isinstance(marks, dict) or not isinstance(before, dict):
        _write_json(path, state)
        return
    with state_lock(path):
        current = _load_json(path)
        bookmarks = dict(current.get("bookmarks") or {})
        bookmarks.update({stream: mark for stream, mark in marks.items() if mark != before.get(stream)})
        _write_json(path, {**current, **state, "bookmarks": bookmarks})


#: The target's last stderr line: per stream, records received, loaded and dead-lettered in the run.
SUMMARY = b"XLR8_TRUTHS_SUMMARY "


def _tail(
    stream: IO[bytes],
    sink: list[bytes],
    partial: list[bytes] | None = None,
    limit: int = 40,
    summary: list[bytes] | None = None,
) -> None:
    """Keep the last lines for the error message; collect every line that reports an early, state-safe stop, and
    the target's summary."""
    for line in stream:
        sink.append(line)
        del sink[:-limit]
        if partial is not None and any(marker.encode() in line for marker in PARTIAL_MARKERS):
            partial.append(line)
        if summary is not None and line.startswith(SUMMARY):
            summary.append(line[len(SUMMARY) :])


def _summary_figures(summary: list[bytes], part: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(stream, figures) of one part of the target's summary lines (``streams``, ``tables``); bad lines skipped."""
    for line in summary:
        try:
            entries = json.loads(line).get(part, {})
        except ValueError:
            continue
        for name, figures in entries.items():
            if isinstance(figures, dict):
                yield name, figures


def dead_lettered(summary: list[bytes]) -> dict[str, int]:
    """Per stream, the records the target's summary says went to ``_dead_letters`` (streams with none left out)."""
    counts: dict[str, int] = {}
    for name, figures in _summary_figures(summary, "streams"):
        if int(figures.get("dead_lettered") or 0):
            counts[name] = counts.get(name, 0) + int(figures["dead_lettered"])
    return counts


def table_rows(summary: list[bytes]) -> dict[str, dict[str, int]]:
    """Per stream, the table's ``rows`` (current) and ``deleted_rows`` (marked deleted) the target's summary gives."""
    return {
        name: {"rows": int(figures["rows"]), "deleted_rows": int(figures.get("deleted_rows") or 0)}
        for name, figures in _summary_figures(summary, "tables")
        if "rows" in figures
    }


def run_sync(
    settings: OrchestrationSettings,
    spec: SyncSpec,
    *,
    env: dict[str, str] | None = None,
    on_start: Any = None,
    tap_overrides: dict[str, Any] | None = None,
    state_in: Path | None = None,
    state_out: Path | None = None,
) -> SyncResult:
    """Run the sync while holding one of its tenant's slots; raise ``SyncFailedError`` on any non-zero exit.

    ``state_in``/``state_out`` default to the (project, product) state file; a partition reads the product's state
    and writes its own (``partitions.run_partitioned``). ``tap_overrides`` replace tap settings (objects, filters).
    """
    policy = settings.tenant_policy(spec.tenant)
    target_settings = target_config(settings, spec)
    with (
        staging_turn(target_settings),  # before the slot: a sync waiting its turn holds none of the tenant's
        tenant_slot(settings.lock_dir, spec.tenant, policy) as slot,
        tempfile.TemporaryDirectory() as tmp,
    ):
        work = Path(tmp)
        _write_json(work / "tap.json", {**tap_config(settings, spec), **(tap_overrides or {})})
        _write_json(work / "target.json", target_settings)
        tap_cmd = [executable(spec.tap.executable), "--config", str(work / "tap.json")]
        saved = state_out or state_path(settings, spec)
        resume_from = state_in or saved
        started = _load_json(resume_from)  # what the tap reads: a copy, so the file may move under it
        if resume_from.exists():
            _write_json(work / "state.json", started)
            tap_cmd += ["--state", str(work / "state.json")]
        process_env = {**os.environ, **settings.env, **(env or {})}
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=process_env, cwd=work)
        target = subprocess.Popen(
            [executable(TARGET), "--config", str(work / "target.json")],
            stdin=tap.stdout,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=process_env,
            cwd=work,
        )
        assert tap.stdout is not None
        assert tap.stderr is not None
        assert target.stdout is not None
        assert target.stderr is not None
        tap.stdout.close()  # the target owns the pipe now: a dead target gives the tap SIGPIPE
        tap_err: list[bytes] = []
        target_err: list[bytes] = []
        partial: list[bytes] = []
        summary: list[bytes] = []
        readers = [
            threading.Thread(target=_tail, args=(tap.stderr, tap_err, partial), daemon=True),
            threading.Thread(target=_tail, args=(target.stderr, target_err, None, 40, summary), daemon=True),
        ]
        for reader in readers:
            reader.start()
        if on_start is not None:
            on_start(tap, target)
        state: dict[str, Any] | None = None
        for line in target.stdout:
            try:
                message = json.loads(line)
            except ValueError:
                continue
            if isinstance(message, dict):  # a Singer target writes each committed state as one JSON line
                state = message.get("value") if message.get("type") == "STATE" else message
                if isinstance(state, dict):  # committed: safe to resume from even if this run fails later
                    if state_out is None:
                        commit_state(saved, state, started)
                    else:  # a partition's own file: no other writer
                        _write_json(saved, state)
        target_rc = target.wait()
        tap_rc = tap.wait()
        for reader in readers:
            reader.join(timeout=5)
        if tap_rc == EXIT_PARTIAL_RUN and target_rc == 0:  # the kit's partial-run exit: state safe, do not retry
            detail = b"".join((partial or tap_err)[-3:]).decode(errors="replace").strip()
            raise SyncFailedError(spec, tap_rc, target_rc, detail[-1500:], partial=True)
        if tap_rc != 0 or target_rc != 0:
            detail = b"".join(target_err[-5:] if target_rc else tap_err[-5:]).decode(errors="replace").strip()
            spent = tap_rc != 0 and any(REPORT_SPENT.encode() in line for line in tap_err)
            raise SyncFailedError(spec, tap_rc, target_rc, detail[-1500:], report_spent=spent)
        if partial:  # a tap that stops early and still exits 0 (allow_partial_run, or not on the kit)
            detail = b"".join(partial[-3:]).decode(errors="replace").strip()
            raise SyncFailedError(spec, tap_rc, target_rc, detail[-1500:], partial=True)
        letters = dead_lettered(summary)
        if letters:  # below the target's dead_letter_ceiling it exits 0; a read of N rows that landed fewer is not ok
            streams = ", ".join(f"{name}: {n}" for name, n in sorted(letters.items()))
            detail = (
                f"{sum(letters.values())} record(s) dead-lettered ({streams}); they are in the store's _dead_letters"
            )
            raise SyncFailedError(spec, tap_rc, target_rc, detail, dead_lettered=letters)
        return SyncResult(spec, state, tap_rc, target_rc, slot, table_rows(summary))
