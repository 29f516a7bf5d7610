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
    assert "Secret" not in result.stderr
    records = [m["record"] for m in parse_singer_messages(result.stdout) if m["type"] == "RECORD"]
    assert len(records) == 200  # the first page, not the 500
