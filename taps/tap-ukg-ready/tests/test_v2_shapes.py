"""The v2 resources are read in the shapes UKG documents (audit25c F14, F15, F16), through the console script over
HTTP: the emulator serves those shapes, and an answer in another shape stops the run with an error naming the field
instead of landing its columns as nulls."""

from __future__ import annotations

import json
import re
import typing as t
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.platform.server import Sandbox
from xlr8_tap_ukg_ready.tap import TapUkgReady

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


def test_cost_centers_are_keyed_by_id_with_their_tree(tmp_path: Path, url: str, sandbox: Sandbox) -> None:
    """Before the mend: no ``tree_index`` (the emulator, like the API, refuses that) and keys read from ``code``."""
    rc, records, err = cli_sync(tmp_path, ready_config(url), {"cost_centers"})
    assert rc == 0, err
    centers = sandbox.ctx.company.cost_centers
    got = {r["record"]["external_id"]: r["record"] for r in records}
    assert sorted(got) == sorted(c.code for c in centers)
    for c in centers:
        assert got[c.code]["name"] == c.name
        assert got[c.code]["tree_index"] == 0
        assert isinstance(got[c.code]["id"], int)
        assert got[c.code]["parent_external_id"] == (c.parent if c.parent in got else None)


def test_every_tree_is_read_and_a_refused_tree_names_the_setting(tmp_path: Path, ready: FakeReady) -> None:
    trees = {
        "0": [{"id": 501, "name": "Head Office", "external_id": "HQ", "parent_id": None}],
        "3": [
            {"id": 801, "name": "Local 12", "external_id": "U12", "parent_id": None},
            {"id": 802, "name": "Local 12 East", "external_id": "U12E", "parent_id": 801},
        ],
    }
    ready.v2[V2 + "/config/cost-centers"] = lambda query: {"cost_centers": trees.get(query.get("tree_index"), [])}
    rc, records, err = cli_sync(tmp_path, fake_config(ready), {"cost_centers"})
    assert rc == 0, err
    asked = sorted(p.partition("tree_index=")[2] for p in ready.asked if "cost-centers" in p)
    assert asked == [str(i) for i in range(9)]
    rows = sorted((r["record"]["tree_index"], r["record"]["id"], r["record"]["parent_external_id"]) for r in records)
    assert rows == [(0, 501, None), (3, 801, None), (3, 802, "U12")]

    def refusing(query: dict[str, str]) -> t.Any:
        if query.get("tree_index") == "5":
            return 400, {"errors": [{"code": 4000, "message": "Invalid tree index"}]}
        return {"cost_centers": trees.get(query.get("tree_index"), [])}

    ready.v2[V2 + "/config/cost-centers"] = refusing
    rc, records, err = cli_sync(tmp_path, fake_config(ready), {"cost_centers"})
    assert rc != 0
    assert "cost_center_trees" in err
    config = {**fake_config(ready), "cost_center_trees": [0, 3]}
    rc, records, err = cli_sync(tmp_path, config, {"cost_centers"})
    assert rc == 0, err
    assert len(records) == 3


def test_pay_info_lands_its_objects_and_the_parents_employee_id(tmp_path: Path, url: str, sandbox: Sandbox) -> None:
    """Before the mend ``pay_type`` was an object in a string column and ``employee_id`` null (not in the answer)."""
    rc, records, err = cli_sync(tmp_path, ready_config(url), {"employees", "employee_pay_info"})
    assert rc == 0, err
    pay = [r["record"] for r in records if r["stream"] == "employee_pay_info"]
    people = {e.employee_id: e for e in sandbox.ctx.company.employees()}
    assert sorted(r["employee_id"] for r in pay) == sorted(people)
    for row in pay:
        assert row["pay_type_name"] == ("Salary" if people[row["employee_id"]].full_time else "Hourly")
        assert isinstance(row["pay_type_id"], int)
        assert isinstance(row["default_job_id"], int)
        assert "pay_type" not in row


def test_pay_info_in_another_shape_is_a_named_error(tmp_path: Path, ready: FakeReady) -> None:
    row = {"id": 7, "employee_id": "E7", "first_name": "Ann", "last_name": "Lee", "status": "Active"}
    ready.v2[V2 + "/employees"] = {"employees": [row], "_links": {}}
    ready.v2[V2 + "/employees/7/pay-info"] = {"pay_type": "SALARY", "annual_salary": 1}
    rc, records, err = cli_sync(tmp_path, fake_config(ready), {"employees", "employee_pay_info"})
    assert rc != 0
    assert "'pay_type' is str" in err
    assert not [r for r in records if r["stream"] == "employee_pay_info"]


