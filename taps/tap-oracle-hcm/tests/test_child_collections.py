"""Expanded children in both of Fusion's shapes (audit23b #1): arrays under framework 1 and 2, collection objects of
25 rows with ``hasMore`` from 3 (the tap's default is 4). A worker with more than 25 emails and more than 25
assignments lands every child row and the flattened columns of the row matching the rule, even when that row is
past the 25th (read from the child's own URL, nested for assignments)."""

from __future__ import annotations

import json
import sys
import typing as t
from pathlib import Path

import pytest

from xlr8_kit.oracle.protocol import ChildReadError, ChildShapeError, child_items
from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.products.oracle_fusion import framework as fw
from xlr8_sandbox.products.oracle_fusion.framework import uniq_id
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
    assert get(url, f"/workers/{WIDE}/child/emails", "4", onlyData="true").status_code == 404  # a hash id, never
    top = f"/workers/{uniq_id(str(WIDE))}"  # the key (review23b #1): Oracle's workersUniqID
    rest = get(url, f"{top}/child/emails", "4", onlyData="true", offset="25").json()
    assert [r["EmailAddress"] for r in rest["items"]] == [f"e{k}@example.com" for k in range(25, MANY)]
    assert rest["hasMore"] is False
    relation = v4["workRelationships"]["items"][0]
    assert relation["assignments"]["hasMore"] is True
    nested = f"{top}/child/workRelationships/{relation['PeriodOfServiceId']}/child/assignments"
    deep = get(url, nested, "4", onlyData="true", offset="25", fields="JobCode").json()
    assert [r["JobCode"] for r in deep["items"]] == [*(f"J{k}" for k in range(25, MANY - 1)), "DEEP"]


def _in_child_page() -> bool:
    """True inside the emulator's child-collection route (its ``page``): the probes below answer there alone."""
    f = sys._getframe(1)
    while f is not None:
        if f.f_code.co_name == "page" and f.f_code.co_filename.endswith("framework.py"):
            return True
        f = f.f_back
    return False


def _child_url_serves(emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch, change: t.Callable) -> None:
    """Worker 0's emails as ``change`` makes them, on the child's own URL only (the expansion is unchanged)."""
    emails = emulator.resources["workers"].children["emails"]
    many = emails.rows
    monkeypatch.setattr(emails, "rows", lambda w: change(many(w)) if _in_child_page() else many(w))


def _wide_emails(out: t.Any) -> list[str]:
    return [r["EmailAddress"] for r in out.records("workers_emails") if r["PersonId"] == WIDE]


