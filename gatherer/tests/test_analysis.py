"""Question analysis: rule-based, driven by the vocabulary."""

from __future__ import annotations

from datetime import date

import pytest

from xlr8_gather.gather import analyse
from xlr8_kit.query import And, Between, Compare
from xlr8_kit.vocabulary import find_entity


def test_bare_lookup_is_a_verb_not_an_entity() -> None:
    assert find_entity("lookup") is None
    assert analyse("lookup active employees in workday").entities == ("employee",)
    assert analyse("show the lookup tables in ukg pro").entities == ("code_table",)


TODAY = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("question", "entity", "filters", "intent", "measure", "group_by"),
    [
        ("Total amount of opportunities by stage", "opportunity", None, "sum", "amount", "stage"),
        (
            "opportunities with amount over 100000 closing in 2026",
            "opportunity",
            And((Between("close_date", date(2026, 1, 1), date(2026, 12, 31)), Compare("amount", ">", 100000))),
            "list",
            None,
            None,
        ),
        ("How many timecards have more than 8 hours?", "timecard", Compare("hours", ">", 8), "count", None, None),
        ("Average hours of timecards by employee", "timecard", None, "average", "hours", "employee_id"),
        (
            "journal entries posted last month",
            "journal_entry",
            Between("posting_date", date(2026, 2, 1), date(2026, 2, 28)),
            "list",
            None,
            None,
        ),
        (
            "suppliers created before 2020",
            "supplier",
            Compare("created", "<", date(2020, 1, 1)),
            "list",
            None,
            None,
        ),
        (
            'How many opportunities in stage "Closed Won"?',
            "opportunity",
            Compare("stage", "=", "Closed Won"),
            "count",
            None,
            None,
        ),
        (
            "accounts with annual revenue at least 5,000,000",
            "crm_account",
            Compare("annual_revenue", ">=", 5000000),
            "list",
            None,
            None,
        ),
        (
            "employees hired in March 2024",
            "employee",
            Between("hire_date", date(2024, 3, 1), date(2024, 3, 31)),
            "list",
            None,
            None,
        ),
        ("How many employees per location?", "employee", None, "count", None, "location_code"),
        ("accrual balances under 10 hours", "accrual", Compare("balance", "<", 10), "list", None, None),
    ],
)
def test_questions_beyond_employees(
    question: str, entity: str, filters: object, intent: str, measure: str | None, group_by: str | None
) -> None:
    found = analyse(question, today=TODAY)
    assert found.entities[0] == entity
    assert found.filters[entity] == filters
    assert (found.intent, found.measure, found.group_by) == (intent, measure, group_by)
