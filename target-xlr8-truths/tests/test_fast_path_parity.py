"""A BATCH file loaded by DuckDB's reader lands what the record path lands (RELIABILITY F1): a row the record path
dead-letters (NaN, a value of the wrong JSON type, a timestamp Python cannot read, a string over the field limit)
is never landed by the fast path. One bad row among good ones, per value class, through the target's CLI: the fast
run lands the good rows and dead-letters the bad one exactly as ``XLR8_TRUTHS_EXACT_PATH=1`` does."""

from __future__ import annotations

import base64
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from test_fast_paths import FILE_WRITTEN, _both_paths, _encode, _landed, _landed_of, _paths
from truths_testkit import annotation, run_target, schema_msg, state_msg

from target_xlr8_truths.columns import Column
from target_xlr8_truths.duckdb_store import _batch_file_columns
from target_xlr8_truths.records import MAX_FIELD_BYTES

STREAM = "people"
PROPS: dict[str, Any] = {
    "Id": {"type": "string"},
    "Code": {"type": "string"},  # a field the vendor never leaves empty: null is a schema violation
    "Name": {"type": ["null", "string"]},
    "SSN": {"type": ["null", "string"], "maxLength": 11},  # a national id: encrypted
    "Qty": {"type": ["null", "integer"]},
    "Amount": {"type": ["null", "number"]},  # a decimal in an XLR8 stream, a double in any other
    "Active": {"type": ["null", "boolean"]},
    "UpdatedAt": {"type": ["null", "string"], "format": "date-time"},
    "HireDate": {"type": ["null", "string"], "format": "date"},
    "Address": {"type": ["null", "object"], "properties": {"Street": {"type": ["null", "string"]}}},
    "Tags": {"type": ["null", "array"], "items": {"type": "string"}},
    # string lengths count code points (Python's len), as Salesforce's and OData's maxLength does
    "Title": {"type": ["null", "string"], "maxLength": 5},
    "Zip": {"type": ["null", "string"], "minLength": 3},
    "Email": {"type": ["null", "string"], "format": "email", "maxLength": 12},  # not a plain string
    "Status": {"type": ["null", "string"], "enum": ["open", "Zoë", None]},  # compared in SQL
    "Kind": {"type": ["null", "string"], "const": "k"},
}
GOOD = [
    '{"Id": "G1", "Code": "c1", "Name": "Zoë", "SSN": "123-45-6789", "Qty": 3, "Amount": 81234.5, "Active": true, '
    '"UpdatedAt": "2024-03-01T10:00:00.123+05:30", "HireDate": "2020-02-29", "Address": {"Street": "1 Main St", '
    '"Geo": [1.5, -2]}, "Tags": ["a", "b"], "Title": "Dr.", "Zip": "123", "Email": "a@b.example", "Status": "open", '
    '"Kind": "k"}',
    '{"Id": "G2", "Code": "c2", "Name": "12345", "SSN": "tab\\there", "Qty": -922337203685477, "Amount": 0.1, '
    '"Active": false, "UpdatedAt": "2024-03-01 10:00:00Z", "HireDate": "0001-01-01", "Address": null, "Tags": [], '
    # 5, 3 and 11 code points in 10, 4 and 13 bytes: within the limits
    '"Title": "\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9", "Zip": "e\\u0301e", "Email": "\\u00e9@\\u00e9.example", '
    '"Status": "Zo\\u00eb", "Kind": "k"}',
    '{"Id": "G3", "Code": "c3", "Name": "a backslash, then u0000: \\\\u0000", "SSN": null, "Qty": null, '
    '"Amount": null, "Active": null, "UpdatedAt": null, '
    # 5 code points in 20 bytes (surrogate pairs), 3 in 6
    '"Title": "' + "\\ud83d\\ude00" * 5 + '", "Zip": "ééé", "Email": null, "Status": null, "Kind": "k"}',
]


def _deep(levels: int) -> str:
    return '{"a": ' * (levels - 1) + "1" + "}" * (levels - 1)


