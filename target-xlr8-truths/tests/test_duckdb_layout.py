"""What lands in the DuckDB store: the engine's layout, rows, profiles, mappings, ledger and read_truths."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from truths_testkit import P8, PROJECT, PROJECT_LOWER, annotation, query, record_msg, run_target, schema_msg, state_msg

from target_xlr8_truths import read_truths

DEPT_PROPS = {"Code": {"type": "string"}, "Name": {"type": ["null", "string"]}, "Status": {"type": ["null", "string"]}}
EMP_PROPS = {
    "EmployeeId": {"type": "string"},
    "FirstName": {"type": ["null", "string"]},
    "DepartmentCode": {"type": ["null", "string"]},
    "Bonus": {"type": ["null", "number"]},
    "HiredAt": {"type": ["null", "string"], "format": "date-time"},
    "Address": {"type": ["null", "object"], "properties": {"city": {"type": ["null", "string"]}}},
    "Tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "Active": {"type": ["null", "boolean"]},
}


def department_messages(codes: list[str], name: str = "Dept ") -> list[dict[str, Any]]:
    """The hub stream: a configuration stream whose key ``Code`` is its hub column."""
    return [
        schema_msg(
            "departments",
            DEPT_PROPS,
            ["Code"],
            annotation("workday", "departments", "department", "configuration", ["Code"], hub="Code"),
        ),
        *[record_msg("departments", {"Code": c, "Name": f"{name}{c}", "Status": "active"}) for c in codes],
    ]


def hr_messages() -> list[dict[str, Any]]:
    messages = [
        *department_messages(["D1", "D2", "D3"]),
        schema_msg(
            "employees",
            EMP_PROPS,
            ["EmployeeId"],
            annotation(
                "workday",
                "employees",
                "employee",
                "reality",
                ["EmployeeId"],
                references={"DepartmentCode": "department"},
            ),
        ),
    ]
    for i in range(20):
        messages.append(
            record_msg(
                "employees",
                {
                    "EmployeeId": f"E{i:03d}",
                    "FirstName": f"Name{i}",
                    "DepartmentCode": "D9" if i == 19 else ["D1", "D2"][i % 2],
                    "Bonus": Decimal("12345678901234567.123456789") if i == 0 else Decimal(f"{50000 + i}.25"),
                    "HiredAt": "2024-03-01T09:30:00+02:00",
                    "Address": {"city": "Lyon"},
                    "Tags": ["a", "b"],
                    "Active": i % 3 != 0,
                },
                time_extracted="2026-01-01T00:00:00+00:00",
            )
        )
    messages.append(state_msg({"bookmarks": {"employees": {"n": 20}}}))
    return messages


def _dump(messages: list[dict[str, Any]]) -> str:
    """Decimals reach the target as JSON numbers with every digit intact."""
    return "".join(_encode(m) + "\n" for m in messages)


def _encode(value: Any) -> str:
    import simplejson

    return simplejson.dumps(value, use_decimal=True)


def test_engine_layout_rows_and_metadata(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    run = run_target(config, _dump(hr_messages()), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"bookmarks": {"employees": {"n": 20}}}]
    tables = {r[0] for r in query(store, "SHOW TABLES")}
    assert {f"{P8}_workday_departments", f"{P8}_workday_employees", "_schema_metadata", "_column_profiles",
            "_column_mappings", "_truths_ledger", "_dead_letters"} <= tables  # fmt: skip

    emp = f"{P8}_workday_employees"
    rows = query(store, f'SELECT employee_id, bonus, hired_at, address, tags, active FROM "{emp}" ORDER BY 1')
    assert len(rows) == 20
    assert rows[0][1] == Decimal("12345678901234567.123456789")  # exact, never a float
    assert rows[1][1] == Decimal("50001.25")
    assert rows[0][2].isoformat() == "2024-03-01T07:30:00+00:00"  # timestamptz, normalised to UTC
    assert json.loads(rows[0][3]) == {"city": "Lyon"}
    assert json.loads(rows[0][4]) == ["a", "b"]
    types = dict(
        query(store, "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?", [emp])
    )
    assert types["bonus"] == "DECIMAL(38,9)"
    assert types["hired_at"] == "TIMESTAMP WITH TIME ZONE"
    assert types["address"] == "JSON"

    meta = query(
        store,
        "SELECT id, project, file_name, sheet_name, entity_type, category, columns, column_count, row_count, "
        "likely_keys, truth_type, uploaded_by, version, is_current FROM _schema_metadata ORDER BY table_name",
    )
    assert [m[2] for m in meta] == ["workday:departments", "workday:employees"]
    dept, emp_meta = meta
    assert dept[1] == PROJECT_LOWER
    assert emp_meta[1] == PROJECT_LOWER
    assert dept[4] == "department"
    assert emp_meta[4] == "employee"
    assert (dept[3], dept[5], dept[10], dept[11]) == ("data", "api", "configuration", "target-xlr8-truths")
    assert emp_meta[10] == "reality"
    assert emp_meta[8] == 20
    assert dept[8] == 3
    columns = json.loads(emp_meta[6])
    assert {"name": "bonus", "type": "DECIMAL(38,9)"} in columns
    assert emp_meta[7] == len(columns)
    assert json.loads(emp_meta[9]) == ["employee_id"]
    assert (emp_meta[12], emp_meta[13]) == (1, True)
    assert query(store, "SELECT currval('schema_metadata_seq')")[0][0] == max(m[0] for m in meta)

    # a second load of the same streams: new current row, version bumped, the old one kept but not current
    rerun = run_target(config, _dump(hr_messages()), tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    versions = query(
        store,
        "SELECT version, is_current, row_count FROM _schema_metadata WHERE table_name = ? ORDER BY version",
        [emp],
    )
    assert versions == [(1, False, 20), (2, True, 20)]


def test_profiles_and_hub_spoke_mappings(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    run = run_target(config, _dump(hr_messages()), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    emp = f"{P8}_workday_employees"
    profiles = {
        r[0]: r[1:]
        for r in query(
            store,
            "SELECT column_name, inferred_type, total_count, null_count, distinct_count, min_value, max_value, "
            "distinct_values, value_distribution, sample_values, is_likely_key, is_categorical, filter_category, "
            "original_dtype, project FROM _column_profiles WHERE table_name = ?",
            [emp],
        )
    }
    assert profiles["employee_id"][0] == "text"
    assert profiles["employee_id"][1:4] == (20, 0, 20)
    assert profiles["employee_id"][9] is True  # 100% unique and more than 10 distinct
    assert profiles["bonus"][0] == "numeric"
    assert profiles["bonus"][5] == float(Decimal("12345678901234567.123456789"))
    dept = profiles["department_code"]
    assert dept[0] == "categorical"
    assert json.loads(dept[6]) == ["D1", "D2", "D9"]
    assert json.loads(dept[7]) == {"D1": 10, "D2": 9, "D9": 1}
    assert dept[10] is True
    assert dept[11] == "organization"
    assert dept[9] is False
    assert len(json.loads(profiles["first_name"][8])) == 5
    assert profiles["hired_at"][0] == "date"
    assert profiles["active"][0] == "boolean"
    assert profiles["first_name"][13] == PROJECT_LOWER
    assert query(store, "SELECT filter_category FROM _column_profiles WHERE column_name = 'status'") == [("status",)]

    mappings = query(
        store,
        "SELECT table_name, original_column, semantic_type, is_hub, hub_table, hub_column, hub_cardinality, "
        "spoke_cardinality, coverage_pct, is_subset, needs_review FROM _column_mappings ORDER BY is_hub DESC",
    )
    hub, spoke = mappings
    assert hub[:7] == (
        f"{P8}_workday_departments",
        "code",
        "department_code",
        True,
        f"{P8}_workday_departments",
        "code",
        3,
    )
    assert spoke[:6] == (emp, "department_code", "department_code", False, f"{P8}_workday_departments", "code")
    assert spoke[6:8] == (3, 3)
    assert abs(spoke[8] - 200 / 3) < 0.01  # D1 and D2 are departments, D9 is not
    assert spoke[9] is False
    assert spoke[10] is True


def test_ledger_and_read_truths(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    config = {**config, "source_instance": "acme-prod"}
    run = run_target(config, _dump(hr_messages()), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    ledger = query(
        store,
        "SELECT product, instance, stream, table_name, truth_type, rows_received, rows_loaded, rows_dead_lettered, "
        "window_start, window_end, run_id FROM _truths_ledger ORDER BY stream",
    )
    assert [(r[0], r[1], r[2], r[4], r[5], r[6], r[7]) for r in ledger] == [
        ("workday", "acme-prod", "departments", "configuration", 3, 3, 0),
        ("workday", "acme-prod", "employees", "reality", 20, 20, 0),
    ]
    assert ledger[1][8].isoformat().startswith("2026-01-01T00:00:00")
    assert ledger[0][10] == ledger[1][10] == run.summary["run_id"]

    truths = read_truths(PROJECT.lower(), duckdb_path=str(store))
    assert [t.source_name for t in truths] == ["workday:departments", "workday:employees"]
    employees = truths[1]
    assert employees.source_type == "reality"
    assert employees.confidence == 1.0
    assert employees.location.endswith(f"#{P8}_workday_employees")
    assert len(employees.content) == 20
    assert {r["employee_id"] for r in employees.content} >= {"E000", "E019"}
    assert employees.metadata["entity_type"] == "employee"
    assert employees.metadata["rows_loaded"] == 20
    only_config = read_truths(PROJECT, duckdb_path=str(store), truth_type="configuration")
    assert [t.source_name for t in only_config] == ["workday:departments"]
    assert read_truths("00000000-0000-0000-0000-000000000000", duckdb_path=str(store)) == []


def test_unannotated_stream_lands_as_reality(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    messages = [
        schema_msg("PayrollRuns", {"runId": {"type": "integer"}, "amount": {"type": "number"}}, ["runId"]),
        record_msg("PayrollRuns", {"runId": 1, "amount": 10.5}),
    ]
    run = run_target(config, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert query(store, "SELECT table_name, entity_type, truth_type, file_name FROM _schema_metadata") == [
        (f"{P8}_singer_payroll_runs", "payroll_runs", "reality", "singer:PayrollRuns")
    ]
    assert query(store, f'SELECT run_id, amount FROM "{P8}_singer_payroll_runs"') == [(1, Decimal("10.5"))]


def test_spoke_landed_before_its_hub_gets_coverage_when_the_hub_lands(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    messages = hr_messages()
    hub_part, spoke_part = messages[:4], messages[4:]
    assert run_target(config, _dump(spoke_part), tmp_path).returncode == 0
    before = query(store, "SELECT hub_table, coverage_pct FROM _column_mappings WHERE is_hub = FALSE")
    assert before == [(None, None)]
    assert run_target(config, _dump(hub_part), tmp_path).returncode == 0
    after = query(
        store,
        "SELECT hub_table, hub_cardinality, spoke_cardinality, coverage_pct FROM _column_mappings WHERE is_hub = FALSE",
    )
    assert after[0][:3] == (f"{P8}_workday_departments", 3, 3)
    assert abs(after[0][3] - 200 / 3) < 0.01


def test_mapping_cardinalities_are_the_distinct_values_the_profiles_counted(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """The end of run takes a mapping's cardinality from the profile of the same table it has just measured (no
    second count): more values than a profile lists (100), nulls and repeats, and a column name both tables hold,
    as COUNT(DISTINCT) finds them in the landed tables."""
    props = {"EmployeeId": {"type": "string"}, "Code": {"type": ["null", "string"]}}
    messages = [
        *department_messages([f"D{c:03d}" for c in range(150)]),
        schema_msg(
            "employees",
            props,
            ["EmployeeId"],
            annotation(
                "workday", "employees", "employee", "reality", ["EmployeeId"], references={"Code": "department"}
            ),
        ),
        *[
            record_msg("employees", {"EmployeeId": f"E{i:04d}", "Code": f"D{i % 130:03d}" if i < 390 else None})
            for i in range(400)
        ],
    ]
    run = run_target(config, _dump(messages), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    dept, emp = f"{P8}_workday_departments", f"{P8}_workday_employees"
    mappings = query(
        store,
        "SELECT table_name, original_column, is_hub, hub_cardinality, spoke_cardinality, coverage_pct, is_subset "
        "FROM _column_mappings ORDER BY is_hub DESC",
    )
    assert mappings == [(dept, "code", True, 150, None, None, None), (emp, "code", False, 150, 130, 100.0, True)]
    assert query(store, f'SELECT COUNT(DISTINCT code) FROM "{dept}"') == [(150,)]
    assert query(store, f'SELECT COUNT(DISTINCT code), COUNT(code) FROM "{emp}"') == [(130, 390)]
    assert query(store, "SELECT table_name, distinct_count FROM _column_profiles WHERE column_name = 'code' "
                 "ORDER BY table_name") == [(dept, 150), (emp, 130)]  # fmt: skip