def test_pay_types_and_jobs_come_from_the_paths_ready_serves(tmp_path: Path, url: str, sandbox: Sandbox) -> None:
    """Before, the tap read ``config/pay-types`` and ``config/job-titles``, which Ready does not serve (a public Ready
    client reads v1 ``company/pay-types`` and v2 ``lookup/jobs``): the run stopped on a 404."""
    rc, records, err = cli_sync(tmp_path, ready_config(url), {"pay_types", "job_titles"})
    assert rc == 0, err
    company = sandbox.ctx.company
    by_stream: dict[str, list[dict[str, t.Any]]] = {}
    for message in records:
        by_stream.setdefault(message["stream"], []).append(message["record"])
    assert [(r["code"], r["name"]) for r in by_stream["pay_types"]] == [(c.code, c.name) for c in company.earning_codes]
    assert [(r["code"], r["name"]) for r in by_stream["job_titles"]] == [(j.code, j.name) for j in company.jobs]
    assert [r["id"] for r in by_stream["job_titles"]] == list(range(900, 900 + len(company.jobs)))  # pay info's ids


def test_pay_types_and_jobs_are_keyed_by_the_id_ready_confirms(tmp_path: Path, ready: FakeReady) -> None:
    """review26a L9: keyed by ``code``, which no public source shows on these answers, a tenant whose items carry no
    ``code`` landed every row with a null key (dead-lettered or merged into one by a target). Keyed by ``id``, the
    field pay info names, every row lands with its own key."""
    ready.v2["/ta/rest/v1/company/pay-types"] = {"pay_types": [{"id": 11, "name": "Regular"}, {"id": 12, "name": "OT"}]}
    ready.v2[V2 + "/lookup/jobs"] = {"items": [{"id": 900, "name": "Cook"}, {"id": 901, "name": "Server"}]}
    config = fake_config(ready)
    write_json(tmp_path / "config.json", config)
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    write_json(tmp_path / "catalog.json", select_streams(json.loads(found.stdout), {"pay_types", "job_titles"}))
    synced = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--catalog", "catalog.json"], tmp_path)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    keys = {m["stream"]: m["key_properties"] for m in messages if m["type"] == "SCHEMA"}
    assert keys == {"pay_types": ["id"], "job_titles": ["id"]}
    rows = [(m["stream"], m["record"]["id"]) for m in messages if m["type"] == "RECORD"]
    assert sorted(rows) == [("job_titles", 900), ("job_titles", 901), ("pay_types", 11), ("pay_types", 12)]


def test_employee_details_restore_email_manager_and_cost_center(tmp_path: Path, url: str, sandbox: Sandbox) -> None:
    """The documented list item has no e-mail, manager or cost center; each employee's full record
    (``GET .../employees/{id}``: ``primary_email``, ``managers[].empl_ref.account_id``,
    ``cost_centers_info.defaults[].value.id``) has. With ``employee_details`` the employees stream reads it: before,
    the setting was refused and the columns were gone."""
    config = ready_config(url, employee_details=True, cost_center_trees=[0, 1])
    before = len(sandbox.requests("ukg_ready"))
    rc, records, err = cli_sync(tmp_path, config, {"employees"})
    assert rc == 0, err
    read = [r.path for r in sandbox.requests("ukg_ready")[before:] if re.search(r"/employees/[^/]+$", r.path)]
    assert len(read) == len(set(read)) == len(records)  # each record read once (review26a L8)
    company = sandbox.ctx.company
    centers = {c.code: 500 + i for i, c in enumerate(company.cost_centers)}
    got = {r["record"]["employee_id"]: r["record"] for r in records}
    people = list(company.employees())
    assert len(got) == len(people)
    for e in people:
        row = got[e.employee_id]
        assert row["primary_email"] == e.email
        assert row["manager_employee_id"] == e.manager_id
        assert row["manager_account_id"] == (100_000 + int(e.manager_id[1:]) - 1 if e.manager_id else None)
        assert row["cost_center_0_id"] == centers[e.cost_center]
        assert row["cost_center_1_id"] is None  # this tenant uses one tree
    assert any(e.manager_id for e in people)
    annotation = TapUkgReady(config=config, parse_env_config=False).streams["employees"].xlr8_annotation
    assert annotation is not None
    assert annotation["references"]["manager_employee_id"]["entity"] == "employee"