def test_a_cut_child_read_in_another_order_lands_once_each(
    url: str, emulator: OracleHcmEmulator, wide_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review23b #2, its probe: the child's own URL answers in another order than the expansion. The child is read
    whole from offset 0 in key order, the 25 expanded rows dropped: 30 distinct emails, the right one flattened."""
    _child_url_serves(emulator, monkeypatch, lambda rows: list(reversed(rows)))
    out = run_tap(hcm_config(url, resources=["workers"], rest_framework_version="4", page_size=20))
    emails = _wide_emails(out)
    assert sorted(emails) == sorted(f"e{k}@example.com" for k in range(MANY))  # 30 rows, 30 distinct
    workers = {r["PersonId"]: r for r in out.records("workers")}
    assert workers[WIDE]["WorkEmail"] == f"e{MANY - 1}@example.com"


def test_a_child_that_repeats_a_key_stops_the_run_naming_it(
    url: str, emulator: OracleHcmEmulator, wide_worker: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """review23b #2: rows that do not add up (a key twice) are a named error and exit 1 through the real CLI,
    never a doubled child and exit 0."""
    _child_url_serves(emulator, monkeypatch, lambda rows: [rows[0], *rows])
    config = hcm_config(url, resources=["workers"], rest_framework_version="4", page_size=20)
    with pytest.raises(ChildReadError, match=r"'emails'.*comes twice"):
        run_tap(config)
    result = run_tap_cli("tap-oracle-hcm", ["--config", write_json(tmp_path / "c.json", config)], tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if "| ERROR " in line and "comes twice" in line]


def test_a_child_url_that_ignores_offset_is_a_named_error(
    url: str, emulator: OracleHcmEmulator, wide_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review23b #3: a child URL answering the same page with ``hasMore`` whatever the offset (a proxy, a pod bug)
    stops the run, named, instead of looping and holding every repeat."""
    int_param = fw.FusionEmulator._int_param

    def no_offset(self: fw.FusionEmulator, params: t.Mapping[str, str], name: str, default: int) -> int:
        return 0 if name == "offset" and _in_child_page() else int_param(self, params, name, default)

    monkeypatch.setattr(fw.FusionEmulator, "_int_param", no_offset)
    with pytest.raises(ChildReadError, match="'emails'"):
        run_tap(hcm_config(url, resources=["workers"], rest_framework_version="4", page_size=20))


def test_a_child_page_with_more_and_no_rows_is_a_named_error(
    url: str, emulator: OracleHcmEmulator, wide_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review23b #3: ``hasMore`` on an empty page (the offset cannot advance) is an error, not the end of the
    child (which left it short)."""
    dumps = fw.json.dumps

    class EmptySecondPage:
        """``json`` for the emulator: a child page past offset 0 goes out empty, still saying ``hasMore``."""

        @staticmethod
        def dumps(body: t.Any, **kw: t.Any) -> str:
            items = body.get("items") if isinstance(body, dict) else None
            if items and "EmailAddressId" in items[0] and body.get("offset"):
                body = {**body, "items": [], "count": 0, "hasMore": True}
            return dumps(body, **kw)

        loads = staticmethod(fw.json.loads)

    monkeypatch.setattr(fw, "json", EmptySecondPage)
    with pytest.raises(ChildReadError, match="does not advance"):
        run_tap(hcm_config(url, resources=["workers"], rest_framework_version="4", page_size=20))


def test_a_self_link_off_the_tenant_is_never_followed(
    url: str, emulator: OracleHcmEmulator, wide_worker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review23b #1: the child is read under the item's ``self`` link, so a link to another host is refused (the
    credentials would go with it), named."""
    monkeypatch.setattr(fw.FusionEmulator, "item_id", staticmethod(lambda resource, row: "x"))
    page = fw.FusionEmulator._page

    def elsewhere(self: fw.FusionEmulator, *args: t.Any) -> dict[str, t.Any]:
        body = page(self, *args)
        for item in body["items"]:
            for link in item.get("links", []):
                link["href"] = "http://elsewhere.invalid" + link["href"].split("//", 1)[1].partition("/")[2]
        return body

    monkeypatch.setattr(fw.FusionEmulator, "_page", elsewhere)
    monkeypatch.setattr(emulator, "page_writer", False)  # pages through ``_page`` (the writer does not call it)
    with pytest.raises(ChildReadError, match="no self link under workers"):
        run_tap(hcm_config(url, resources=["workers"], rest_framework_version="4", page_size=20))


def test_child_requests_are_counted(url: str, wide_worker: None, caplog: pytest.LogCaptureFixture) -> None:
    """review23b #5: the requests that read cut children are in the ``http_request_count`` metric (endpoint
    ``/workers/{id}/child``): one self-link query for worker 0, two pages of emails, two of assignments."""
    caplog.set_level("INFO", logger="singer_sdk.metrics")
    run_tap(hcm_config(url, resources=["workers"], rest_framework_version="4", page_size=20), streams={"workers"})
    counted = [
        json.loads(r.getMessage().split("METRIC: ", 1)[1])
        for r in caplog.records
        if "METRIC: " in r.getMessage() and "/child" in r.getMessage()
    ]
    assert [(m["metric"], m["value"], m["tags"]["stream"]) for m in counted] == [("http_request_count", 5, "workers")]


def test_a_cut_child_with_children_below_past_the_url_cap_reads_them_with_expand_alone(
    url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Worker 0 with 30 work relationships (cut at 25, each with its assignments below): read whole from its own URL
    with the assignments named in ``fields``, never ``expand`` beside it (audit25a F3); past ``URL_BYTES``, with
    ``expand`` alone. The embedded records are the same either way."""
    from xlr8_kit.oracle import stream as stream_module
    from xlr8_kit.oracle.client import FusionClient

    relationships = emulator.resources["workers"].children["workRelationships"]
    relationship_rows = relationships.rows

    def many_relationships(worker: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        rows = relationship_rows(worker)
        if worker["PersonId"] != WIDE:
            return rows
        return [{**rows[0], "PeriodOfServiceId": rows[0]["PeriodOfServiceId"] * 100 + k} for k in range(MANY)]

    monkeypatch.setattr(relationships, "rows", many_relationships)
    sent: list[tuple[str, dict[str, t.Any]]] = []
    get_json = FusionClient.get_json

    def recorded(self: FusionClient, path_or_url: str, params: t.Any = None) -> t.Any:
        sent.append((path_or_url, dict(params or {})))
        return get_json(self, path_or_url, params)

    monkeypatch.setattr(FusionClient, "get_json", recorded)
    config = hcm_config(url, resources=["workers"], child_mode="embed", page_size=20)

    def wide_row() -> tuple[dict[str, t.Any], list[dict[str, t.Any]]]:
        sent.clear()
        row = next(r for r in run_tap(config).records("workers") if r["PersonId"] == WIDE)
        return row, [p for u, p in sent if u.endswith("/child/workRelationships")]

    listed, listed_reads = wide_row()
    assert len(listed["workRelationships"]) == MANY
    assert all(r["assignments"] for r in listed["workRelationships"])
    assert listed_reads
    assert all("expand" not in p and ";assignments:" in p["fields"] for p in listed_reads)
    monkeypatch.setattr(stream_module, "URL_BYTES", 150)
    alone, alone_reads = wide_row()
    assert alone == listed
    assert alone_reads
    assert all(p.get("expand") == "assignments" and "fields" not in p for p in alone_reads)
