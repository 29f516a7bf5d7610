"""Expanded children in both of Fusion's shapes (audit23b #1): arrays under framework 1 and 2, collection objects of
25 rows with ``hasMore`` from 3 (the tap's default is 4). A worker with more than 25 emails and more than 25
assignments lands every child row and the flattened columns of the row matching the rule, even when that row is
past the 25th (read from the child's own URL, nested for assignments)."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_kit.oracle.protocol import ChildShapeError, child_items
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator, person_id

from .conftest import hcm_config, run_tap
from .test_emulator_protocol import get

MANY = 30
WIDE = person_id(0)


@pytest.fixture
def wide_worker(emulator: OracleHcmEmulator) -> t.Iterator[None]:
    """Worker 0 with 30 emails (only the last a work email) and 30 assignments in one work relationship (only the
    last primary, job ``DEEP``)."""
    workers = emulator.resources["workers"]
    emails = workers.children["emails"]
    assignments = workers.children["workRelationships"].children["assignments"]
    email_rows, assignment_rows = emails.rows, assignments.rows

    def many_emails(worker: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows = email_rows(worker)
        if worker["PersonId"] != WIDE:
            return rows
        return [
            {**rows[0], "EmailAddressId": rows[0]["EmailAddressId"] * 100 + k,
             "EmailType": "H1" if k < MANY - 1 else "W1", "EmailAddress": f"e{k}@example.com",
             "PrimaryFlag": k == MANY - 1}
            for k in range(MANY)
        ]  # fmt: skip

    def many_assignments(relationship: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows = assignment_rows(relationship)
        if relationship["__e"].index != 0:
            return rows
        last = rows[-1]
        return [
            {**last, "AssignmentId": last["AssignmentId"] * 100 + k, "PrimaryFlag": k == MANY - 1,
             "JobCode": "DEEP" if k == MANY - 1 else f"J{k}"}
            for k in range(MANY)
        ]  # fmt: skip

    emails.rows, assignments.rows = many_emails, many_assignments
    try:
        yield
    finally:
        emails.rows, assignments.rows = email_rows, assignment_rows


@pytest.mark.parametrize("framework", ["2", "4"])
def test_every_child_row_lands_past_the_expanded_25(url: str, wide_worker: None, framework: str) -> None:
    config = hcm_config(url, resources=["workers"], rest_framework_version=framework, page_size=20)
    out = run_tap(config)
    emails = [r for r in out.records("workers_emails") if r["PersonId"] == WIDE]
    assert sorted(r["EmailAddress"] for r in emails) == sorted(f"e{k}@example.com" for k in range(MANY))
    assignments = [r for r in out.records("workers_workRelationships_assignments") if r["PersonId"] == WIDE]
    assert len({r["AssignmentId"] for r in assignments}) == MANY
    workers = {r["PersonId"]: r for r in out.records("workers")}
    assert workers[WIDE]["WorkEmail"] == f"e{MANY - 1}@example.com"
    assert workers[WIDE]["JobCode"] == "DEEP"
    others = [r for k, r in workers.items() if k != WIDE]
    assert others
    assert all(r["WorkEmail"] and r["FirstName"] and r["JobCode"] for r in others)
    assert len(out.records("workers_names")) == len(workers)


def test_a_child_of_another_shape_is_a_named_error() -> None:
    """Never "no rows": a child that is neither a list nor a collection object stops the run, naming the child."""
    assert child_items([{"a": 1}], "names") == ([{"a": 1}], False)
    assert child_items({"items": [], "hasMore": True, "limit": 25}, "names") == ([], True)
    assert child_items(None, "names") is None
    with pytest.raises(ChildShapeError, match="'names'"):
        child_items({"rows": []}, "names")
    with pytest.raises(ChildShapeError, match="'names'"):
        child_items("x", "names")


def test_the_emulator_answers_in_the_shape_of_the_version_asked(url: str, wide_worker: None) -> None:
    """Framework 2: every child row in an array; 4: Oracle's collection object, 25 rows and ``hasMore``, the rest
    from the child's own URL (nested through the work relationship for assignments)."""
    params = {"onlyData": "true", "expand": "emails,workRelationships.assignments", "limit": "1"}
    v2 = get(url, "/workers", "2", **params).json()["items"][0]
    assert len(v2["emails"]) == MANY
    v4 = get(url, "/workers", "4", **params).json()["items"][0]
    assert {k: v for k, v in v4["emails"].items() if k != "items"} == {
        "count": 25, "hasMore": True, "limit": 25, "offset": 0
    }  # fmt: skip
    assert len(v4["emails"]["items"]) == 25
    rest = get(url, f"/workers/{WIDE}/child/emails", "4", onlyData="true", offset="25").json()
    assert [r["EmailAddress"] for r in rest["items"]] == [f"e{k}@example.com" for k in range(25, MANY)]
    assert rest["hasMore"] is False
    relation = v4["workRelationships"]["items"][0]
    assert relation["assignments"]["hasMore"] is True
    nested = f"/workers/{WIDE}/child/workRelationships/{relation['PeriodOfServiceId']}/child/assignments"
    deep = get(url, nested, "4", onlyData="true", offset="25", fields="JobCode").json()
    assert [r["JobCode"] for r in deep["items"]] == [*(f"J{k}" for k in range(25, MANY - 1)), "DEEP"]
