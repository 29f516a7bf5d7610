"""The scan's check for values that are not strings in string columns (``content_refusal`` given ``strings``;
RELIABILITY F1: DuckDB's reader reads ``"Name": 12`` as the text 12, the record path's validator dead-letters it).
It must decide what decoding every line decides, with no pattern involved: a file holds, at the top level of some
line, a value other than a string or null under one of the keys, or it does not. Lines are built with escaped keys,
white space around the colon, keys in any order, nested keys of the same name, and values of every JSON type (NaN
and Infinity too, which DuckDB's reader accepts), over block sizes that cut them anywhere."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from target_xlr8_truths import duckdb_store
from target_xlr8_truths.duckdb_store import NOT_A_STRING, content_refusal

STRINGS = ("Name", "Code")

#: strings whose text reads like another JSON value, and plain ones, with escapes
looks_like = ["12", "-0", "1.5e3", "true", "false", "null", "NaN", "Infinity", "{}", "[1]", "", "x"]
# a NUL escape is the NUL scan's to find (its own reason)
text = st.sampled_from(looks_like) | st.text(st.characters(blacklist_characters="\x00"), max_size=8)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    text,
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from([*STRINGS, "a"]), inner, max_size=3),
    max_leaves=6,
)
#: JSON texts DuckDB's reader accepts that Python's ``json.dumps`` writes for no value: NaN and Infinity
literals = st.sampled_from(["NaN", "Infinity", "-Infinity"])


def _key(name: str, escaped: bool) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in name) if escaped else name


member = st.builds(
    lambda name, escaped, before, after, value, literal, ascii_only: (
        name,
        f'"{_key(name, escaped)}"{before}:{after}'
        + (literal if literal is not None else json.dumps(value, ensure_ascii=ascii_only)),
    ),
    st.sampled_from([*STRINGS, "Other", "Address"]),
    st.booleans(),
    st.sampled_from(["", " ", "\t", " \r "]),
    st.sampled_from(["", " ", "\t"]),
    values,
    st.none() | literals,
    st.booleans(),
)
line = st.lists(member, max_size=5, unique_by=lambda m: m[0]).map(lambda ms: "{" + ", ".join(m[1] for m in ms) + "}")


def _holds_a_non_string(lines: list[str]) -> bool:
    """The ground truth: a line, decoded, holds a value other than a string or null under one of ``STRINGS``."""
    for text_line in lines:
        record = json.loads(text_line)
        if any(type(record.get(k)) not in (str, type(None)) for k in STRINGS):
            return True
    return False


@settings(max_examples=400, deadline=None)
@given(st.lists(line, min_size=1, max_size=8), st.sampled_from([1, 7, 64, 1 << 22]), st.booleans())
def test_on_json_lines_the_check_decides_what_decoding_every_line_decides(
    lines: list[str], chunk: int, final_newline: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "batch.jsonl"
        path.write_text("\n".join(lines) + ("\n" if final_newline else ""))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(duckdb_store, "_SCAN_CHUNK", chunk)
            found = content_refusal(str(path), None, numbers=False, strings=STRINGS)
    # no false accept; a false mark only where a line is not strict JSON (NaN elsewhere: msgspec refuses the line,
    # so its file takes the record path, as a NaN in a number column or nested JSON already sends it)
    assert (found == NOT_A_STRING) is (_holds_a_non_string(lines) or not _strict(lines)), lines
    assert found in (None, NOT_A_STRING)


def _refuse(constant: str) -> None:
    raise ValueError(constant)


def _strict(lines: list[str]) -> bool:
    try:
        for text_line in lines:
            json.loads(text_line, parse_constant=_refuse)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize(
    ("lines", "found"),
    [
        (['{"Name": "12"}', '{"Address": {"Name": 12}, "Name": "x"}'], None),  # nested: not the column's
        (['{"Name": "x"}', "", '{"Code": null}'], None),  # a blank line is no value
        (['{"Name": "x"}', '{"Code": 12}'], NOT_A_STRING),
        (['{"N\\u0061me": true}'], NOT_A_STRING),  # escaped key: DuckDB's reader reads it as Name
        (['{"Other": 1, "Code" : [ ] }'], NOT_A_STRING),
        (['{"Name": -Infinity}'], NOT_A_STRING),
        (['{"Other": NaN}'], NOT_A_STRING),  # not strict JSON: the record path decides (no string column involved)
        (['{"name": 12, "NAME": {}}'], None),  # keys are case sensitive, for DuckDB's reader too
    ],
)
def test_the_check_on_hand_picked_lines(lines: list[str], found: str | None, tmp_path: Path) -> None:
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert content_refusal(str(path), None, numbers=False, strings=STRINGS) == found
    assert content_refusal(str(path), None, numbers=False) is None  # no strings given: not looked at
