"""A tap stopped by SIGTERM before it finished (an orchestrator's cancel, a pod stopped, a read stuck on the vendor)
exits 143, not 0: the SDK turned the signal into ``SystemExit(0)``, so the stopped run passed for a finished one.
Its last STATE covers only records it emitted: the rerun from it completes the read, no record lost. Checked through
the console scripts, as users run them, for two taps on the kit (``KitTap._handle_termination``)."""

from __future__ import annotations

import importlib.util
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from xlr8_kit.exits import EXIT_TERMINATED
from xlr8_kit.testing.singer_cli import BIN, Running, parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.emulator import SandboxContext
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import run_sandbox

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "Account"
STALL_SECONDS = 5.0  # every request once the first record is out: the tap is stuck until then
#: A stall far longer than a stopped tap may take to end: its requests in flight are given up, never awaited.
LONG_STALL_SECONDS = 40.0
#: A loose bound on SIGTERM to exit (a correctness property of termination, not a benchmark): the stalled answers
#: would take ``LONG_STALL_SECONDS``.
EXIT_WITHIN_SECONDS = 15.0

#: (product, stream, employees, emulator options, tap config overrides): many pages, so the read is stuck part way.
CASES = [
    ("salesforce", "Account", 300, {"counts": {"Account": 20_000}}, {"api_type": "rest", "batch_size": 200}),
    ("oracle_hcm", "workers", 5_000, {}, {"page_size": 20}),
]