#: (case, an XLR8 stream, the bad row's fields as JSON text)
CASES = [
    ("NaN in a double", False, '"Amount": NaN'),
    ("Infinity in a double", False, '"Amount": Infinity'),
    ("-Infinity in a double", False, '"Amount": -Infinity'),
    ("1e400 in a double", False, '"Amount": 1e400'),
    ("NaN in a decimal", True, '"Amount": NaN'),
    ("a string in an integer column", True, '"Qty": "2"'),
    ("a number in a boolean column", True, '"Active": 2'),
    ("a string in a boolean column", True, '"Active": "true"'),
    ("a string in an object column", True, '"Address": "x"'),
    ("a number in an object column", True, '"Address": 5'),
    ("an object in an array column", True, '"Tags": {"a": 1}'),
    ("a number in a PII column", True, '"SSN": 5'),
    ("an object in a PII column", True, '"SSN": {"x": 1}'),
    ("an offset of 25 hours", True, '"UpdatedAt": "2024-01-01T00:00:00+25:00"'),
    ("year 10000", True, '"UpdatedAt": "10000-01-01T00:00:00Z"'),
    ("year 0", True, '"UpdatedAt": "0000-01-01T00:00:00Z"'),
    ("hour 24", True, '"UpdatedAt": "2024-01-01T24:00:00Z"'),
    ("infinity as a timestamp", True, '"UpdatedAt": "infinity"'),
    ("a one-digit month", True, '"UpdatedAt": "2024-1-01T00:00:00Z"'),
    ("a date in year 0", True, '"HireDate": "0000-01-01"'),
    ("a NUL byte in a string", True, '"Name": "a\\u0000b"'),
    ("NaN inside an object", True, '"Address": {"Street": "x", "n": NaN}'),
    ("an object nested 65 levels", True, f'"Address": {_deep(65)}'),
    ("a string over the field limit", True, '"Name": "' + "x" * (MAX_FIELD_BYTES + 1) + '"'),
    ("null in a string column that is not nullable", True, '"Code": null'),
    ("null in a not nullable column of another tap", False, '"Code": null'),
    ("a space in a date", True, '"HireDate": "2024-03-1 "'),
    ("a space in a timestamp", True, '"UpdatedAt": "2024-03-01T 0:00:00.123Z"'),
    ("1e-400 in a decimal (a double reads 0)", True, '"Amount": 1e-400'),
    ("1.5E-310 in a decimal (a double holds fewer digits)", True, '"Amount": 1.5E-310'),
    ("a string in a decimal column", True, '"Amount": "12"'),
    ("a string of a fraction in a decimal column", True, '"Amount": "1.5"'),
    ("a boolean in a decimal column", True, '"Amount": true'),
    ("a string in a double column", False, '"Amount": "12"'),
    ("a boolean in a double column", False, '"Amount": false'),
    ("a string over its maxLength", True, '"Title": "Doctor"'),
    ("a string over its maxLength in another tap's stream", False, '"Title": "Doctor"'),
    ("a string over its maxLength in code points, escaped", True, '"Title": "' + "\\u00e9" * 6 + '"'),
    ("a string over its maxLength in code points, raw", True, '"Title": "éééééé"'),
    ("surrogate pairs over a maxLength", True, '"Title": "' + "\\ud83d\\ude00" * 6 + '"'),
    ("a string under its minLength", True, '"Zip": "12"'),
    ("a string under its minLength in code points", True, '"Zip": "\\u00e9\\u00e9"'),
    ("an empty string under a minLength", False, '"Zip": ""'),
    ("a PII string over its maxLength", True, '"SSN": "123-45-67890"'),
    ("a string with a format over its maxLength", True, '"Email": "someone@b.example"'),
    ("a string with a format over its maxLength in code points", True, '"Email": "' + "\\u00e9" * 13 + '"'),
    ("a string not in its enum", True, '"Status": "pending"'),
    ("a string not in its enum in another tap's stream", False, '"Status": "Open"'),
    ("a string not in its enum by a combining accent", True, '"Status": "Zoe\\u0308"'),
    ("a string other than its const", True, '"Kind": "x"'),
    ("null where a const allows only a string", True, '"Kind": null'),
    ("a number in a string column with an enum", True, '"Status": 12'),
]

#: Known to differ (target README "Known limits"): DuckDB reads a plain string column as VARCHAR, which takes any
#: JSON value's text; reading it as JSON to check the type ran long text out of the batch pool and cost 8-10% of
#: the target's CPU (review22d; aa41760 reverted). Strict: closing the gap turns these into failures to move up.
STRING_GAP = pytest.mark.xfail(
    strict=True, reason="a non-string in a plain string column lands as its text by the fast path"
)
STRING_GAP_CASES = [
    ("a number in a string column", True, '"Name": 12'),
    ("a fraction in a string column of another tap", False, '"Name": 1.5'),
    ("a boolean in a string column", True, '"Name": true'),
    ("an object in a string column", True, '"Name": {"a": 1}'),
    ("an array in a string column", True, '"Name": ["a"]'),
    ("a number in a not nullable string column", True, '"Code": 5'),
]


def _absence_marked(props: dict[str, Any]) -> set[str]:
    """Properties whose absence alone sends a file to the record path (DuckDB reads absent as null): a type without
    null, or an enum or const that leaves null out."""
    marked = set()
    for name, prop in props.items():
        if not isinstance(prop, dict):  # a boolean schema: refused at the SCHEMA
            continue
        types = prop.get("type")
        types = [types] if isinstance(types, str) else types or []
        choices = prop["enum"] if "enum" in prop else [prop["const"]] if "const" in prop else [None]
        if (types and "null" not in types) or None not in choices:
            marked.add(name)
    return marked