def test_employee_details_off_keeps_one_call_per_page(tmp_path: Path, url: str, sandbox: Sandbox) -> None:
    """With the setting off no employee's own record is read (review26a L12: counted, not inferred from columns)."""
    before = len(sandbox.requests("ukg_ready"))
    rc, records, err = cli_sync(tmp_path, ready_config(url), {"employees"})
    assert rc == 0, err
    asked = [r.path for r in sandbox.requests("ukg_ready")[before:]]
    assert [p for p in asked if p.rstrip("/").endswith("/employees")]  # the list was read, and logged
    assert not [p for p in asked if re.search(r"/employees/[^/]+$", p)]
    assert "primary_email" not in records[0]["record"]
    annotation = TapUkgReady(config=ready_config(url), parse_env_config=False).streams["employees"].xlr8_annotation
    assert annotation is not None
    assert "manager_employee_id" not in annotation["references"]


def test_employee_details_in_another_shape_stop_naming_the_field(tmp_path: Path, ready: FakeReady) -> None:
    ready.v2[V2 + "/employees"] = {"employees": [{"id": 7, "employee_id": "E1", "dates": {}}], "_links": {}}
    ready.v2[V2 + "/employees/7"] = {"id": 7, "employee_id": "E1", "managers": "E2"}
    rc, records, err = cli_sync(tmp_path, {**fake_config(ready), "employee_details": True}, {"employees"})
    assert rc != 0
    assert "'managers'" in err
    assert "list of objects" in err
    assert records == []


def test_employee_details_manager_record_not_readable_lands_the_employees(tmp_path: Path, ready: FakeReady) -> None:
    """review26a M3: a manager the API user cannot read (another company, outside its security group, or deleted
    since the list) answered 403/404 and the whole employees stream landed nothing, on every run. Now each employee
    lands with the columns that could be read (``manager_account_id`` kept, ``manager_employee_id`` null), the
    unreadable manager is named by id in a warning that names the setting, read once, and the run succeeds."""
    rows = [{"id": 7, "employee_id": "E1", "dates": {}}, {"id": 8, "employee_id": "E2", "dates": {}}]
    ready.v2[V2 + "/employees"] = {"employees": rows, "_links": {}}
    for row in rows:
        ready.v2[V2 + f"/employees/{row['id']}"] = {
            **row,
            "primary_email": f"{row['employee_id']}@x.test",
            "managers": [{"index": 0, "empl_ref": {"account_id": 99}}],
        }
    ready.v2[V2 + "/employees/99"] = (403, {"errors": [{"code": 4030, "message": "Access denied"}]})
    rc, records, err = cli_sync(tmp_path, {**fake_config(ready), "employee_details": True}, {"employees"})
    assert rc == 0, err
    got = {r["record"]["employee_id"]: r["record"] for r in records}
    assert set(got) == {"E1", "E2"}
    for employee_id, row in got.items():
        assert row["primary_email"] == f"{employee_id}@x.test"
        assert row["manager_account_id"] == 99
        assert row["manager_employee_id"] is None
    warned = [line for line in err.splitlines() if "manager account 99" in line]
    assert len(warned) == 1, err[-2000:]  # once per manager, not per employee
    assert "employee_details" in warned[0]
    assert "403" in warned[0]
    assert sum(path.split("?")[0] == V2 + "/employees/99" for path in ready.asked) == 1


def test_employee_details_own_record_not_readable_stops_naming_the_setting(tmp_path: Path, ready: FakeReady) -> None:
    """An employee's own record that cannot be read would land the row without its details: that stops the run,
    and the error names ``employee_details`` (the setting that made the call)."""
    ready.v2[V2 + "/employees"] = {"employees": [{"id": 7, "employee_id": "E1", "dates": {}}], "_links": {}}
    ready.v2[V2 + "/employees/7"] = (403, {"errors": [{"code": 4030, "message": "Access denied"}]})
    rc, records, err = cli_sync(tmp_path, {**fake_config(ready), "employee_details": True}, {"employees"})
    assert rc != 0
    assert records == []
    assert "employee_details" in err
    assert "/employees/7" in err


