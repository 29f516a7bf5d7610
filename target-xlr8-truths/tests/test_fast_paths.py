"""The fast paths (the compiled RECORD path, DuckDB's reader for BATCH files) land exactly what the exact per-field
path lands (``XLR8_TRUTHS_EXACT_PATH=1``): the same rows (PII decrypting to the same plaintext), the same dead letters
naming the same fields, the same counts."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_privacy import engine_decrypt
from truths_testkit import annotation, query, record_msg, run_target, schema_msg, state_msg

STREAM = "workers"
PROPS: dict[str, Any] = {
    "Id": {"type": "string"},
    "Name": {"type": ["null", "string"]},
    "SSN": {"type": ["null", "string"]},
    "Headcount": {"type": ["null", "integer"]},
    "Salary": {"type": ["null", "number"]},  # personal data by name: encrypted
    "Amount": {"type": ["null", "number"]},  # an XLR8 stream: an exact decimal
    "Rate": {"type": ["null", "string"], "format": "x-singer.decimal"},
    "Active": {"type": ["null", "boolean"]},
    "UpdatedAt": {"type": ["null", "string"], "format": "date-time"},
    "HireDate": {"type": ["null", "string"], "format": "date"},
    "Address": {
        "type": ["null", "object"],
        "properties": {"Street": {"type": ["null", "string"]}, "Zip": {"type": ["null", "string"]}},
    },
    "Tags": {"type": ["null", "array"], "items": {"type": "string"}},
    "Status": {"type": ["null", "string"], "enum": ["A", "T", None]},
    "Either": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
}

GOOD: list[dict[str, Any]] = [
    {"Id": "W1", "Name": "Zoë Ångström 😀", "SSN": "123-45-6789", "Headcount": 3, "Salary": Decimal("81234.50"),
     "Amount": Decimal("0.10"),
     "Rate": "12.3400", "Active": True, "UpdatedAt": "2024-03-01T10:00:00Z", "HireDate": "2020-02-29",
     "Address": {"Street": "1 Main St", "Zip": "02134"}, "Tags": ["a", "ü"], "Status": "A", "Either": 5},
    {"Id": "W2", "Name": None, "SSN": None, "Headcount": None, "Salary": None, "Rate": None, "Active": None,
     "UpdatedAt": None, "HireDate": None, "Address": None, "Tags": None, "Status": None, "Either": None},
    {"Id": "W3"},  # every other field missing
    {"Id": "W4", "Name": "tab\there \"quoted\" back\\slash", "Amount": 0, "Salary": 7,
     "Headcount": -9223372036854775808, "UpdatedAt": "2024-03-01T10:00:00.123456+05:30",
     "Address": {"Nested": {"Deep": [1, {"x": Decimal("1.50")}]}}, "Either": "text",
     "Rate": "-0.000000001", "Active": False},
    {"Id": "W5", "Amount": Decimal("12345678901234567890.123456789"), "UpdatedAt": "2024-03-01T10:00:00",
     "Name": "x" * 300},
    {"Id": "W1", "Name": "second W1 wins", "Amount": Decimal("1E+3"), "Salary": Decimal("-1.5")},
]  # fmt: skip
BAD: list[dict[str, Any]] = [
    {"Id": "B1", "Name": 5},  # a number in a string column
    {"Id": "B2", "Headcount": 1.5},
    {"Id": "B3", "Headcount": 9223372036854775808},
    {"Id": "B4", "Amount": Decimal("1.0000000001")},  # more places than the scale
    {"Id": "B5", "UpdatedAt": "yesterday"},
    {"Id": "B6", "Status": "X"},
    {"Id": "B7", "Address": "not an object"},
    {"Id": "B8", "Name": "nul\x00byte"},
    {"Id": "B9", "Active": "yes"},
    {"Id": "B10", "Rate": "twelve"},
    {"Name": "no key"},
    {"Id": None, "Name": "null key"},
]


def _messages() -> list[dict[str, Any]]:
    note = annotation("workday", STREAM, "worker", keys=["Id"])
    note["canonical_fields"] = {"SSN": "national_id"}
    messages: list[dict[str, Any]] = [schema_msg(STREAM, PROPS, ["Id"], note)]
    for i, record in enumerate([*GOOD, *BAD]):
        messages.append(record_msg(STREAM, record, time_extracted=f"2024-03-0{1 + i % 5}T00:00:00+00:00"))
    messages.append(state_msg({"done": True}))
    return messages


def _dumps(messages: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(m, default=str) + "\n" for m in messages).replace('"__D__', "").replace('__D__"', "")


def _encode(messages: list[dict[str, Any]]) -> str:
    """Decimals written as JSON numbers (json.dumps has no Decimal support)."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return f"__D__{value}__D__"
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    return _dumps([mark(m) for m in messages])


