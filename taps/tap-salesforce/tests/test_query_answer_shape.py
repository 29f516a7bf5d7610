"""A REST query page answered 200 without its ``records`` list stops the stream naming the query's object and
endpoint, never a value (Salesforce documents ``records`` on every query answer, ``[]`` when none). Before, the
page read as no rows and, without ``done``, as the last page: the rest of the object was lost with exit 0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"totalSize": 500, "done": True}, "the answer has no 'records'"),
        ({"totalSize": 500, "done": True, "records": {"Name": "Secret Corp"}}, "'records' is an object with 1 key"),
    ],
)
@pytest.mark.parametrize("written_only", [True, False])
def test_a_query_page_without_its_records_stops_the_stream(
    sf: Any, tmp_path: Path, answer: dict[str, Any], named: str, written_only: bool
) -> None:
    with sf.start_sandbox({"Account": 500}) as sandbox:
        sandbox.faults.add(
            "salesforce", "/services/data/*/queryAll/*", FaultSpec("status", status=200, body=json.dumps(answer))
        )
        config = sf.password_config(
            sandbox, objects=["Account"], api_type="rest", batch_size=200, rest_concurrent_queries=1
        )
        args = ["--config", write_json(tmp_path / "config.json", config)]
        if not written_only:  # a stream map: the records are read as dicts, not the writer's structs
            config["stream_maps"] = {"Account": {"name_upper": "Name.upper() if Name else None"}}
            args = ["--config", write_json(tmp_path / "config.json", config)]
        result = run_tap_cli("tap-salesforce", args, tmp_path)
    assert result.returncode != 0
    assert named in result.stderr
    assert "salesforce query of Account (/services/data/" in result.stderr
    assert "its bookmark does not move past the rows that landed before this answer" in result.stderr
    assert "Secret" not in result.stderr
    records = [m["record"] for m in parse_singer_messages(result.stdout) if m["type"] == "RECORD"]
    assert len(records) == 200  # the first page, not the 500


NEXT = "/services/data/v60.0/queryAll/01gSECRET-400"
STAMP = "2099-01-01T00:00:00.000+0000"
ROWS = [
    {"attributes": {"type": "Account"}, "Id": f"001{i:015d}", "Name": "Secret Corp", "SystemModstamp": STAMP}
    for i in range(3)
]


@pytest.mark.parametrize(
    ("envelope", "named"),
    [
        ({"nextRecordsUrl": NEXT}, "the answer has no 'done'"),
        ({"done": "false", "nextRecordsUrl": NEXT}, "a 'done' that is a string, not a boolean"),
        ({"done": None, "nextRecordsUrl": NEXT}, "a 'done' that is null, not a boolean"),
        ({"done": False}, "'done' false and no 'nextRecordsUrl'"),
        ({"done": False, "nextRecordsUrl": ""}, "'done' false and an empty string as its 'nextRecordsUrl'"),
    ],
)
def test_a_query_page_without_a_boolean_done_stops_the_stream(
    sf: Any, tmp_path: Path, envelope: dict[str, Any], named: str
) -> None:
    """A page with its records but no boolean ``done`` (or ``done`` false and no ``nextRecordsUrl``) cannot say
    whether pages follow (review28e L2). Before, it read as the last page: exit 0, the 300 rows after page 2 lost."""
    answer = {"totalSize": 500, **envelope, "records": ROWS}
    with sf.start_sandbox({"Account": 500}) as sandbox:
        sandbox.faults.add(
            "salesforce", "/services/data/*/queryAll/*", FaultSpec("status", status=200, body=json.dumps(answer))
        )
        config = sf.password_config(
            sandbox, objects=["Account"], api_type="rest", batch_size=200, rest_concurrent_queries=1
        )
        result = run_tap_cli("tap-salesforce", ["--config", write_json(tmp_path / "config.json", config)], tmp_path)
    assert result.returncode != 0, result.stderr[-2000:]
    assert named in result.stderr
    assert "salesforce query of Account (/services/data/" in result.stderr
    assert "Secret" not in result.stderr
    messages = parse_singer_messages(result.stdout)
    assert len([m for m in messages if m["type"] == "RECORD"]) == 200  # page 1; the page after it is not taken
    assert STAMP[:4] not in json.dumps([m for m in messages if m["type"] == "STATE"])  # nor its bookmark
