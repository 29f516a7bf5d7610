"""The Salesforce emulator seeks on SystemModstamp bounds nested in an AND (as a pushed-down filter adds them), the
way the real query optimiser uses the index, instead of scanning to the end of the object."""

from __future__ import annotations

from datetime import UTC, datetime

from xlr8_sandbox.products.salesforce import soql


def test_bounds_of_nested_ands_are_seen() -> None:
    query = soql.parse(
        "SELECT Id FROM Account WHERE SystemModstamp >= 2019-01-01T00:00:00Z AND "
        "(SystemModstamp >= 2019-01-01T01:00:00Z AND SystemModstamp < 2019-01-01T02:00:00Z) ORDER BY Id"
    )
    assert soql.bounds(query.where, "SystemModstamp") == (
        datetime(2019, 1, 1, 1, tzinfo=UTC),
        datetime(2019, 1, 1, 2, tzinfo=UTC),
    )


def test_an_or_gives_no_bounds() -> None:
    query = soql.parse(
        "SELECT Id FROM Account WHERE SystemModstamp >= 2019-01-01T01:00:00Z OR SystemModstamp < 2019-01-01T02:00:00Z"
    )
    assert soql.bounds(query.where, "SystemModstamp") == (None, None)