def test_employee_details_manager_listed_later_is_read_once(tmp_path: Path, ready: FakeReady) -> None:
    """review26a L8: a manager listed on a later page was read through their own record for the employee they manage,
    then again for their own row: one call too many per such manager against the rate limit. Now read once."""
    first = {"id": 7, "employee_id": "E1", "dates": {}}
    second = {"id": 8, "employee_id": "E2", "dates": {}}
    pages = {
        "1": {"employees": [first], "_links": {"next": {"href": f"{ready.url}{V2}/employees?page=2&size=1"}}},
        "2": {"employees": [second], "_links": {}},
    }
    ready.v2[V2 + "/employees"] = lambda query: pages[query.get("page", "1")]
    ready.v2[V2 + "/employees/7"] = {**first, "managers": [{"index": 0, "empl_ref": {"account_id": 8}}]}
    ready.v2[V2 + "/employees/8"] = {**second, "primary_email": "boss@x.test"}
    rc, records, err = cli_sync(tmp_path, {**fake_config(ready), "employee_details": True}, {"employees"})
    assert rc == 0, err
    got = {r["record"]["employee_id"]: r["record"] for r in records}
    assert got["E1"]["manager_employee_id"] == "E2"
    assert got["E2"]["primary_email"] == "boss@x.test"
    assert sum(path.split("?")[0] == V2 + "/employees/8" for path in ready.asked) == 1


def test_employee_details_not_a_boolean_is_refused_naming_it(tmp_path: Path, url: str) -> None:
    write_json(tmp_path / "config.json", ready_config(url, employee_details="yes"))
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp_path)
    assert found.returncode != 0
    assert "employee_details" in found.stderr


def test_shape_errors_name_the_field_and_quote_no_vendor_value(tmp_path: Path, ready: FakeReady) -> None:
    """review26a L7: an answer in another shape stops naming the field and what kind of value it holds, never the
    value itself (an e-mail, a name, an account id is personal data; errors reach logs unredacted)."""
    secret = "ann.lee@private.example"
    row = {"id": 7, "employee_id": "E1", "dates": {}}
    cases: list[tuple[dict[str, t.Any], t.Any, str]] = [
        (row, {**row, "managers": secret}, "'managers' is a string"),
        (row, {**row, "managers": {secret: 1}}, "'managers' is an object with 1 key(s)"),  # nor its keys (L6)
        (row, {**row, "managers": [{"index": 0, "empl_ref": secret}]}, "'managers[].empl_ref' is a string"),
        (row, {**row, "cost_centers_info": secret}, "'cost_centers_info' is a string"),
        (row, {**row, "cost_centers_info": {"defaults": [secret]}}, "'cost_centers_info.defaults' item is a string"),
        (row, [secret], "the record is a list"),
        ({**row, "dates": secret}, None, "'dates' is str"),
    ]
    for listed, record, named in cases:
        ready.v2[V2 + "/employees"] = {"employees": [listed], "_links": {}}
        ready.v2[V2 + "/employees/7"] = record if record is not None else {**row, "primary_email": "x@y.example"}
        rc, records, err = cli_sync(tmp_path, {**fake_config(ready), "employee_details": True}, {"employees"})
        assert rc != 0
        assert named in err, err
        assert secret not in err
        assert records == []


def test_a_list_answered_without_its_wrapper_key_stops_the_stream_naming_it(tmp_path: Path, ready: FakeReady) -> None:
    """Before, a 200 without ``employees`` (a gateway's page, a changed shape) landed 0 rows and exited 0: a silent
    loss. The wrapper with an empty list is still 0 rows, exit 0."""
    ready.v2[V2 + "/employees"] = {"employees": [], "_links": {}}
    rc, records, err = cli_sync(tmp_path, fake_config(ready), {"employees"})
    assert rc == 0, err
    assert records == []
    person = {"first_name": "Secret-Ann", "last_name": "Secret-Lee", "employee_id": "Secret-E7"}
    for answer, named in (
        ({"_links": {}}, "the answer has no 'employees'"),
        ({"employees": person, "_links": {}}, "'employees' is an object with 3 key(s)"),
        ({"employees": "Secret-Lee"}, "'employees' is a string"),
        ([person], "the answer is a list, not an object"),
    ):
        ready.v2[V2 + "/employees"] = answer
        rc, records, err = cli_sync(tmp_path, fake_config(ready), {"employees"})
        assert rc != 0, answer
        assert named in err
        assert "ukg_ready stream 'employees' (/ta/rest/v2/companies/%7CACME/employees)" in err
        assert "Secret" not in err
        assert records == []
    ready.v2["/ta/rest/v1/company/pay-types"] = {"items": [{"id": 1, "code": "REG", "name": "Regular"}]}
    rc, records, err = cli_sync(tmp_path, fake_config(ready), {"pay_types"})
    assert rc != 0
    assert "ukg_ready stream 'pay_types' (/ta/rest/v1/company/pay-types): the answer has no 'pay_types'" in err
    assert records == []
