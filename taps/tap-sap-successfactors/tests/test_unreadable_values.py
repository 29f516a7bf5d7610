"""A value that is not its Edm type's wire form stops the stream naming the property and the type, never the value
(loose25: the kit's OData decoder put the parser's text, which quotes the value, into the error, so a birth date
reached the ERROR log). Through the real console script against the emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import discover_selecting, parse_singer_messages, run_tap_cli
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.successfactors import SuccessFactorsEmulator

from .conftest import basic_config


@pytest.mark.parametrize(
    ("field", "canary", "edm"),
    [
        ("dateOfBirth", "CANARY-1980-02-30T00:00:00-5e1c", "Edm.DateTime"),
        ("dateOfBirth", "/Date(CANARY-3e7b)/", "Edm.DateTime"),
        ("lastModifiedDateTime", "CANARY-2026-13-01-a92f", "Edm.DateTimeOffset"),
    ],
)
def test_an_unreadable_value_names_property_and_type_never_the_value(
    url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator, tmp_path: Path, field: str, canary: str, edm: str
) -> None:
    tap = "tap-sap-successfactors"
    config, catalog_file = discover_selecting(
        tap, basic_config(url, entity_sets=["PerPerson"]), {"PerPerson"}, tmp_path
    )
    (stream,) = [s for s in json.loads(Path(catalog_file).read_text())["streams"] if s["tap_stream_id"] == "PerPerson"]
    assert stream["schema"]["properties"][field].get("format") == "date-time"
    good = {"personIdExternal": "P1", "dateOfBirth": "/Date(315532800000)/",
            "lastModifiedDateTime": "/Date(1767571200000+0000)/"}  # fmt: skip
    body = json.dumps({"d": {"results": [good, {**good, "personIdExternal": "P2", field: canary}]}})
    sandbox.faults.add("successfactors", "/odata/v2/PerPerson", FaultSpec("status", status=200, body=body))
    synced = run_tap_cli(tap, ["--config", config, "--catalog", catalog_file], tmp_path)
    assert synced.returncode != 0
    assert "CANARY" not in synced.stderr + synced.stdout
    assert f"{field}: cannot read {edm} value" in synced.stderr
    records = [m["record"] for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    assert "P2" not in {r["personIdExternal"] for r in records}
