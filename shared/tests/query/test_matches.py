"""Post-fetch evaluation semantics: typed reading of record values, nulls, case, unreadable values."""

from __future__ import annotations

from typing import Any

import pytest

from xlr8_kit.query import matches, parse_filter

RECORD: dict[str, Any] = {
    "name": "O'Brien",
    "status": "A",
    "hired": "2024-01-15",
    "hired_odata": "/Date(1705276800000)/",
    "changed": "2024-03-01T08:00:00Z",
    "changed_offset": "2024-03-01T10:00:00+02:00",
    "salary": "52000.50",
    "count": 7,
    "flag": True,
    "flag_text": "false",
    "empty": None,
    "nested": {"a": 1},
    "garbage_date": "not a date",
    "late_offset": "2024-03-01T22:00:00-05:00",
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('name = "O\'Brien"', True),
        ('name = "o\'brien"', False),
        ("name contains 'Bri'", True),
        ("name contains 'bri'", False),
        ("status in ('A', 'L')", True),
        ("status in ()", False),
        ("status != 'T'", True),
        ("hired >= 2024-01-01", True),
        ("hired between 2024-01-15 and 2024-01-15", True),
        ("hired > 2024-01-15", False),
        ("hired_odata = 2024-01-15", True),
        ("changed = 2024-03-01T10:00:00+02:00", True),
        ("changed_offset = 2024-03-01T08:00:00Z", True),
        ("changed_offset > 2024-03-01T07:59:59Z", True),
        ("changed < 2024-03-01T08:00:00Z", False),
        ("changed_offset = 2024-03-01", True),
        ("late_offset = 2024-03-02", True),
        ("late_offset = 2024-03-01", False),
        ("salary > 52000", True),
        ("salary = 52000.5", True),
        ("salary between 1 and 52000.49", False),
        ("count >= 7 and count < 8", True),
        ("count = '7'", True),
        ("flag = true", True),
        ("flag_text = false", True),
        ("flag > false", False),
        ("empty = null", True),
        ("missing = null", True),
        ("empty != 'x'", True),
        ("empty = 'x'", False),
        ("empty < 5", False),
        ("empty in ('x')", False),
        ("empty contains 'x'", False),
        ("empty between 1 and 2", False),
        ("name != null", True),
        ("name = null", False),
        ("nested = 'x'", False),
        ("garbage_date >= 2024-01-01", False),
        ("garbage_date != 2024-01-01", True),
        ("(status = 'X' or (hired >= 2024-01-01 and salary > 1)) and name contains \"'\"", True),
    ],
)
def test_matches_table(text: str, expected: bool) -> None:
    assert matches(RECORD, parse_filter(text)) is expected


def test_no_filter_matches_everything() -> None:
    assert matches({}, None) is True
