"""A nested JSON column's schema types the values inside it (a Salesforce address's parts, an Oracle child
collection's attributes, a Workday report's nested groups): the record path's validator dead-letters a row whose
nested value breaks them, so a BATCH file loaded by DuckDB's reader must not land it (RELIABILITY F1). The types in
there are checked in the fast path's SQL; any other keyword in there sends the stream's files to the record path
(the nested cases of test_fast_path_parity.py's ``UNCHECKED``).
Through the target's CLI, both paths compared: same rows, same dead letters (key, error, JSON path, payload)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from test_fast_path_parity import GOOD, PROPS, _messages
from test_fast_paths import _both_paths, _landed, _paths
from truths_testkit import query

STREAM = "people"
#: The shapes this repository's taps send nested: tap-salesforce's address and location compound fields
#: (``discovery.field_schema``), tap-oracle-hcm/erp's child collections (``xlr8_kit.oracle.describe``: arrays of
#: objects of typed attributes, grandchildren inside), tap-workday's RaaS groups (``discovery._property``: objects
#: and arrays of objects with dates), and an array of plain values.
NESTED: dict[str, Any] = {
    "Mailing": {
        "type": ["object", "null"],
        "properties": {
            "street": {"type": ["string", "null"]},
            "city": {"type": ["string", "null"]},
            "postal code": {"type": ["string", "null"]},  # a name a path must quote
            "latitude": {"type": ["number", "null"]},
            "longitude": {"type": ["number", "null"]},
        },
    },
    "Lines": {
        "type": ["array", "null"],
        "items": {
            "type": "object",
            "properties": {
                "LineId": {"type": "integer"},
                "Quantity": {"type": ["integer", "null"]},
                "Price": {"type": ["number", "null"]},
                "Taxable": {"type": ["boolean", "null"]},
                "Needed": {"type": ["string", "null"], "format": "date"},
                "Dists": {
                    "type": ["array", "null"],
                    "items": {"type": "object", "properties": {"Amount": {"type": ["number", "null"]}}},
                },
            },
        },
    },
    "Group": {
        "type": ["object", "null"],
        "properties": {"Worker": {"type": ["object", "null"], "properties": {"Hired": {"type": ["string", "null"]}}}},
    },
}
NESTED_PROPS = {**PROPS, **NESTED}
#: Good nested values of every kind: absent and null parts, integers where a number is, negative and uint64
#: integers, empty arrays, an escaped key, grandchildren.
NESTED_GOOD = [
    '{"Id": "N1", "Code": "n1", "Kind": "k", "Mailing": {"street": "1 Elm", "city": "Boston", "postal code": "02134", '
    '"latitude": 42.36, "longitude": -71}, "Lines": [{"LineId": 1, "Quantity": 18446744073709551615, "Price": 2.5, '
    '"Taxable": true, "Needed": "2024-01-31", "Dists": [{"Amount": 1}, {"Amount": -0.5}, {}]}, {"LineId": -2, '
    '"Quantity": null, "Dists": null, "Other": [1, "x"]}], "Group": {"Worker": {"Hired": "2020-01-01"}}}',
    '{"Id": "N2", "Code": "n2", "Kind": "k", "Mailing": {"\\u0063ity": "Zo\\u00eb", "extra": 5}, "Lines": [], '
    '"Group": {"Worker": null, "Other": 1}}',
    '{"Id": "N3", "Code": "n3", "Kind": "k", "Mailing": null, "Lines": null, "Group": {}}',
]

#: (case, an XLR8 stream, the bad row's fields as JSON text)
NESTED_CASES = [
    ("a number in a nested string", True, '"Mailing": {"city": 5}'),
    ("a number in a nested string of another tap", False, '"Mailing": {"city": 5}'),
    ("a string in a nested number", True, '"Mailing": {"latitude": "42.1"}'),
    ("a boolean in a nested number", True, '"Mailing": {"longitude": true}'),
    ("an object in a nested string", True, '"Mailing": {"street": {"no": 1}}'),
    ("an array in a nested string", True, '"Mailing": {"street": ["1 Elm"]}'),
    ("a number under a nested name with a space", True, '"Mailing": {"postal code": 2134}'),
    ("a number under an escaped nested key", True, '"Mailing": {"\\u0063ity": 5}'),
    ("a fraction in a nested integer", True, '"Lines": [{"LineId": 1}, {"LineId": 1.5}]'),
    ("1.0 in a nested integer", True, '"Lines": [{"LineId": 1.0}]'),
    ("1e3 in a nested integer of another tap", False, '"Lines": [{"LineId": 1e3}]'),
    ("null in a nested integer that is not nullable", True, '"Lines": [{"LineId": null}]'),
    ("a string in a nested boolean", True, '"Lines": [{"LineId": 1, "Taxable": "yes"}]'),
    ("a number in a nested date", True, '"Lines": [{"LineId": 1, "Needed": 20240131}]'),
    ("a string where an array's items are objects", True, '"Lines": ["x"]'),
    ("null where an array's items are objects", True, '"Lines": [null]'),
    ("an object where a nested array is", True, '"Lines": [{"LineId": 1, "Dists": {"Amount": 1}}]'),
    ("a string in a grandchild's number", True, '"Lines": [{"LineId": 1, "Dists": [{"Amount": 1}, {"Amount": "2"}]}]'),
    ("a number in a string nested two objects deep", True, '"Group": {"Worker": {"Hired": 20200101}}'),
    ("a string where a nested object is", True, '"Group": {"Worker": "W1"}'),
    ("a number among an array's strings", True, '"Tags": ["a", 5]'),
    ("null among an array's strings of another tap", False, '"Tags": [null]'),
]


def _build(rows: list[str], exact_numbers: bool, props: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    def build(files: Path) -> list[dict[str, Any]]:
        return _messages(files, rows, exact_numbers, props or NESTED_PROPS, absent=frozenset({"Extra"}))

    return build


def _landed_with_payloads(store: Path, config: dict[str, Any]) -> tuple[Any, ...]:
    key = base64.b64decode(Path(config["pii_key_file"]).read_text().strip())
    payloads = query(store, "SELECT record_key, CAST(payload AS VARCHAR) FROM _dead_letters ORDER BY record_key")
    return (*_landed(store, key), payloads)


@pytest.mark.parametrize("exact_numbers", [True, False], ids=["XLR8 stream", "another tap's stream"])
def test_good_nested_values_keep_duckdbs_reader_and_land_what_the_record_path_lands(
    tmp_path: Path, config: dict[str, Any], exact_numbers: bool
) -> None:
    """The control: the nested checks leave good values (of every kind above) on DuckDB's reader."""
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, _build([*GOOD, *NESTED_GOOD], exact_numbers)):
        assert run.summary["streams"][STREAM] == {"received": 6, "loaded": 6, "dead_lettered": 0}, exact
        paths = _paths(run.stderr)[STREAM]
        assert (paths.get("batch_files_duckdb", 0), paths.get("batch_files_records", 0)) == (
            (0, 1) if exact else (1, 0)
        ), run.stderr[-3000:]
        landed.append(_landed_with_payloads(store, config))
    assert landed[0] == landed[1]
    assert len(landed[0][0]) == 6