def _messages(
    files: Path,
    lines: list[str],
    exact_numbers: bool,
    props: dict[str, Any] | None = None,
    *,
    stream: dict[str, Any] | None = None,
    absent: frozenset[str] = frozenset(),
) -> list[dict[str, Any]]:
    """One BATCH file of ``lines`` (written at ``FILE_WRITTEN``) for an XLR8 stream or another tap's (``stream``:
    keywords of the stream's schema). Every row must carry each property whose absence alone would send the file to
    the record path, but for those in ``absent``: a test of a path then cannot pass for that reason alone (review22g:
    a row without ``Kind`` left the 1e-400 test unable to fail)."""
    props = props or PROPS
    for line in lines:
        missing = _absence_marked(props) - set(json.loads(line)) - absent
        assert not missing, f"the row lacks {sorted(missing)}, which alone sends its file to the record path: {line}"
    note = annotation("workday", STREAM, "person", keys=["Id"]) if exact_numbers else None
    if note is not None:
        note["canonical_fields"] = {"SSN": "national_id"}
    path = files / "part-0.jsonl"
    path.write_text("\n".join(lines) + "\n")
    os.utime(path, (FILE_WRITTEN, FILE_WRITTEN))
    batch = {"type": "BATCH", "stream": STREAM, "manifest": [f"file://{path}"],
             "encoding": {"format": "jsonl", "compression": "none"}}  # fmt: skip
    schema = schema_msg(STREAM, props, ["Id"], note)
    schema["schema"].update(stream or {})
    return [schema, batch, state_msg({"done": True})]


@pytest.mark.parametrize("exact_numbers", [True, False], ids=["XLR8 stream", "another tap's stream"])
def test_the_good_rows_alone_take_duckdbs_reader_and_land_what_the_record_path_lands(
    tmp_path: Path, config: dict[str, Any], exact_numbers: bool
) -> None:
    """The control for the test below: without the bad row, the file is DuckDB's, so only that row sends it away."""
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, lambda files: _messages(files, GOOD, exact_numbers)):
        assert run.summary["streams"][STREAM] == {"received": 3, "loaded": 3, "dead_lettered": 0}, exact
        paths = _paths(run.stderr)[STREAM]
        assert (paths.get("batch_files_duckdb", 0), paths.get("batch_files_records", 0)) == (
            (0, 1) if exact else (1, 0)
        )
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]
    assert len(landed[0][0]) == 3


@pytest.mark.parametrize(
    ("exact_numbers", "bad"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES]
    + [pytest.param(*c[1:], id=c[0], marks=STRING_GAP) for c in STRING_GAP_CASES],
)
def test_a_row_the_record_path_dead_letters_is_dead_lettered_by_either_path(
    tmp_path: Path, config: dict[str, Any], exact_numbers: bool, bad: str
) -> None:
    def build(files: Path) -> list[dict[str, Any]]:
        # Kind: absent reads as null, which its const refuses: that alone would send every bad row away
        code = ("" if '"Code"' in bad else '"Code": "b1", ') + ("" if '"Kind"' in bad else '"Kind": "k", ')
        return _messages(files, [GOOD[0], f'{{"Id": "B1", {code}{bad}}}', *GOOD[1:]], exact_numbers)

    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())  # made by the first run
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}, exact
        paths = _paths(run.stderr)[STREAM]
        assert (paths.get("batch_files_duckdb", 0), paths["batch_files_records"]) == (0, 1), run.stderr[-3000:]
        assert run.states == [{"done": True}]
        landed.append(_landed(store, key))
    fast, record = landed
    assert fast == record
    assert [k for k, _, _ in fast[1]] == ['["B1"]']
    assert sorted(dict(r)["id"] for r in fast[0]) == ["'G1'", "'G2'", "'G3'"]


def test_a_not_nullable_property_left_out_lands_as_the_record_path_lands_it(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """Absent is not null to the validator (the property is not required): the row lands, by either path, with the
    column NULL (DuckDB's reader cannot tell absent from null, so the file takes the record path)."""
    rows = [*GOOD, '{"Id": "A1", "Name": "no code"}']
    landed = []

    def build(files: Path) -> list[dict[str, Any]]:
        return _messages(files, rows, True, absent=frozenset({"Code", "Kind"}))

    for exact, store, run in _both_paths(tmp_path, config, build):
        key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 4, "dead_lettered": 0}, exact
        landed.append(_landed(store, key))
    assert landed[0] == landed[1]


