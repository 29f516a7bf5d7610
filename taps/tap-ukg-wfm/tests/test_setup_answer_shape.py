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
from .test_dayless_rows import _marks
from .test_vendor_shapes import _land

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
        ("schedules", SCHEDULES, [], f"ukg_wfm stream 'schedules' ({SCHEDULES}): the answer is a list"),
        ("schedules", SCHEDULES, {"shifts": "Secret"}, "'shifts' is a string"),
        ("schedules", SCHEDULES, {"shifts": "Secret"}, "deselect stream 'schedules' to read the others"),
        (
            "accruals",
            DATA,
            {"data": {}, "metadata": {}},
            f"ukg_wfm stream 'accruals' ({DATA}, data): the answer has no 'children'",
        ),
        ("accruals", DATA, {"metadata": {}}, f"ukg_wfm stream 'accruals' ({DATA}): the answer has no 'data'"),
        ("accruals", DATA, {"data": "Secret"}, "the answer has 'data' as a string"),
    ],
)
def test_a_time_answer_without_its_list_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path, stream: str, path: str, answer: object, named: str
) -> None:
    """The carried item of review28i: a schedule answer that is no object or has no list under ``shifts`` and an
    accruals page without ``data.children`` were read as no rows (exit 0, the bookmark moved past days that never
    landed). Now they stop the stream naming the key (``AnswerShapeError``; review29g L2: the missing ``data`` key
    named, not "the answer is null"), no STATE, no record."""
    config, catalog = discover_selecting("tap-ukg-wfm", wfm_config(url), {stream}, tmp_path)
    sandbox.faults.add("ukg_wfm", path, FaultSpec("status", status=200, body=json.dumps(answer)))
    synced = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode != 0
    assert named in synced.stderr
    assert "Secret" not in synced.stderr
    sent = parse_singer_messages(synced.stdout)
    assert [m for m in sent if m["type"] in {"RECORD", "STATE"}] == []


def test_a_schedule_answer_without_shifts_is_no_shifts_and_marks_nothing(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path
) -> None:
    """review29g M2: whether UKG leaves out an empty ``shifts`` list is not documented; as a timecard without its
    list (``_carded``), an object answer without ``shifts`` is read as no shifts: exit 0, no record, and it
    announces nobody, so the shifts a first run landed are not marked deleted by the second."""
    truths = tmp_path / "truths.duckdb"
    settings = {"start_date": "2025-12-22", "end_date": "2025-12-23"}
    config, catalog = discover_selecting("tap-ukg-wfm", wfm_config(url, **settings), {"schedules"}, tmp_path)
    first = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    landed = [m for m in parse_singer_messages(first.stdout) if m["type"] == "RECORD" and m["stream"] == "schedules"]
    assert landed
    _land(first.stdout, truths, tmp_path)
    sandbox.faults.add("ukg_wfm", SCHEDULES, FaultSpec("status", status=200, body=json.dumps({"metadata": {}})))
    second = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    assert [
        m for m in parse_singer_messages(second.stdout) if m["type"] == "RECORD" and m["stream"] == "schedules"
    ] == []
    _land(second.stdout, truths, tmp_path)
    assert _marks(truths, "schedules") == (len({m["record"]["shiftId"] for m in landed}), 0)
