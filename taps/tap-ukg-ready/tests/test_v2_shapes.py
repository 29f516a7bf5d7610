"""The v2 resources are read in the shapes UKG documents (audit25c F14, F15, F16), through the console script over
HTTP: the emulator serves those shapes, and an answer in another shape stops the run with an error naming the field
instead of landing its columns as nulls."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import Sandbox

from .conftest import ready_config
from .fake_ready import FakeReady, report_config

V2 = "/ta/rest/v2/companies/%7CACME"


def cli_sync(tmp: Path, config: dict[str, t.Any], streams: set[str]) -> tuple[int, list[dict[str, t.Any]], str]:
    """Discover, select ``streams``, sync: the exit code, the RECORD messages and stderr."""
    write_json(tmp / "config.json", config)
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp)
    assert found.returncode == 0, found.stderr
    write_json(tmp / "catalog.json", select_streams(json.loads(found.stdout), streams))
    synced = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json"], tmp)
    records = [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    return synced.returncode, records, synced.stderr


def fake_config(ready: FakeReady) -> dict[str, t.Any]:
    return {**report_config(ready.url), "reports": []}


def test_employees_land_their_documented_dates(tmp_path: Path, url: str, sandbox: Sandbox) -> None:
    """Before the mend the tap read flat ``hired_date``/``terminated_date``: every date null on UKG's shape."""
    rc, records, err = cli_sync(tmp_path, ready_config(url), {"employees"})
    assert rc == 0, err
    got = {r["record"]["employee_id"]: r["record"] for r in records}
    people = list(sandbox.ctx.company.employees())
    assert len(got) == len(people)
    for e in people:
        row = got[e.employee_id]
        assert row["hired_date"] == e.hire_date.isoformat()
        assert row["started_date"] == e.hire_date.isoformat()
        assert row["terminated_date"] == (e.termination_date.isoformat() if e.termination_date else None)
    assert any(r["terminated_date"] for r in got.values())
    assert not {"job", "location", "cost_center", "manager_employee_id", "primary_email"} & set(records[0]["record"])


def test_a_documented_field_missing_is_null_and_another_shape_is_a_named_error(
    tmp_path: Path, ready: FakeReady
) -> None:
    row = {"id": 7, "employee_id": "E7", "first_name": "Ann", "last_name": "Lee", "status": "Active"}
    ready.v2[V2 + "/employees"] = {"employees": [row], "_links": {}}
    rc, records, err = cli_sync(tmp_path, fake_config(ready), {"employees"})
    assert rc == 0, err
    assert records[0]["record"]["hired_date"] is None  # no ``dates``: documented, just absent
    for shape, named in (
        ({**row, "hired_date": "2020-01-02"}, "'hired_date' at the top of the row"),  # the old emulator's
        ({**row, "dates": "2020-01-02"}, "'dates' is str"),
    ):
        ready.v2[V2 + "/employees"] = {"employees": [shape], "_links": {}}
        rc, records, err = cli_sync(tmp_path, fake_config(ready), {"employees"})
        assert rc != 0
        assert named in err
        assert records == []
