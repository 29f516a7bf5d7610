"""A setup list answered 200 in another shape (a gateway's JSON page, a changed shape) stops the stream naming it and
its path, never a value, through the CLI against the emulator: before, an object answer read as no rows (or its keys
as rows) and a hyperfind answer without ``hyperfindQueries`` as none, exit 0. An empty list is still no rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import discover_selecting, parse_singer_messages, run_tap_cli
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox

from .conftest import wfm_config

PAY_CODES = "/api/v1/timekeeping/setup/pay_codes"
HYPERFINDS = "/api/v1/commons/hyperfind/public"


@pytest.mark.parametrize(
    ("stream", "path", "answer", "named"),
    [
        ("pay_codes", PAY_CODES, {}, "the answer is an object with 0 key(s)"),
        ("pay_codes", PAY_CODES, {"payCodes": [{"name": "Secret-Regular"}]}, "the answer is an object with 1 key"),
        ("hyperfinds", HYPERFINDS, {"queries": [{"name": "Secret-All"}]}, "the answer has no 'hyperfindQueries'"),
        ("hyperfinds", HYPERFINDS, {"hyperfindQueries": "Secret-All"}, "'hyperfindQueries' is a string"),
    ],
)
def test_a_setup_list_in_another_shape_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path, stream: str, path: str, answer: object, named: str
) -> None:
    config, catalog = discover_selecting("tap-ukg-wfm", wfm_config(url), {stream}, tmp_path)
    sandbox.faults.add("ukg_wfm", path, FaultSpec("status", status=200, body=json.dumps(answer)))
    synced = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode != 0
    assert f"ukg_wfm stream {stream!r} ({path}): {named}" in synced.stderr
    assert "Secret" not in synced.stderr
    assert [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"] == []


@pytest.mark.parametrize(
    ("stream", "path", "answer"), [("pay_codes", PAY_CODES, []), ("hyperfinds", HYPERFINDS, {"hyperfindQueries": []})]
)
def test_an_empty_setup_list_is_no_rows(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path, stream: str, path: str, answer: object
) -> None:
    config, catalog = discover_selecting("tap-ukg-wfm", wfm_config(url), {stream}, tmp_path)
    sandbox.faults.add("ukg_wfm", path, FaultSpec("status", status=200, body=json.dumps(answer)))
    synced = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"] == []


SCHEDULES = "/api/v1/scheduling/schedule/multi_read"
DATA = "/api/v1/commons/data/multi_read"


@pytest.mark.parametrize(
    ("stream", "path", "answer", "named"),
    [
        ("schedules", SCHEDULES, {}, f"ukg_wfm stream 'schedules' ({SCHEDULES}): the answer has no 'shifts'"),
        ("schedules", SCHEDULES, {"shifts": "Secret"}, "'shifts' is a string"),
        (
            "accruals",
            DATA,
            {"data": {}, "metadata": {}},
            f"ukg_wfm stream 'accruals' ({DATA}, data): the answer has no 'children'",
        ),
        ("accruals", DATA, {"metadata": {}}, "the answer is null, not an object"),
    ],
)
def test_a_time_answer_without_its_list_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path, stream: str, path: str, answer: object, named: str
) -> None:
    """The carried item of review28i: a schedule answer without ``shifts`` and an accruals page without
    ``data.children`` were read as no rows (exit 0, the bookmark moved past days that never landed). Now they stop
    the stream naming the key (``AnswerShapeError``), no STATE, no record."""
    config, catalog = discover_selecting("tap-ukg-wfm", wfm_config(url), {stream}, tmp_path)
    sandbox.faults.add("ukg_wfm", path, FaultSpec("status", status=200, body=json.dumps(answer)))
    synced = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode != 0
    assert named in synced.stderr
    assert "Secret" not in synced.stderr
    sent = parse_singer_messages(synced.stdout)
    assert [m for m in sent if m["type"] in {"RECORD", "STATE"}] == []