@pytest.mark.parametrize("number", ["1e-400", "-2.5E-0400", "1.5e-310"])
def test_a_number_below_the_double_range_in_nested_json_keeps_its_digits_by_either_path(
    tmp_path: Path, config: dict[str, Any], number: str
) -> None:
    """DuckDB's reader reads 1e-400 as a double, 0, and wrote it ``0.0`` in nested JSON; the record path keeps its
    digits. The file now takes the record path, and both land the same text (review 20d)."""
    # ``Kind`` given: without it the const alone would send the file away and the test could not fail (review22g)
    row = '{"Id": "T1", "Code": "t1", "Kind": "k", "Address": {"Street": "x", "Geo": [' + number + ", 1.5]}}"
    rows = [*GOOD, row]
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, lambda files: _messages(files, rows, True)):
        key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 4, "dead_lettered": 0}, exact
        assert _paths(run.stderr)[STREAM]["batch_files_records"] == 1, run.stderr[-3000:]
        landed.append(_landed(store, key))
    assert landed[0] == landed[1]
    address = next(dict(r)["address"] for r in landed[0][0] if dict(r)["id"] == "'T1'")
    assert f'"Geo":["{format(Decimal(number), "f")}","1.5"]' in address, address  # every digit, as text


def test_long_text_values_take_duckdbs_reader_at_the_default_memory_limits(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """review 22d: plain strings read as DuckDB ``JSON`` (aa41760, reverted) ran a file of 2,000 rows with 8 KiB names
    (16 MB) out of the default 128MB batch pool, so the run exited 1 and every rerun failed the same way. Such a
    file is DuckDB's at the defaults and lands what the record path lands."""
    text = [chr(97 + i % 26) * 8192 for i in range(2000)]  # Kind: absent is null to its const (record path)
    rows = [f'{{"Id": "L{i:04d}", "Code": "c{i}", "Name": "{v}", "Kind": "k"}}' for i, v in enumerate(text)]
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, lambda files: _messages(files, rows, True)):
        key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())
        assert run.summary["streams"][STREAM] == {"received": 2000, "loaded": 2000, "dead_lettered": 0}, exact
        paths = _paths(run.stderr)[STREAM]
        assert (paths.get("batch_files_duckdb", 0), paths.get("batch_files_records", 0)) == (
            (0, 1) if exact else (1, 0)
        )
        landed.append(_landed(store, key))
    assert landed[0] == landed[1]
    assert len(landed[0][0]) == 2000