def _ceiling(product: str) -> ModuleType:
    """The bench's per-product module, which knows each tap's config for its emulator (as the golden test uses)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.append(str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(
        f"termination_{product}", ROOT / "bench" / "ceilings" / f"{product}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stuck_then_terminated(
    tap: str, args: list[str], sandbox: Any, product: str, first: str = "RECORD", stall: float = STALL_SECONDS
) -> tuple[int, str, str, float]:
    """The tap's console script; once its first ``first`` message is out every request stalls ``stall`` seconds, and
    once its output has been still for a second it gets SIGTERM. Its exit code, stdout, stderr and the seconds from
    the signal to its exit."""
    run = Running([str(BIN / tap), *args])
    try:
        run.wait_for(lambda: any(line.startswith(f'{{"type":"{first}"') for line in run.out), f"a {first}")
        sandbox.faults.add(product, "*", FaultSpec("stall", seconds=stall, times=None))
        seen = -1
        while seen != len(run.out):  # the pages asked before the stall are emitted, then nothing moves
            seen = len(run.out)
            time.sleep(1.0)
        signalled = time.monotonic()
        code = run.end(signal.SIGTERM)
        took = time.monotonic() - signalled
    finally:
        run.close()
        sandbox.faults.clear(product)
    return code, "".join(run.out), "".join(run.err), took


def _keys(messages: list[dict[str, Any]], stream: str, key: str) -> list[Any]:
    return [m["record"][key] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


@pytest.mark.parametrize(("product", "stream", "scale", "options", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_e3_a_stuck_tap_ended_by_sigterm_exits_143_at_once_and_its_state_covers_only_what_it_emitted(
    product: str, stream: str, scale: int, options: dict[str, Any], overrides: dict[str, Any], tmp_path: Path
) -> None:
    """Stuck on requests read ahead (a window of pages in flight, a worker thread each), the stopped tap gives
    them up: it ends within seconds, not when the stalled answers come (it waited for them: 37.5 s of a 40 s stall,
    rel19), and emits none of their records nor a STATE covering them."""
    module = _ceiling(product)
    ctx = SandboxContext(company=Company(seed=42, scale=scale), options={product: options})
    with run_sandbox([product], ctx=ctx) as sandbox:
        config = {**module.tap_config(sandbox.url(product), sandbox.emulator(product).test_credentials(), stream),
                  **overrides}  # fmt: skip
        config_path = write_json(tmp_path / "tap.json", config)
        found = run_tap_cli(module.TAP, ["--config", config_path, "--discover"], tmp_path)
        assert found.returncode == 0, found.stderr[-2000:]
        catalog = select_streams(json.loads(found.stdout), [stream])
        entry = next(s for s in catalog["streams"] if s["tap_stream_id"] == stream)
        key = entry["key_properties"][0]
        catalog_path = write_json(tmp_path / "catalog.json", catalog)
        whole = run_tap_cli(module.TAP, ["--config", config_path, "--catalog", catalog_path], tmp_path)
        assert whole.returncode == 0, whole.stderr[-2000:]
        every = _keys(parse_singer_messages(whole.stdout), stream, key)

        code, stdout, stderr, took = _stuck_then_terminated(
            module.TAP, ["--config", config_path, "--catalog", catalog_path], sandbox, product, stall=LONG_STALL_SECONDS
        )
        assert code == EXIT_TERMINATED, stderr[-3000:]
        assert took < EXIT_WITHIN_SECONDS, f"exit took {took:.1f} s after SIGTERM"
        stopped = parse_singer_messages(stdout)  # every line whole
        first = _keys(stopped, stream, key)
        assert 0 < len(first) < len(every), "the run was stopped part way"
        assert stopped[-1]["type"] == "STATE"
        state = stopped[-1]["value"]
        bookmark = state["bookmarks"][stream]
        replication_key = bookmark["replication_key"]
        emitted = [m["record"][replication_key] for m in stopped if m["type"] == "RECORD"]
        assert bookmark["replication_key_value"] <= max(emitted)  # nothing past the last record out

        rerun = run_tap_cli(
            module.TAP,
            ["--config", config_path, "--catalog", catalog_path, "--state", write_json(tmp_path / "state.json", state)],
            tmp_path,
        )
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    rest = _keys(parse_singer_messages(rerun.stdout), stream, key)
    assert set(first) | set(rest) == set(every)  # resumed from the STATE of the stopped run, no record is missing
    assert len(rest) < len(every)  # and it did resume, not start again


def _batched_ids(messages: list[dict[str, Any]]) -> list[str]:
    """The ``Id`` of every record in the files the BATCH messages name."""
    ids = []
    for message in messages:
        if message["type"] == "BATCH":
            for uri in message["manifest"]:
                with open(uri.removeprefix("file://"), encoding="utf-8") as lines:
                    ids += [json.loads(line)["Id"] for line in lines if line.strip()]
    return ids


def test_e3_a_tap_writing_batch_files_ended_by_sigterm_adds_no_state_past_its_files(tmp_path: Path) -> None:
    """With BATCH output the state so far covers the records of the file still being written, never named in a
    BATCH message: the stopped tap adds no STATE (review 19d, High: its added STATE moved past 6,442 Accounts the
    target never saw, lost for good on the rerun). The rerun from the last STATE out completes the read."""
    module = _ceiling("salesforce")
    ctx = SandboxContext(company=Company(seed=42, scale=300), options={"salesforce": {"counts": {"Account": 30_000}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        config = {
            **module.tap_config(sandbox.url("salesforce"), sandbox.emulator("salesforce").test_credentials(), ACCOUNT),
            "api_type": "rest",
            "batch_size": 200,  # REST pages: many, so the read is stuck part way
            "batch_config": {
                "encoding": {"format": "jsonl", "compression": "none"},
                "storage": {"root": f"file://{tmp_path / 'batches'}"},
                "batch_size": 10_000,
            },
        }
        (tmp_path / "batches").mkdir()
        config_path = write_json(tmp_path / "tap.json", config)
        found = run_tap_cli(module.TAP, ["--config", config_path, "--discover"], tmp_path)
        assert found.returncode == 0, found.stderr[-2000:]
        catalog_path = write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), ["Account"]))
        args = ["--config", config_path, "--catalog", catalog_path]
        whole = run_tap_cli(module.TAP, args, tmp_path)
        assert whole.returncode == 0, whole.stderr[-2000:]
        every = _batched_ids(parse_singer_messages(whole.stdout))
        assert len(every) == 30_000

        code, stdout, stderr, _ = _stuck_then_terminated(module.TAP, args, sandbox, "salesforce", first="BATCH")
        assert code == EXIT_TERMINATED, stderr[-3000:]
        stopped = parse_singer_messages(stdout)
        landed = _batched_ids(stopped)
        assert 0 < len(landed) < len(every), "the run was stopped part way"
        states = [m["value"] for m in stopped if m["type"] == "STATE"]
        last_type = [m["type"] for m in stopped][-1]
        assert last_type in ("BATCH", "STATE")
        rerun = run_tap_cli(
            module.TAP, [*args, "--state", write_json(tmp_path / "state.json", states[-1] if states else {})], tmp_path
        )
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    rest = _batched_ids(parse_singer_messages(rerun.stdout))
    assert set(landed) | set(rest) == set(every)  # no record lost between the stopped run's files and the rerun


def _blocked_writing(pid: int, within: float = 60.0) -> None:
    """Wait until the process sleeps in a write to its full stdout pipe (the kernel's wait channel says so)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/wchan", encoding="ascii") as wchan:
            if "pipe_write" in wchan.read():
                return
        time.sleep(0.1)
    raise AssertionError(f"the tap never blocked writing to its stdout pipe within {within:.0f} s")


def test_e3_sigterm_while_the_tap_is_blocked_writing_to_a_full_pipe_ends_with_whole_lines(tmp_path: Path) -> None:
    """The usual state of a pipeline whose target is slower: the tap sleeps in a write to a full pipe. SIGTERM
    there is handled once the write returns, and that write is finished first (Python's buffered write returns a
    partial count when a signal interrupts it): before, the output ended in a torn line, or the held block went out
    twice (review 19d). Every line whole, no record twice, the STATE last and past no record written."""
    module = _ceiling("salesforce")
    ctx = SandboxContext(company=Company(seed=42, scale=300), options={"salesforce": {"counts": {"Account": 30_000}}})
    with run_sandbox(["salesforce"], ctx=ctx) as sandbox:
        config = {
            **module.tap_config(sandbox.url("salesforce"), sandbox.emulator("salesforce").test_credentials(), ACCOUNT),
            "api_type": "rest",
        }
        config_path = write_json(tmp_path / "tap.json", config)
        found = run_tap_cli(module.TAP, ["--config", config_path, "--discover"], tmp_path)
        assert found.returncode == 0, found.stderr[-2000:]
        catalog_path = write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), ["Account"]))
        with open(tmp_path / "stderr.txt", "wb") as err:
            proc = subprocess.Popen(
                [str(BIN / module.TAP), "--config", config_path, "--catalog", catalog_path],
                stdout=subprocess.PIPE,
                stderr=err,
            )
            try:
                _blocked_writing(proc.pid)  # nobody reads: the pipe is full long before the read ends
                proc.send_signal(signal.SIGTERM)
                out = proc.stdout.read() if proc.stdout else b""
                code = proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    lines = out.decode().splitlines()
    messages = [json.loads(line) for line in lines]  # every line whole
    assert code == EXIT_TERMINATED, (tmp_path / "stderr.txt").read_text()[-3000:]
    ids = _keys(messages, "Account", "Id")
    assert 0 < len(ids) < 30_000
    assert len(set(ids)) == len(ids)  # no record written twice
    assert messages[-1]["type"] == "STATE"
    bookmark = messages[-1]["value"]["bookmarks"]["Account"]
    emitted = [m["record"]["SystemModstamp"] for m in messages if m["type"] == "RECORD"]
    assert (bookmark.get("replication_key_value") or "") <= max(emitted)