def _batch_files(where: Path, stream: str, files: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One jsonl file per list of records under ``where`` (written at ``FILE_WRITTEN``), and its BATCH message."""
    messages = []
    for index, records in enumerate(files):
        path = where / f"part-{index}.jsonl"
        path.write_text(_encode(records))
        os.utime(path, (FILE_WRITTEN, FILE_WRITTEN))
        messages.append({"type": "BATCH", "stream": stream, "manifest": [f"file://{path}"],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
    return messages


def _both_paths(work: Path, config: dict[str, Any], build: Callable[[Path], list[dict[str, Any]]],
                **settings: Any) -> list[tuple[bool, Path, Any]]:  # fmt: skip
    """The messages ``build`` makes for a batch directory, through the fast paths and then the exact path
    (``XLR8_TRUTHS_EXACT_PATH=1``), each into its own store: (exact, store, run) per run, both exited 0."""
    runs = []
    for exact in (False, True):
        where = work / ("exact" if exact else "fast")
        files = where / "batches"
        files.mkdir(parents=True)
        store = where / "truths.duckdb"
        every = {**config, "duckdb_path": str(store), "batch_locations": [str(files)], **settings}
        run = run_target(every, _encode(build(files)), where, env={"XLR8_TRUTHS_EXACT_PATH": "1"} if exact else {})
        assert run.returncode == 0, run.stderr[-3000:]
        runs.append((exact, store, run))
    return runs


def _landed(store: Path, key: bytes) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]], list[Any]]:
    table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
    names = [r[0] for r in query(store, f'DESCRIBE "{table}"')]
    rows = []
    for row in query(store, f'SELECT * FROM "{table}" ORDER BY id'):
        values = dict(zip(names, row, strict=True))
        for name, value in values.items():
            if isinstance(value, str) and value.startswith("ENC256:"):
                values[name] = engine_decrypt(value, key)
        rows.append(tuple(sorted((k, repr(v)) for k, v in values.items() if not k.startswith("_sdc_") or
                                 k == "_sdc_extracted_at")))  # fmt: skip
    letters = query(store, "SELECT record_key, error, error_path FROM _dead_letters ORDER BY record_key, error_path")
    ledger = query(store, "SELECT rows_received, rows_loaded, rows_dead_lettered FROM _truths_ledger")
    return rows, letters, ledger


def _landed_of(store: Path, config: dict[str, Any]) -> Any:
    """``_landed`` with the run's own PII key (``config["pii_key_file"]``)."""
    return _landed(store, base64.b64decode(Path(config["pii_key_file"]).read_text().strip()))


def _paths(stderr: str) -> dict[str, dict[str, int]]:
    for line in stderr.splitlines():
        if line.startswith("XLR8_TRUTHS_PATHS "):
            return json.loads(line.split(" ", 1)[1])  # type: ignore[no-any-return]
    raise AssertionError(f"no path counts on stderr:\n{stderr[-3000:]}")


def test_compiled_record_path_lands_what_the_exact_path_lands(tmp_path: Path, config: dict[str, Any]) -> None:
    text = _encode(_messages())
    landed = []
    for label, env in (("fast", {}), ("exact", {"XLR8_TRUTHS_EXACT_PATH": "1"})):
        store = tmp_path / label / "truths.duckdb"
        run = run_target({**config, "duckdb_path": str(store)}, text, tmp_path, env=env)
        assert run.returncode == 0, run.stderr[-3000:]
        assert run.summary["streams"][STREAM] == {"received": 18, "loaded": 6, "dead_lettered": 12}
        paths = _paths(run.stderr)[STREAM]
        assert (paths.get("compiled", 0), paths["exact"]) == ((0, 18) if env else (6, 12))
        landed.append(_landed_of(store, config))
    fast, exact = landed
    assert fast == exact
    rows, letters, _ = fast
    assert len(rows) == 5  # W1 twice: the later record wins
    by_id = {dict(r)["id"]: dict(r) for r in rows}
    assert by_id["'W1'"]["name"] == "'second W1 wins'"
    assert by_id["'W1'"]["amount"] == "Decimal('1000.000000000')"
    assert by_id["'W1'"]["salary"] == "'-1.5'"
    assert by_id["'W4'"]["ssn"] == "None"
    assert by_id["'W5'"]["amount"] == "Decimal('12345678901234567890.123456789')"
    assert {(e, p) for _, e, p in letters} >= {
        ("schema violation (type)", "$.Name"),
        ("schema violation (enum)", "$.Status"),
        ("missing key property", "$.Id"),
    }


def test_compiled_record_path_keeps_pii_decryptable(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    run = run_target(config, _encode(_messages()), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
    (ssn,) = query(store, f"SELECT ssn FROM \"{table}\" WHERE id = 'W1'")[0]
    assert ssn is None  # the second W1 has no SSN
    payloads = " ".join(str(p) for (p,) in query(store, "SELECT payload FROM _dead_letters"))
    assert "123-45-6789" not in payloads


BATCH_PROPS: dict[str, Any] = {
    **{k: v for k, v in PROPS.items() if k != "Salary"},  # a PII number keeps the record path: left out here
    "BirthDate": {"type": ["null", "string"], "format": "date"},  # PII, encrypted as the parsed date's text
}
FAST_FILE = [
    {"Id": "F1", "Name": "Zoë Ångström 😀", "SSN": "123-45-6789", "BirthDate": "1980-02-29", "Headcount": 3,
     "Amount": Decimal("81234.50"), "Rate": "12.3400", "Active": True, "UpdatedAt": "2024-03-01T10:00:00Z",
     "HireDate": "2020-02-29", "Address": {"Street": "1 Main St", "Zip": "02134"}, "Tags": ["a", "ü"],
     "Status": "A", "Either": 5},
    {"Id": "F2", "Name": None, "SSN": None, "BirthDate": None, "Amount": None, "Rate": None, "UpdatedAt": None},
    {"Id": "F3"},
    {"Id": "F4", "Name": "tab\there \"quoted\"", "SSN": "", "Amount": 0, "Rate": "-0.000000001",
     "BirthDate": "20000101",  # ISO basic form: the parsed date's text (2000-01-01) is what is encrypted
     "UpdatedAt": "2024-03-01T10:00:00.123456+05:30", "Address": {"Deep": [1, {"x": -2}], "Zip": "02134"}},
    {"Id": "F1", "Name": "second F1 wins", "Amount": Decimal("1E+3"), "Rate": "+7", "SSN": "999-00-1111"},
]  # fmt: skip
SLOW_FILES = [
    [{"Id": "S1", "Amount": Decimal("12345678901234567890.123456789")}],  # 16+ digits: numbers DuckDB would round
    [{"Id": "S2", "Rate": "1.0000000001"}, {"Id": "S3", "Name": "fine"}],  # too many places: dead letter
    [{"Id": "S4", "Rate": " 5 "}],  # not plain digits: the record path decides
    [{"Id": "S5", "BirthDate": "not a date"}],  # an unparseable PII date: dead letter
    # nested fractions: the record path writes them as text; DuckDB's file is rewritten column-wise to match
    [
        {
            "Id": "S6",
            "Address": {"x": Decimal("1.50"), "y": [Decimal("1E+3"), Decimal("-0.0"), Decimal("2.5E-7")]},
            "Tags": ["1.5", "v2.0e1"],
        }
    ],
]


FILE_WRITTEN = 1709287200  # 2024-03-01T10:00:00Z


def test_batch_fast_path_lands_what_the_record_path_lands(tmp_path: Path, config: dict[str, Any]) -> None:
    note = annotation("workday", STREAM, "worker", keys=["Id"])
    note["canonical_fields"] = {"SSN": "national_id"}
    landed = []
    # BATCH rows are extracted when the tap wrote the file (``_batch_files`` dates them FILE_WRITTEN)
    for exact, store, run in _both_paths(tmp_path, config, lambda files: [
        schema_msg(STREAM, BATCH_PROPS, ["Id"], note),
        *_batch_files(files, STREAM, [FAST_FILE, *SLOW_FILES]),
        state_msg({"done": True}),
    ]):  # fmt: skip
        assert run.summary["streams"][STREAM] == {"received": 11, "loaded": 9, "dead_lettered": 2}
        paths = _paths(run.stderr)[STREAM]
        assert paths.get("batch_files_duckdb", 0) == (0 if exact else 2), run.stderr[-3000:]
        assert paths["batch_files_records"] == (6 if exact else 4)
        landed.append(_landed_of(store, config))
    fast, exact = landed
    assert fast[0] == exact[0]
    assert fast[1] == exact[1]
    by_id = {dict(r)["id"]: dict(r) for r in fast[0]}
    assert by_id["'F1'"]["ssn"] == "'999-00-1111'"
    assert by_id["'F1'"]["rate"] == repr(Decimal("7.000000000"))
    assert by_id["'F4'"]["ssn"] == "''"
    assert by_id["'F4'"]["birth_date"] == "'2000-01-01'"
    assert by_id["'F4'"]["rate"] == repr(Decimal("-0.000000001"))
    assert by_id["'S4'"]["rate"] == repr(Decimal("5.000000000"))
    written = dt.datetime.fromtimestamp(FILE_WRITTEN, dt.UTC)
    assert (written.hour, written.minute) == (10, 0)
    for row_id in ("'F1'", "'F4'", "'S1'", "'S6'"):  # DuckDB's reader and the record path alike
        assert by_id[row_id]["_sdc_extracted_at"].startswith("datetime.datetime(2024, 3, 1, 10, 0, tzinfo="), row_id
    assert {(e, p) for _, e, p in fast[1]} == {
        ("more than 9 decimal places would be truncated", "$.Rate"),
        ("unparseable date value", "$.BirthDate"),
    }


def test_a_protected_column_that_is_not_a_plain_string_keeps_files_on_the_record_path_and_says_so(
    tmp_path: Path, config: dict[str, Any], store: Path
) -> None:
    """A PII number (Salary) keeps every BATCH file of its stream on the record path (DuckDB's reader would not
    protect it as the record path does); the log gives that reason and names the column, never a value."""
    note = annotation("workday", STREAM, "worker", keys=["Id"])
    files = tmp_path / "batches"
    files.mkdir()
    records = [{"Id": "P1", "Name": "a", "Salary": Decimal("81234.50")}, {"Id": "P2", "Salary": 7}]
    messages = [schema_msg(STREAM, PROPS, ["Id"], note), *_batch_files(files, STREAM, [records])]
    run = run_target({**config, "batch_locations": [str(files)]}, _encode(messages), tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary["streams"][STREAM] == {"received": 2, "loaded": 2, "dead_lettered": 0}
    assert _paths(run.stderr)[STREAM]["batch_files_records"] == 1
    assert "batch_files_duckdb" not in _paths(run.stderr)[STREAM]
    reason = f"BATCH file loaded record by record (stream {STREAM}: protected columns that are not plain strings ("
    assert run.stderr.count(reason + "Salary))") == 1, run.stderr[-3000:]
    assert "would round" not in run.stderr
    assert "81234" not in run.stderr
    rows = {dict(row)["id"]: dict(row) for row in _landed_of(store, config)[0]}
    assert rows["'P1'"]["salary"] == "'81234.50'"
    assert rows["'P2'"]["salary"] == "'7'"


PLAIN_PROPS: dict[str, Any] = {
    "Id": {"type": "string"},
    "Name": {"type": ["null", "string"]},
    "Qty": {"type": ["null", "integer"]},
    "Amount": {"type": ["null", "number"]},
    "Geo": {"type": ["null", "object"], "properties": {"Lat": {"type": ["null", "number"]}}},
    "_sdc_deleted_at": {"type": ["null", "string"], "format": "date-time"},
}
DELETED = "2024-03-02T00:00:00Z"
#: Files of a stream without PII, loaded straight into the stored table: keys repeated inside a file (the last wins),
#: keys of earlier files updated and deleted, nested fractions rewritten in place, files refused half-way through.
PLAIN_FILES: list[list[dict[str, Any]]] = [
    [{"Id": "A", "Name": "first A", "Qty": 1, "Amount": Decimal("1.5"), "Geo": {"Lat": Decimal("37.25")}},
     {"Id": "B", "Name": "first B", "Qty": 2, "_sdc_extracted_at": "2024-02-01T00:00:00+00:00"},
     {"Id": "A", "Name": "A wins in its file", "Geo": {"Lat": Decimal("1E+3")}},
     {"Id": "C", "Name": "C", "Geo": {"Lat": 4}}],
    [{"Id": "B", "Name": "B updated by the next file", "Amount": Decimal("0.10")},
     {"Id": "C", "_sdc_deleted_at": DELETED},
     {"Id": "D", "Name": "D"}, {"Id": "D", "Name": "D deleted by its own file", "_sdc_deleted_at": DELETED},
     {"Id": "E", "_sdc_deleted_at": DELETED}, {"Id": "E", "Name": "E back after its delete"}],
    [{"Id": "F", "Name": "loaded by the record path"}, {"Id": "A", "Name": "A again"}, {"Id": "G", "Qty": 1.5}],
    [{"Id": "H", "Name": "refused file"}, {"Name": "no key"}, {"Id": "B", "Name": "B from a refused file"}],
]  # fmt: skip


def test_batch_files_loaded_in_place_land_what_the_record_path_lands(tmp_path: Path, config: dict[str, Any]) -> None:
    """Files DuckDB loads straight into the stored table (no PII) upsert, dedupe, delete and roll back exactly as
    the record path does; soft and hard deletes alike."""
    note = annotation("p", "items", "item", keys=["Id"])
    for hard_delete in (False, True):
        landed = []
        for exact, store, run in _both_paths(tmp_path / f"hard-{hard_delete}", config, lambda files: [
            schema_msg("items", PLAIN_PROPS, ["Id"], note),
            *_batch_files(files, "items", PLAIN_FILES),
            state_msg({"done": True}),
        ], hard_delete=hard_delete):  # fmt: skip
            assert run.summary["streams"]["items"] == {"received": 16, "loaded": 14, "dead_lettered": 2}
            paths = _paths(run.stderr)["items"]
            assert paths.get("batch_files_duckdb", 0) == (0 if exact else 2), run.stderr[-3000:]
            assert paths["batch_files_records"] == (4 if exact else 2)
            table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
            rows = query(store, f'SELECT * EXCLUDE (_sdc_table_version) FROM "{table}" ORDER BY id')
            ledger = query(store, "SELECT rows_received, rows_loaded, rows_dead_lettered FROM _truths_ledger")
            landed.append((rows, ledger))
        fast, exact = landed
        assert fast == exact
        by_id = {row[0]: row for row in fast[0]}
        assert by_id["A"][1] == "A again"
        assert by_id["B"][1] == "B from a refused file"  # the record path loads the whole file
        assert by_id["E"][1] == "E back after its delete"
        assert "H" in by_id  # the refused file landed through the record path
        assert ("C" in by_id, "D" in by_id) == (not hard_delete, not hard_delete)


def test_batch_files_loaded_in_place_across_schema_changes(tmp_path: Path, config: dict[str, Any]) -> None:
    """A file loaded in place after the table gained a column and widened another (in the same transaction) lands
    what the record path lands, upserting the rows of the file before it."""
    note = annotation("p", "items", "item", keys=["Id"])
    first = {"Id": {"type": "string"}, "Qty": {"type": ["null", "integer"]}}
    second = {**first, "Qty": {"type": ["null", "number"]}, "Note": {"type": ["null", "string"]}}
    files = [
        (first, [{"Id": "A", "Qty": 1}, {"Id": "B", "Qty": 2}]),
        (second, [{"Id": "A", "Qty": Decimal("1.5"), "Note": "widened"}, {"Id": "C", "Note": "new"}]),
    ]

    def build(batches: Path) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        for index, (props, records) in enumerate(files):
            path = batches / f"part-{index}.jsonl"
            path.write_text(_encode(records))
            os.utime(path, (FILE_WRITTEN, FILE_WRITTEN))
            messages.append(schema_msg("items", props, ["Id"], note))
            messages.append({"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
                             "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
        return [*messages, state_msg({"done": True})]

    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        assert _paths(run.stderr)["items"].get("batch_files_duckdb", 0) == (0 if exact else 2), run.stderr[-3000:]
        table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
        landed.append(query(store, f'SELECT id, qty, note, _sdc_extracted_at FROM "{table}" ORDER BY id'))
    fast, exact = landed
    assert fast == exact
    assert [row[:3] for row in fast] == [
        ("A", Decimal("1.5"), "widened"),
        ("B", Decimal("2"), None),
        ("C", None, "new"),
    ]


def test_long_digit_runs_inside_strings_keep_the_fast_path(tmp_path: Path, config: dict[str, Any], store: Path) -> None:
    """Only numbers DuckDB would round send a file down the record path: a fraction of 16+ digits, or an integer of
    16+ digits in a decimal column (read as a double). An 18-digit id string does not, nor (in a stream with a
    decimal column, so scanned) an 18-digit integer in an integer column, read as text."""
    props = {"Id": {"type": "string"}, "Qty": {"type": ["null", "integer"]}, "Amount": {"type": ["null", "number"]}}
    lines = {
        "strings": "".join(f'{{"Id": "{10**17 + i}", "Qty": {i}, "Amount": 1.25}}\n' for i in range(50)),
        "integers": '{"Id": "x", "Qty": 123456789012345678, "Amount": 1.5}\n',
        "decimal": '{"Id": "y", "Qty": 1, "Amount": 123456789012345678}\n',
        "fraction": '{"Id": "z", "Qty": 1, "Amount": 1234567.123456789}\n',
    }
    messages: list[dict[str, Any]] = [schema_msg("items", props, ["Id"], annotation("p", "items", "item"))]
    for name, text in lines.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_text(text)
        messages.append({"type": "BATCH", "stream": "items", "manifest": [f"file://{path}"],
                         "encoding": {"format": "jsonl", "compression": "none"}})  # fmt: skip
    run = run_target({**config, "batch_locations": [str(tmp_path)]}, messages, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _paths(run.stderr)["items"] == {"batch_files_duckdb": 2, "batch_files_records": 2, "compiled": 2}
    assert "BATCH file loaded record by record (stream items: numbers DuckDB would round)" in run.stderr
    table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
    rows = query(store, f'SELECT id, qty, amount FROM "{table}" ORDER BY id')
    assert len(rows) == 53
    assert rows[0] == (str(10**17), 0, Decimal("1.25"))
    assert ("x", 123456789012345678, Decimal("1.5")) in rows
    assert ("y", 1, Decimal("123456789012345678")) in rows
    assert ("z", 1, Decimal("1234567.123456789")) in rows


def test_long_number_scan_counts_significant_digits_of_numbers_only(tmp_path: Path) -> None:
    from target_xlr8_truths.duckdb_store import has_long_number

    cases = {
        '{"a": "123456789012345678"}': False,  # digits inside a string
        '{"a": 81234.5000000000000000}': False,  # trailing zeros are not significant
        '{"a": 1234567890123456}': True,  # 16-digit integer
        '{"a": {"b": [0.1234567890123456]}}': True,  # nested, 16 significant digits
        '{"a": 123456789012345.6}': True,  # 16 significant digits
        '{"a": 12345678901234.5}': False,  # 15: exact as a double
        '{"a": "x", "b": 12345678901234567': True,  # unreadable line: the record path reports it
    }
    for index, (line, expected) in enumerate(cases.items()):
        path = tmp_path / f"{index}.jsonl"
        path.write_text('{"pad": 1}\n' * 3 + line + "\n")
        assert has_long_number(str(path)) is expected, line
    # only the properties named count (a double column rounds as the record path does), and integers only where
    # asked (a decimal column; nested JSON text keeps an integer's digits)
    path = tmp_path / "keys.jsonl"
    path.write_text('{"a": 1, "d": 0.12345678901234567, "j": {"n": [1234567890123456]}, "i": 1234567890123456}\n')
    assert has_long_number(str(path), {"a": True, "j": False}) is False
    assert has_long_number(str(path), {"a": True, "d": False}) is True
    assert has_long_number(str(path), {"j": True}) is True
    assert has_long_number(str(path), {"i": True}) is True


def test_integer_columns_load_exactly_without_a_number_scan(tmp_path: Path, config: dict[str, Any]) -> None:
    """Integers are read as JSON text (all their digits), so a file whose only numbers are integers takes DuckDB's
    reader even with 16-19 digit values, and lands what the exact path lands; a value whose text is not the
    BIGINT's (a fraction, 1.0, a boolean, 2^63) sends its file to the record path (a JSON string of digits too:
    test_fast_path_parity.py)."""
    props = {"Id": {"type": "string"}, "Qty": {"type": ["null", "integer"]}, "Name": {"type": ["null", "string"]}}
    files = [
        [{"Id": "I1", "Qty": 1234567890123456789}, {"Id": "I2", "Qty": -9223372036854775808}, {"Id": "I3"},
         {"Id": "I4", "Qty": None, "Name": "12345678901234567890"}, {"Id": "I5", "Qty": 0}],
        [{"Id": "J1", "Qty": 1.0}],
        [{"Id": "J3", "Qty": True}],
        [{"Id": "J4", "Qty": 9223372036854775808}],
        [{"Id": "J5", "Qty": 1.5}],
    ]  # fmt: skip
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, lambda where: [
        schema_msg("items", props, ["Id"], annotation("p", "items", "item")),
        *_batch_files(where, "items", files),
    ]):  # fmt: skip
        paths = _paths(run.stderr)["items"]
        assert paths.get("batch_files_duckdb", 0) == (0 if exact else 1), run.stderr[-3000:]
        assert paths["batch_files_records"] == (5 if exact else 4)
        table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
        rows = query(store, f'SELECT id, qty, name, _sdc_extracted_at FROM "{table}" ORDER BY id')
        dead = query(store, "SELECT record_key, error, error_path FROM _dead_letters ORDER BY record_key")
        landed.append((rows, dead, run.summary["streams"]["items"]))
    assert landed[0] == landed[1]
    rows = landed[0][0]
    assert rows[0][:3] == ("I1", 1234567890123456789, None)
    assert rows[1][:3] == ("I2", -9223372036854775808, None)


def test_nested_json_rewrite_writes_what_convert_value_writes(tmp_path: Path, monkeypatch: Any) -> None:
    """The BATCH path rewrites DuckDB's text of a nested value whose numbers have a fraction (msgspec, float hook):
    for every text it must equal ``convert_value`` on the same value (key order, escapes, float spelling, numbers
    as text), and refuse what ``convert_value`` refuses (too deep)."""
    import random

    import duckdb

    import target_xlr8_truths.sinks as sinks
    from target_xlr8_truths.columns import Column
    from target_xlr8_truths.duckdb_store import FastPathRefused
    from target_xlr8_truths.records import MAX_JSON_DEPTH, Rejected, convert_value
    from target_xlr8_truths.sinks import TruthsSink
    from xlr8_kit.singer_io import loads_exact

    fallbacks: list[Any] = []
    monkeypatch.setattr(sinks, "convert_value", lambda c, v: fallbacks.append(v) or convert_value(c, v))
    column = Column("address", "Address", "json", 0)
    rewrite = TruthsSink._json_rewriter(column)
    rnd = random.Random(7)
    chars = [chr(i) for i in range(0x80)] + ["é", "😀", "\u2028", "\u2029", "\ufeff", "\u0085"]
    sources = [
        '{"x": 1.50, "y": [1E+3, -0.0, 2.5E-7, 1e16, 123456789012345, 0.1, -12.5e-3, 9007199254740993.0, 1e-300]}',
        '{"a": {"b": {"c": [1.25, "1.5", "x1.5e3"]}}, "z": -1.0, "big": 18446744073709551616}',
        '[1.5, {"a": 2}]',
        '{"u": "\\ud83d\\ude00", "v": 3.14159}',  # (DuckDB refuses a file with a lone surrogate)
        '{"d": 1, "d": 2.5}',
        '"v1.5"',
        "[" * (MAX_JSON_DEPTH + 1) + "1.5" + "]" * (MAX_JSON_DEPTH + 1),
        '{"street": "1 Main St", "latitude": 51.5073509, "longitude": -0.1277583}',
    ]
    for _ in range(2000):
        text = "".join(rnd.choice(chars) for _ in range(rnd.randint(0, 12)))
        sources.append(json.dumps({"s": text, "k" + text: rnd.choice([1.5, 2, None, True, 0.000123, [0.5]])}))
    path = tmp_path / "values.jsonl"
    path.write_text("".join(f'{{"j": {s}}}\n' for s in sources))
    with duckdb.connect() as con:
        rendered = [
            row[0]
            for row in con.execute(
                f"SELECT CAST(j AS VARCHAR) FROM read_json('{path}', format='newline_delimited', "
                "columns={'j': 'JSON'})"
            ).fetchall()
        ]
    assert len(rendered) == len(sources)
    refused = 0
    for text in rendered:
        try:
            expected: Any = convert_value(column, loads_exact(text))
        except (Rejected, ValueError, TypeError, RecursionError):
            expected = FastPathRefused
        try:
            got: Any = rewrite(text)
        except FastPathRefused:
            got = FastPathRefused
        assert got == expected, text
        refused += got is FastPathRefused
    assert refused == 1  # the too-deep array
    assert len(fallbacks) == 1  # every other value took the msgspec rewrite


def test_nested_json_rewrite_refuses_at_the_depth_and_size_limits_exactly(monkeypatch: Any) -> None:
    """The rewrite counts brackets only in texts longer than the depth limit and takes the encoder's byte count as
    the field size: at each limit and one past it, it must answer as ``convert_value`` does (sizes in UTF-8
    bytes, not characters), and hand ``convert_value`` exactly the texts whose brackets exceed the limit."""
    import target_xlr8_truths.sinks as sinks
    from target_xlr8_truths.columns import Column
    from target_xlr8_truths.duckdb_store import FastPathRefused
    from target_xlr8_truths.records import MAX_FIELD_BYTES, MAX_JSON_DEPTH, Rejected, convert_value
    from target_xlr8_truths.sinks import TruthsSink
    from xlr8_kit.singer_io import loads_exact

    fallbacks: list[Any] = []
    monkeypatch.setattr(sinks, "convert_value", lambda c, v: fallbacks.append(v) or convert_value(c, v))
    column = Column("address", "Address", "json", 0)
    rewrite = TruthsSink._json_rewriter(column)
    frame = len('{"s":"","n":"1.5"}')  # what the rewrite writes around the string
    depth = MAX_JSON_DEPTH
    cases = {  # DuckDB's compact text -> (convert_value accepts it, texts handed to convert_value)
        "[" * (depth - 1) + "1.5" + "]" * (depth - 1): (True, 0),
        "[" * depth + "1.5" + "]" * depth: (False, 1),  # 64 arrays and the number in them: 65 levels
        "[" * depth + "]" * depth: (True, 1),
        "[" * (depth + 1) + "]" * (depth + 1): (False, 1),
        '"' + "[" * depth + '"': (True, 1),  # brackets in a string count too: a short text at the count
        '{"s":"' + "x" * (MAX_FIELD_BYTES - frame) + '","n":1.5}': (True, 0),  # rewritten: exactly the limit
        '{"s":"' + "x" * (MAX_FIELD_BYTES - frame + 1) + '","n":1.5}': (False, 1),
        '{"s":"' + "é" * ((MAX_FIELD_BYTES - frame) // 2) + '","n":1.5}': (True, 0),  # 2 bytes a character
        '{"s":"' + "é" * ((MAX_FIELD_BYTES - frame) // 2) + 'x","n":1.5}': (False, 1),  # characters < the limit
    }
    for text, (accepted, handed) in cases.items():
        try:
            expected: Any = convert_value(column, loads_exact(text))
        except (Rejected, ValueError, TypeError, RecursionError):
            expected = FastPathRefused
        assert (expected is not FastPathRefused) is accepted, text[:80]
        fallbacks.clear()
        try:
            got: Any = rewrite(text)
        except FastPathRefused:
            got = FastPathRefused
        assert got == expected, text[:80]
        assert len(fallbacks) == handed, text[:80]


def test_nested_json_rewrite_rewrites_a_repeated_text_once_and_forgets_within_its_bounds(monkeypatch: Any) -> None:
    """A BATCH file's nested values repeat (an address shared by many rows): the rewrite works out each short text
    once and answers repeats from memory, always what ``convert_value`` writes. The memory is bounded: a text longer
    than the memo's limit is worked out every time; once the memo holds its most entries or characters it starts
    again, or, when it answered fewer texts than it held (values that seldom repeat), stops remembering."""
    import target_xlr8_truths.sinks as sinks
    from target_xlr8_truths.columns import Column
    from target_xlr8_truths.duckdb_store import FastPathRefused
    from target_xlr8_truths.records import MAX_JSON_DEPTH, convert_value
    from target_xlr8_truths.sinks import TruthsSink
    from xlr8_kit.singer_io import loads_exact

    decoded: list[str] = []
    decoder = sinks._JSON_NUMBERS_AS_WRITTEN

    class Counting:
        def decode(self, text: str) -> Any:
            decoded.append(text)
            return decoder.decode(text)

    monkeypatch.setattr(sinks, "_JSON_NUMBERS_AS_WRITTEN", Counting())
    converted: list[Any] = []
    monkeypatch.setattr(sinks, "convert_value", lambda c, v: converted.append(v) or convert_value(c, v))
    column = Column("address", "Address", "json", 0)
    rewrite = TruthsSink._json_rewriter(column)

    def expected(text: str) -> str:
        return str(convert_value(column, loads_exact(text)))

    shared = '{"street":"1 Main St","latitude":51.5073509,"longitude":-0.1277583}'
    other = '{"street":"2 Main St","latitude":1.5,"longitude":-0.25}'
    for text in [shared, other, shared, shared, other]:
        assert rewrite(text) == expected(text)
    assert decoded == [shared, other]  # each worked out once

    long = '{"s":"' + "x" * sinks._REWRITE_MEMO_CHARS + '","n":1.5}'
    for _ in range(3):
        assert rewrite(long) == expected(long)
    assert decoded.count(long) == 3  # too long to remember

    deep = "[" * MAX_JSON_DEPTH + "1.5" + "]" * MAX_JSON_DEPTH  # refused, and refused again: never remembered
    for _ in range(2):
        with pytest.raises(FastPathRefused):
            rewrite(deep)
    assert len(converted) == 2  # convert_value tried it both times

    fill = sinks._REWRITE_MEMO_CHARS - len('{"s":"000000","n":1.5}')
    fits = sinks._REWRITE_MEMO_BUDGET // (2 * sinks._REWRITE_MEMO_CHARS + 2)  # each text written 2 chars longer
    assert 2 < fits < sinks._REWRITE_MEMO_ENTRIES
    texts = [f'{{"s":"{"x" * fill}{i:06d}","n":1.5}}' for i in range(fits + 1)]
    assert {len(text) for text in texts} == {sinks._REWRITE_MEMO_CHARS}  # each short enough to be remembered
    rewrite = TruthsSink._json_rewriter(column)  # a new memo, full by characters before entries
    decoded.clear()
    for text in texts[:fits] * 2:
        assert rewrite(text) == expected(text)
    assert decoded == texts[:fits]  # all held: the second round came from memory
    decoded.clear()
    for text in [texts[fits], texts[fits], texts[0]]:  # one more does not fit: the memo starts again
        assert rewrite(text) == expected(text)
    assert decoded == [texts[fits], texts[0]]  # and, half its answers from memory, goes on remembering

    rewrite = TruthsSink._json_rewriter(column)  # a new memo, full by entries, each text seen once
    fillers = [f'{{"n":{i}.5}}' for i in range(sinks._REWRITE_MEMO_ENTRIES + 1)]
    decoded.clear()
    for text in [shared, shared, *fillers, shared, shared]:
        assert rewrite(text) == expected(text)
    assert decoded == [shared, *fillers, shared, shared]  # one answer from memory in 4,096: given up for good

    # every memo of the process together holds at most the process budget (about an entry more), and a memo's
    # characters are given back once it is collected (review 18c: a memo per nested JSON column for the run)
    import gc

    monkeypatch.setattr(sinks, "_REWRITE_MEMO_PROCESS_BUDGET", 4 * (2 * len(shared) + 40))
    gc.collect()
    start = sinks._memo_chars[0]
    columns = [TruthsSink._json_rewriter(column) for _ in range(3)]
    for index in range(20):
        text = f'{{"street":"{index} Main St","latitude":51.5073509,"longitude":-0.1277583}}'
        for memo in columns:
            for _ in range(2):  # each text repeats: a memo that starts again goes on remembering
                assert memo(text) == expected(text)
    assert 0 < sinks._memo_chars[0] - start <= sinks._REWRITE_MEMO_PROCESS_BUDGET
    del columns, memo, rewrite
    gc.collect()
    assert sinks._memo_chars[0] == start


def test_nested_json_with_control_characters_lands_as_the_record_path_writes_it(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """DuckDB escapes some control characters with upper-case hex (``\\u001F``) where the record path writes
    lower case: a BATCH file's nested values holding them, with or without a fraction, land the record path's text
    (every control character, each alone and all in one string, in keys and values, nested). A file holding a NUL
    escape anywhere takes the record path (``content_refusal``: NUL in a string is dead-lettered), and lands alike."""
    props = {"Id": {"type": "string"}, "Addr": {"type": ["null", "object"]}}
    controls = [chr(i) for i in range(0x20)] + ["\x7f"]
    records: list[dict[str, Any]] = [
        {"Id": f"C{i:02d}", "Addr": {"s": f"a{ch}b", f"k{ch}": [{"n": ch}], "plain": 2}}
        for i, ch in enumerate(controls)
    ]
    records += [
        {"Id": "D1", "Addr": {"s": "".join(controls), "f": 1.5}},
        {"Id": "D2", "Addr": {"s": "".join(controls)}},
        {"Id": "D3", "Addr": {"s": "no control", "n": [1, 2]}},
        {"Id": "D4", "Addr": None},
    ]
    nul = [r for r in records if "\x00" in json.dumps(r, ensure_ascii=False)]
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, lambda where: [
        schema_msg("items", props, ["Id"], annotation("p", "items", "item")),
        *_batch_files(where, "items", [[r for r in records if r not in nul], nul]),
    ]):  # fmt: skip
        paths = _paths(run.stderr)["items"]
        assert (paths.get("batch_files_duckdb", 0), paths["batch_files_records"]) == ((0, 2) if exact else (1, 1))
        table = str(query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
        landed.append(query(store, f'SELECT id, CAST(addr AS VARCHAR) FROM "{table}" ORDER BY id'))
    assert len(landed[0]) == len(records)
    assert landed[0] == landed[1]
    assert ("C31", '{"s":"a\\u001fb","k\\u001f":[{"n":"\\u001f"}],"plain":2}') in landed[0]


def test_pii_loaded_in_place_stays_on_its_own_row(tmp_path: Path, config: dict[str, Any]) -> None:
    """A file of PII rows larger than DuckDB's read buffers (so it is read in parallel blocks) loaded in place, its
    PII protected inside the INSERT: every row decrypts to the values its own line carried (derived from its Id
    here); a key repeated later in the file lands its last line's values."""
    props = {
        "Id": {"type": "string"},
        "Name": {"type": ["null", "string"]},
        "SSN": {"type": ["null", "string"]},
        "BirthDate": {"type": ["null", "string"], "format": "date"},
    }
    note = annotation("workday", STREAM, "worker", keys=["Id"])
    note["canonical_fields"] = {"SSN": "national_id"}

    def ssn(i: int) -> str | None:
        return None if i % 7 == 0 else f"{i % 1000:03d}-{i % 97:02d}-{i:06d}"

    def born(i: int) -> str:
        return f"19{50 + i % 50}-{1 + i % 12:02d}-{1 + i % 28:02d}"

    count = 120_000  # about 40 MB: more than two of DuckDB's JSON read buffers
    records = [
        {"Id": f"R{i:06d}", "Name": f"{'n' * 300}{i}", "SSN": ssn(i), "BirthDate": born(i)} for i in range(count)
    ]
    records.append({"Id": "R000005", "Name": "last line wins", "SSN": "555-55-5555", "BirthDate": "2001-01-01"})
    files = tmp_path / "batches"
    files.mkdir()
    messages = [schema_msg(STREAM, props, ["Id"], note), *_batch_files(files, STREAM, [records]), state_msg({})]
    assert (files / "part-0.jsonl").stat().st_size > 32 * 1024 * 1024
    settings = {**config, "batch_locations": [str(files)]}
    run = run_target(settings, _encode(messages), tmp_path, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _paths(run.stderr)[STREAM] == {"batch_files_duckdb": 1}, run.stderr[-3000:]
    assert run.summary["streams"][STREAM] == {"received": count + 1, "loaded": count + 1, "dead_lettered": 0}
    key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())
    table = str(query(Path(config["duckdb_path"]), "SELECT table_name FROM _schema_metadata WHERE is_current")[0][0])
    landed = query(Path(config["duckdb_path"]), f'SELECT id, name, ssn, birth_date FROM "{table}"')
    assert len(landed) == count
    for row_id, name, protected_ssn, protected_birth in landed:
        i = int(row_id[1:])
        want_ssn, want_born = ("555-55-5555", "2001-01-01") if i == 5 else (ssn(i), born(i))
        assert name == ("last line wins" if i == 5 else f"{'n' * 300}{i}")
        assert (protected_ssn and engine_decrypt(protected_ssn, key)) == want_ssn, row_id
        assert engine_decrypt(protected_birth, key).startswith(want_born), row_id


#: Loaded first by the target CLI (``sitecustomize`` on PYTHONPATH): makes the scan's blocks one page, and, as
#: ``MEND_SCAN_FAULT`` says, refuses ``mmap`` as a file system without it does (ENODEV) or truncates each BATCH file
#: after the scan's first block, as a tap rewriting it under the target would.
_SCAN_FAULTS = """
import errno, mmap, os
from target_xlr8_truths import duckdb_store

duckdb_store._SCAN_CHUNK = 4096
fault = os.environ.get("MEND_SCAN_FAULT")
if fault == "nommap":
    class NoMmap:
        def __init__(self, *args, **kwargs):
            raise OSError(errno.ENODEV, "No such device")
    mmap.mmap = NoMmap
if fault == "truncate":
    scanning, refusal, nul_escape = [], duckdb_store.content_refusal, duckdb_store._has_nul_escape
    def content_refusal(path, *args, **kwargs):
        scanning.append(path)
        return refusal(path, *args, **kwargs)
    def has_nul_escape(*args, **kwargs):
        if scanning:
            os.truncate(scanning.pop(), 0)
        return nul_escape(*args, **kwargs)
    duckdb_store.content_refusal, duckdb_store._has_nul_escape = content_refusal, has_nul_escape
"""


def _faulty_scan_run(tmp_path: Path, config: dict[str, Any], fault: str) -> tuple[Any, Path]:
    """The target CLI given one BATCH file of 400 rows (several scan blocks) under ``_SCAN_FAULTS``' ``fault``."""
    (tmp_path / "faults").mkdir()
    (tmp_path / "faults" / "sitecustomize.py").write_text(_SCAN_FAULTS)
    files = tmp_path / "batches"
    files.mkdir()
    store = tmp_path / "truths.duckdb"
    rows = [{**FAST_FILE[0], "Id": f"R{i}"} for i in range(400)]
    messages = [schema_msg(STREAM, BATCH_PROPS, ["Id"]), *_batch_files(files, STREAM, [rows]), state_msg({"n": 1})]
    env = {
        "MEND_SCAN_FAULT": fault,
        "PYTHONPATH": os.pathsep.join([str(tmp_path / "faults"), os.environ.get("PYTHONPATH", "")]),
    }
    every = {**config, "duckdb_path": str(store), "batch_locations": [str(files)]}
    return run_target(every, _encode(messages), tmp_path, env=env), store


def test_batch_files_load_where_mmap_is_refused(tmp_path: Path, config: dict[str, Any]) -> None:
    """A file system without mmap (ENODEV) must not fail the run: the scan reads (review21d Low 2)."""
    run, store = _faulty_scan_run(tmp_path, config, "nommap")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary["streams"][STREAM] == {"received": 400, "loaded": 400, "dead_lettered": 0}
    assert _paths(run.stderr)[STREAM].get("batch_files_duckdb") == 1, run.stderr[-3000:]
    assert _rows(store) == 400


def _rows(store: Path) -> int:
    if not store.exists():
        return 0
    current = query(store, "SELECT table_name FROM _schema_metadata WHERE is_current")
    return int(query(store, f'SELECT count(*) FROM "{current[0][0]}"')[0][0]) if current else 0


def test_a_batch_file_truncated_while_scanned_fails_cleanly(tmp_path: Path, config: dict[str, Any]) -> None:
    """A BATCH file cut short during the scan fails the run with a named error (a mapped scan died of SIGBUS: no
    message, its spool left behind) and relays no STATE, and lands nothing (review21d Low 1)."""
    run, store = _faulty_scan_run(tmp_path, config, "truncate")
    assert run.returncode == 1, (run.returncode, run.stderr[-3000:])
    assert "changed size while it was scanned" in run.stderr, run.stderr[-3000:]
    assert "was not loaded" in run.stderr
    assert run.states == []
    assert _rows(store) == 0