@pytest.mark.parametrize(
    ("exact_numbers", "bad"), [c[1:] for c in NESTED_CASES], ids=[c[0].replace(" ", "_") for c in NESTED_CASES]
)
def test_a_nested_value_its_schema_refuses_is_dead_lettered_by_either_path(
    tmp_path: Path, config: dict[str, Any], exact_numbers: bool, bad: str
) -> None:
    """Before: DuckDB's reader landed the row (4 loaded), the record path dead-lettered it."""
    rows = [GOOD[0], f'{{"Id": "B1", "Code": "b1", "Kind": "k", {bad}}}', *NESTED_GOOD]
    landed = []
    for exact, store, run in _both_paths(tmp_path, config, _build(rows, exact_numbers)):
        assert run.summary["streams"][STREAM] == {"received": 5, "loaded": 4, "dead_lettered": 1}, exact
        paths = _paths(run.stderr)[STREAM]
        assert (paths.get("batch_files_duckdb", 0), paths["batch_files_records"]) == (0, 1), run.stderr[-3000:]
        if not exact:  # found by the SQL, not sent away for a keyword
            assert "rows holding values SQL cannot convert exactly" in run.stderr, run.stderr[-3000:]
        assert run.states == [{"done": True}]
        landed.append(_landed_with_payloads(store, config))
    fast, record = landed
    assert fast == record
    assert [k for k, _, _ in fast[1]] == ['["B1"]']
    assert len(fast[3]) == 1
    assert '"B1"' in fast[3][0][1]  # the payload, as the record path writes it


def test_nested_types_name_every_path_and_each_keyword_left_unchecked() -> None:
    """What the sink hands the SQL, and the reasons it gives, for the shapes above."""
    from target_xlr8_truths.sinks import nested_types  # here: the CLI tests above also run against older sources

    unchecked: list[str] = []
    lines = nested_types(NESTED["Lines"], "Lines", unchecked)
    assert unchecked == []
    assert lines.paths == ()
    ((path, element),) = lines.arrays
    assert path == "$"
    assert dict(element.paths) == {
        "$": ("OBJECT",),
        '$."LineId"': ("BIGINT", "UBIGINT"),
        '$."Quantity"': ("BIGINT", "NULL", "UBIGINT"),
        '$."Price"': ("BIGINT", "DOUBLE", "NULL", "UBIGINT"),
        '$."Taxable"': ("BOOLEAN", "NULL"),
        '$."Needed"': ("NULL", "VARCHAR"),
        '$."Dists"': ("ARRAY", "NULL"),
    }
    assert [p for p, _ in element.arrays] == ['$."Dists"']
    nested_types(
        {"properties": {"a": {"type": "string", "maxLength": 1, "x-note": 1, "title": "A"}, "b": {"items": [{}]}}},
        "Extra",
        unchecked,
    )
    assert unchecked == ["Extra.a: maxLength", "Extra.b: items"]


@pytest.mark.parametrize(
    ("value", "refused"),
    [
        ('{"Worker": {"Hired": "x"}}', False),
        ('{"Worker": {"Hired": 1}}', True),
        ('{"Worker": [{"Hired": 1}]}', True),  # an array where the object is
        ('[{"Worker": {"Hired": 1}}]', False),  # ``properties`` apply to an object only (the shape check's part)
        ("null", False),
        ("{}", False),
    ],
)
def test_the_nested_sql_reads_only_its_own_kind(value: str, refused: bool) -> None:
    import duckdb

    from target_xlr8_truths.duckdb_store import _nested_refused
    from target_xlr8_truths.sinks import nested_types

    condition = _nested_refused("v", nested_types(NESTED["Group"], "Group", []))
    row = duckdb.connect().execute(f"SELECT {condition} FROM (SELECT CAST(? AS JSON) AS v)", [value]).fetchone()
    assert row == (refused,)