_NESTS = ["null", "object", "array"]
#: (keyword, the property declaring it, the bad row's fields as JSON text)
UNCHECKED = [
    ("enum of integers", {"type": ["null", "integer"], "enum": [1, 2]}, '"Extra": 3'),
    ("const number", {"type": ["null", "number"], "const": 1.5}, '"Extra": 2'),
    ("enum with a pattern", {"type": ["null", "string"], "enum": ["ab", "cd"], "pattern": "^a"}, '"Extra": "cd"'),
    ("pattern", {"type": ["null", "string"], "pattern": "^[A-Z]{3}$"}, '"Extra": "abcd"'),
    ("minimum", {"type": ["null", "integer"], "minimum": 0}, '"Extra": -1'),
    ("maximum", {"type": ["null", "integer"], "maximum": 10}, '"Extra": 11'),
    ("exclusiveMinimum", {"type": ["null", "number"], "exclusiveMinimum": 0}, '"Extra": 0'),
    ("exclusiveMaximum", {"type": ["null", "number"], "exclusiveMaximum": 1}, '"Extra": 1.5'),
    ("not", {"type": ["null", "string"], "not": {"const": "x"}}, '"Extra": "x"'),
    ("enum on a PII string", {"type": ["null", "string"], "enum": ["123-45-6789", "tab\there", None]}, '"SSN": "x"'),
    # text columns that are not plain strings: their VARCHAR holds other types' text, so SQL does not compare
    ("enum on a string or integer", {"type": ["null", "string", "integer"], "enum": ["5", None]}, '"Extra": 5'),
    (
        "enum on a string with a format",
        {"type": ["null", "string"], "format": "email", "enum": ["a@b.c"]},
        '"Extra": "x"',
    ),
    # review22g: keywords the deny-list missed, now off the allow-list
    ("maxItems", {"type": ["null", "array"], "items": {"type": "string"}, "maxItems": 1}, '"Extra": ["a", "b"]'),
    ("minItems", {"type": ["null", "array"], "items": {"type": "string"}, "minItems": 2}, '"Extra": ["a"]'),
    (
        "uniqueItems",
        {"type": ["null", "array"], "items": {"type": "string"}, "uniqueItems": True},
        '"Extra": ["a", "a"]',
    ),
    ("contains", {"type": ["null", "array"], "contains": {"const": "x"}}, '"Extra": ["a"]'),
    (
        "anyOf around a maxLength",
        {"anyOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]},
        '"Extra": "abcdef"',
    ),
    ("anyOf around an enum", {"anyOf": [{"type": "string", "enum": ["a"]}, {"type": "null"}]}, '"Extra": "zzz"'),
    ("oneOf", {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]}, '"Extra": "abcdef"'),
    ("allOf", {"type": ["null", "string"], "allOf": [{"maxLength": 2}]}, '"Extra": "abcdef"'),
    ("if and then", {"type": ["null", "string"], "if": {"const": "a"}, "then": {"maxLength": 0}}, '"Extra": "a"'),
    ("required on an object", {"type": ["null", "object"], "required": ["k"]}, '"Extra": {"j": 1}'),
    ("minProperties", {"type": ["null", "object"], "minProperties": 1}, '"Extra": {}'),
    ("propertyNames", {"type": ["null", "object"], "propertyNames": {"maxLength": 1}}, '"Extra": {"long": 1}'),
    (
        "additionalProperties false on an object",
        {"type": ["null", "object"], "additionalProperties": False},
        '"Extra": {"k": 1}',
    ),
    (
        "an unknown keyword beside an enum",
        {"type": ["null", "string"], "enum": ["a", None], "maxItems": 1},
        '"Extra": "b"',
    ),
    # keywords inside a nested JSON column's properties or items (its types there are checked in SQL:
    # test_fast_path_nested.py)
    (
        "nested maxLength",
        {"type": _NESTS, "properties": {"city": {"type": "string", "maxLength": 2}}},
        '"Extra": {"city": "Boston"}',
    ),
    (
        "nested enum",
        {"type": _NESTS, "properties": {"city": {"type": "string", "enum": ["a"]}}},
        '"Extra": {"city": "b"}',
    ),
    (
        "nested pattern",
        {"type": _NESTS, "properties": {"city": {"type": "string", "pattern": "^a"}}},
        '"Extra": {"city": "b"}',
    ),
    ("nested minimum", {"type": _NESTS, "items": {"type": "integer", "minimum": 0}}, '"Extra": [-1]'),
    ("nested required", {"type": _NESTS, "items": {"type": "object", "required": ["k"]}}, '"Extra": [{"j": 1}]'),
    (
        "nested additionalProperties false",
        {"type": _NESTS, "properties": {"a": {"type": "object", "additionalProperties": False}}},
        '"Extra": {"a": {"b": 1}}',
    ),
    ("a nested false schema", {"type": _NESTS, "properties": {"gone": False}}, '"Extra": {"gone": 1}'),
    ("nested items false", {"type": _NESTS, "items": {"type": "array", "items": False}}, '"Extra": [[1]]'),
    (
        "a nested name holding a quote",
        {"type": _NESTS, "properties": {'a"b': {"type": "string"}}},
        '"Extra": {"a\\"b": 1}',
    ),
    ("an empty nested name", {"type": _NESTS, "properties": {"": {"type": "string"}}}, '"Extra": {"": 1}'),
    # review24d #1: DuckDB reads $."*" as its wildcard and refuses it among several paths: every file failed
    ("a nested name that is a star", {"type": _NESTS, "properties": {"*": {"type": "string"}}}, '"Extra": {"*": 1}'),
]


@pytest.mark.parametrize(("prop", "bad"), [c[1:] for c in UNCHECKED], ids=[c[0] for c in UNCHECKED])
def test_a_property_declaring_a_keyword_sql_does_not_check_keeps_its_files_on_the_record_path(
    tmp_path: Path, config: dict[str, Any], prop: dict[str, Any], bad: str
) -> None:
    """enum, const, pattern, bounds: the record path's validator dead-letters a value outside them and the fast
    path's SQL does not look, so a stream declaring one has its files read record by record, with the reason."""

    def build(files: Path) -> list[dict[str, Any]]:
        rows = [GOOD[0], f'{{"Id": "B1", "Code": "b1", "Kind": "k", {bad}}}', *GOOD[1:]]
        name = "SSN" if '"SSN"' in bad else "Extra"  # SSN: the stream's PII column
        # the good rows leave Extra out: the reason asserted below is the keyword, whatever its absence does
        return _messages(files, rows, True, {**PROPS, name: prop}, absent=frozenset({"Extra"}))

    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == 0, run.stderr[-3000:]
        if not exact:
            assert "keywords the fast path does not check (" in run.stderr, run.stderr[-3000:]
        landed.append(_landed(store, key))
    assert landed[0] == landed[1]
    assert [k for k, _, _ in landed[0][1]] == ['["B1"]']


#: (case, an XLR8 stream, the property, the bad row's fields as JSON text): review23e finding 1, a type-only
#: ``anyOf`` read as a type list must be checked as one (null and JSON shape), and one beside a ``type`` is not
ANYOF_TYPES = [
    ("null in a union without null", True, {"anyOf": [{"type": "string"}, {"type": "integer"}]}, '"Extra": null'),
    (
        "null in a union without null of another tap",
        False,
        {"anyOf": [{"type": "string"}, {"type": "integer"}]},
        '"Extra": null',
    ),
    ("a string in an object-only union", True, {"anyOf": [{"type": "object"}, {"type": "null"}]}, '"Extra": "x"'),
    ("a number in an array-only union", True, {"anyOf": [{"type": "array"}]}, '"Extra": 5'),
    (
        "null in a type with a union without null",
        True,
        {"type": ["null", "string"], "anyOf": [{"type": "string"}, {"type": "integer"}]},
        '"Extra": null',
    ),
    (
        "an integer in a type outside its union",
        True,
        {"type": ["integer", "null"], "anyOf": [{"type": "string"}, {"type": "null"}]},
        '"Extra": 5',
    ),
]


@pytest.mark.parametrize(
    ("exact_numbers", "prop", "bad"), [c[1:] for c in ANYOF_TYPES], ids=[c[0] for c in ANYOF_TYPES]
)
def test_an_anyof_of_types_is_checked_as_the_type_list_it_amounts_to(
    tmp_path: Path, config: dict[str, Any], exact_numbers: bool, prop: dict[str, Any], bad: str
) -> None:
    """review23e finding 1: the column kind came from the union, but the null and shape marks read only the
    top-level ``type``, so DuckDB's reader landed what the validator dead-letters."""

    def build(files: Path) -> list[dict[str, Any]]:
        rows = [GOOD[0], f'{{"Id": "B1", "Code": "b1", "Kind": "k", {bad}}}', *GOOD[1:]]
        return _messages(files, rows, exact_numbers, {**PROPS, "Extra": prop}, absent=frozenset({"Extra"}))

    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == 0, run.stderr[-3000:]
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]
    assert [k for k, _, _ in landed[0][1]] == ['["B1"]']


def test_an_anyof_of_types_with_its_values_keeps_duckdbs_reader(tmp_path: Path, config: dict[str, Any]) -> None:
    """The control: a non-nullable union whose rows all carry a value of its types stays DuckDB's."""
    prop = {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    rows = [line[:-1] + f', "Extra": {v}}}' for line, v in zip(GOOD, ['"a"', "5", '"b"'], strict=True)]
    build = lambda files: _messages(files, rows, True, {**PROPS, "Extra": prop})  # noqa: E731
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        assert run.summary["streams"][STREAM] == {"received": 3, "loaded": 3, "dead_lettered": 0}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == (0 if exact else 1), run.stderr[-3000:]
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]


#: (case, the property, the bad row's fields as JSON text): review23e finding 3, other columns read as text
TEXT_GAP_CASES = [
    ("a string in a null-only column", {"type": "null"}, '"Extra": "x"'),
    ("an object in a null, boolean or string column", {"type": ["null", "boolean", "string"]}, '"Extra": {"a": 1}'),
    (
        "a boolean in an integer, string or null union",
        {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
        '"Extra": true',
    ),
]


@pytest.mark.xfail(strict=True, reason="a column read as text lands any JSON value's text by the fast path")
@pytest.mark.parametrize(("prop", "bad"), [c[1:] for c in TEXT_GAP_CASES], ids=[c[0] for c in TEXT_GAP_CASES])
def test_a_value_of_an_undeclared_type_in_a_text_column_is_dead_lettered_by_either_path(
    tmp_path: Path, config: dict[str, Any], prop: dict[str, Any], bad: str
) -> None:
    """The README's known limit, kept strict: every column read as text lands any JSON value's text."""

    def build(files: Path) -> list[dict[str, Any]]:
        rows = [GOOD[0], f'{{"Id": "B1", "Code": "b1", "Kind": "k", {bad}}}', *GOOD[1:]]
        return _messages(files, rows, True, {**PROPS, "Extra": prop}, absent=frozenset({"Extra"}))

    for exact, _store, run in _both_paths(tmp_path, config, build):
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}, exact


@pytest.mark.parametrize("kind", ["text", "json", "integer"])
def test_choices_on_a_column_the_sql_does_not_compare_mark_every_row(kind: str) -> None:
    """The sink leaves an enum off ``_unchecked_keywords`` because the SQL compares it: a column that reaches the
    SQL read otherwise (PII as JSON text, a JSON or integer column) marks every row rather than skip the check."""
    protected = ["s"] if kind == "text" else []
    _, _, _, bad = _batch_file_columns([Column("s", "S", kind)], protected=protected, choices={"S": ("a",)})
    assert ("s", "TRUE") in bad, bad


#: (case, stream-level keywords, the bad row's fields as JSON text) on another tap's stream (no ``x-xlr8``)
STREAM_KEYWORDS = [
    ("additionalProperties false", {"additionalProperties": False}, '"NotDeclared": "x"'),
    ("additionalProperties a schema", {"additionalProperties": {"type": "integer"}}, '"NotDeclared": "x"'),
    ("required, a property not declared", {"required": ["Id", "Missing"]}, '"Name": "x"'),
    ("minProperties", {"minProperties": 30}, '"Name": "x"'),
]


@pytest.mark.parametrize(("keywords", "bad"), [c[1:] for c in STREAM_KEYWORDS], ids=[c[0] for c in STREAM_KEYWORDS])
def test_a_stream_declaring_a_keyword_sql_does_not_check_keeps_its_files_on_the_record_path(
    tmp_path: Path, config: dict[str, Any], keywords: dict[str, Any], bad: str
) -> None:
    """review22g: a stream's own ``additionalProperties: false`` (or ``required``) is enforced by the record path's
    validator; DuckDB's reader ignores undeclared keys. Such a stream of another tap takes the record path."""

    def build(files: Path) -> list[dict[str, Any]]:
        rows = [GOOD[0], f'{{"Id": "B1", "Code": "b1", "Kind": "k", {bad}}}', *GOOD[1:]]
        return _messages(files, rows, False, stream=keywords)

    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        dead = 4 if "required" in keywords or "minProperties" in keywords else 1  # no row has them all
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 4 - dead, "dead_lettered": dead}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == 0, run.stderr[-3000:]
        if not exact:
            assert f"(stream): {next(iter(keywords))}" in run.stderr, run.stderr[-3000:]
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]


@pytest.mark.parametrize("exact_numbers", [True, False], ids=["XLR8 stream", "another tap's stream"])
def test_a_required_property_the_sql_reads_is_checked_there(
    tmp_path: Path, config: dict[str, Any], exact_numbers: bool
) -> None:
    """OData streams list their keys in ``required``: a file whose rows all carry them stays DuckDB's (the control:
    every tap's stream keeps the fast path), and a row leaving one out is dead-lettered by either path (DuckDB reads
    absent as null, which is marked)."""
    keywords = {"required": ["Id", "Name"]}
    for rows, dead in ((GOOD, 0), ([*GOOD, '{"Id": "R1", "Code": "r1", "Kind": "k"}'], 1)):
        where = tmp_path / str(dead)
        landed = []
        for exact, store, run in _both_paths(
            where, config, lambda files, rows=rows: _messages(files, rows, exact_numbers, stream=keywords)
        ):
            assert run.summary["streams"][STREAM] == {"received": len(rows), "loaded": 3, "dead_lettered": dead}
            paths = _paths(run.stderr)[STREAM]
            assert paths.get("batch_files_duckdb", 0) == (0 if exact or dead else 1), run.stderr[-3000:]
            assert "keywords the fast path does not check" not in run.stderr
            landed.append(_landed_of(store, config))
        assert landed[0] == landed[1]


def test_additional_properties_false_on_an_xlr8_stream_keeps_duckdbs_reader(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """tap-salesforce declares ``additionalProperties: false`` on every stream; its SOQL selects exactly the
    schema's fields and its records' last step drops any other key (``test_undeclared_keys.py``), so its files stay
    DuckDB's."""
    build = lambda files: _messages(files, GOOD, True, stream={"additionalProperties": False})  # noqa: E731
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        assert run.summary["streams"][STREAM] == {"received": 3, "loaded": 3, "dead_lettered": 0}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == (0 if exact else 1), run.stderr[-3000:]
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]


def test_a_schema_valued_additional_properties_on_an_xlr8_stream_keeps_its_files_on_the_record_path(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """review23e finding 2: only ``false`` exactly is trusted; a schema keeps undeclared keys and checks them, which
    DuckDB's reader does not (it landed the row)."""
    rows = [GOOD[0], '{"Id": "B1", "Code": "b1", "Kind": "k", "NotDeclared": "x"}', *GOOD[1:]]
    keywords = {"additionalProperties": {"type": "integer"}}
    build = lambda files: _messages(files, rows, True, stream=keywords)  # noqa: E731
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build):
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == 0, run.stderr[-3000:]
        if not exact:
            assert "(stream): additionalProperties" in run.stderr, run.stderr[-3000:]
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]
    assert [k for k, _, _ in landed[0][1]] == ['["B1"]']


@pytest.mark.xfail(strict=True, reason="an XLR8 stream's additionalProperties: false is trusted, not checked")
def test_an_undeclared_key_in_an_xlr8_streams_file_is_dead_lettered_by_either_path(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """The known limit the trust above leaves (target README): a file the kit did not conform."""
    rows = [GOOD[0], '{"Id": "B1", "Code": "b1", "Kind": "k", "NotDeclared": "x"}', *GOOD[1:]]
    build = lambda files: _messages(files, rows, True, stream={"additionalProperties": False})  # noqa: E731
    for exact, _store, run in _both_paths(tmp_path, config, build):
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}, exact


DROP_EXTRA = {"columns": {"(?i)^extra$": "drop"}}
#: (case, the dropped property, its value in the good rows, the bad row's fields as JSON text): review22g finding 2
DROPPED = [
    ("an enum", {"type": ["null", "string"], "enum": ["ok", None]}, '"ok"', '"Extra": "bad"'),
    ("a maxLength", {"type": ["null", "string"], "maxLength": 2}, '"ok"', '"Extra": "toolong"'),
    ("an integer type", {"type": ["null", "integer"]}, "7", '"Extra": "2"'),
    (
        "a date-time",
        {"type": ["null", "string"], "format": "date-time"},
        '"2024-01-01T10:00:00Z"',
        '"Extra": "2024-01-01T24:00:00Z"',
    ),
    ("a not nullable type", {"type": "string"}, '"ok"', '"Extra": null'),
    ("a pattern", {"type": ["null", "string"], "pattern": "^a"}, '"ab"', '"Extra": "b"'),
]
#: The string gap (``STRING_GAP``) holds for a dropped plain string as for a stored one: read as VARCHAR.
DROPPED_STRING_GAP = [("a string type", {"type": ["null", "string"]}, '"ok"', '"Extra": {"a": 1}')]


@pytest.mark.parametrize(
    ("prop", "good", "bad"),
    [pytest.param(*c[1:], id=c[0]) for c in DROPPED]
    + [pytest.param(*c[1:], id=c[0], marks=STRING_GAP) for c in DROPPED_STRING_GAP],
)
def test_a_property_pii_policy_drops_is_validated_by_either_path(
    tmp_path: Path, config: dict[str, Any], prop: dict[str, Any], good: str, bad: str
) -> None:
    """review22g finding 2: the record path validates the whole record, dropped properties included; the fast path
    now reads a dropped property for its checks (never into a table), so both dead-letter the same row."""

    def build(files: Path) -> list[dict[str, Any]]:
        rows = [line[:-1] + f', "Extra": {good}}}' for line in GOOD]
        rows.insert(1, f'{{"Id": "B1", "Code": "b1", "Kind": "k", {bad}}}')
        return _messages(files, rows, True, {**PROPS, "Extra": prop})

    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build, pii_policy=DROP_EXTRA):
        assert run.summary["streams"][STREAM] == {"received": 4, "loaded": 3, "dead_lettered": 1}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == 0, run.stderr[-3000:]
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]
    assert [k for k, _, _ in landed[0][1]] == ['["B1"]']
    assert all("extra" not in dict(r) for r in landed[0][0])


def test_a_dropped_property_with_good_values_keeps_duckdbs_reader_and_never_lands(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    """The control: a dropped property's checks cost no path, and its values reach no table."""
    prop = {"type": ["null", "string"], "maxLength": 40, "enum": ["secret-value-1", "secret-value-2", None]}
    rows = [line[:-1] + f', "Extra": "secret-value-{i % 2 + 1}"}}' for i, line in enumerate(GOOD)]
    build = lambda files: _messages(files, rows, True, {**PROPS, "Extra": prop})  # noqa: E731
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, build, pii_policy=DROP_EXTRA):
        assert run.summary["streams"][STREAM] == {"received": 3, "loaded": 3, "dead_lettered": 0}, exact
        assert _paths(run.stderr)[STREAM].get("batch_files_duckdb", 0) == (0 if exact else 1), run.stderr[-3000:]
        assert b"secret-value" not in store.read_bytes()
        landed.append(_landed_of(store, config))
    assert landed[0] == landed[1]
    assert all("extra" not in dict(r) for r in landed[0][0])


@pytest.mark.parametrize("value", [True, False])
@pytest.mark.parametrize("exact", [False, True], ids=["fast path", "record path"])
def test_a_boolean_property_schema_stops_the_target_naming_stream_and_property(
    tmp_path: Path, config: dict[str, Any], value: bool, exact: bool
) -> None:
    """review23e finding 6: ``"Extra": true`` (the metaschema allows it) stopped the target with "'bool' object has
    no attribute 'get'", naming nothing; it now names the stream and the property, and lands nothing."""
    files = tmp_path / "batches"
    files.mkdir()
    store = tmp_path / "truths.duckdb"
    messages = _messages(files, GOOD, True, {**PROPS, "Extra": value})
    every = {**config, "duckdb_path": str(store), "batch_locations": [str(files)]}
    run = run_target(every, _encode(messages), tmp_path, env={"XLR8_TRUTHS_EXACT_PATH": "1"} if exact else {})
    assert run.returncode == 1, run.stderr[-3000:]
    assert f"stream {STREAM} property Extra: a boolean schema ({str(value).lower()}) is not supported" in run.stderr
    assert "has no attribute" not in run.stderr
    assert not run.stdout.strip()  # no STATE
