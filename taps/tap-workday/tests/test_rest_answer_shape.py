"""A Workday REST page answered 200 without its ``data`` list, or without the ``total`` the paging counts to, stops
the stream naming the endpoint and the key (never a value of the answer), through the console script over HTTP.
Before, the first read as "no rows" and the second as "no more pages": the rows after it were lost with exit 0."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from xlr8_kit.http.errors import AnswerShapeError
from xlr8_kit.testing.singer_cli import discover_selecting, parse_singer_messages, run_tap_cli
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.workday import TENANT, WorkdayEmulator
from xlr8_tap_workday.connector import WorkdayHcmConnector

from .conftest import base_config

WORKERS = f"/ccx/api/v1/{TENANT}/workers"
ROW = {"id": "w-secret-7", "descriptor": "Ann Secret-Lee"}


@pytest.mark.parametrize(
    ("answer", "named"),
    [
        ({"total": 100}, "the answer has no 'data'"),
        ({"total": 100, "data": ROW}, "'data' is an object with 2 key(s)"),
        ({"data": [ROW]}, "has no 'total' beside its 'data' list"),
        ({"total": "100", "data": [ROW]}, "has a non-integer 'total'"),
    ],
)
def test_a_page_without_its_list_or_total_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path, answer: dict[str, object], named: str
) -> None:
    config, catalog = discover_selecting("tap-workday", base_config(url, rest_page_size=10), {"workers"}, tmp_path)
    sandbox.faults.add(
        "workday", WORKERS, FaultSpec("status", status=200, body=json.dumps(answer), query={"offset": "10"})
    )
    synced = run_tap_cli("tap-workday", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode != 0
    assert named in synced.stderr
    assert WORKERS in synced.stderr
    assert "w-secret-7" not in synced.stderr
    assert "Secret-Lee" not in synced.stderr
    records = [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"]
    assert 10 <= len(records) <= 11  # the first page (and the row of a page without 'total'), not the 100


def test_an_empty_data_list_below_its_own_total_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path
) -> None:
    """Page 2 (offset 10) answers ``{"total": 100, "data": []}``: its own count says rows follow offset 10, yet it
    brings none. Before, the paginator read it as the end: exit 0, 10 of 100 workers (review29h M2)."""
    config, catalog = discover_selecting("tap-workday", base_config(url, rest_page_size=10), {"workers"}, tmp_path)
    body = json.dumps({"total": 100, "data": []})
    sandbox.faults.add("workday", WORKERS, FaultSpec("status", status=200, body=body, query={"offset": "10"}))
    synced = run_tap_cli("tap-workday", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode != 0, synced.stderr[-2000:]
    assert "workday REST page at offset 10" in synced.stderr
    assert "the answer's 'total' (100) counts rows past offset 10 but its 'data' list is empty" in synced.stderr
    assert WORKERS in synced.stderr
    messages = parse_singer_messages(synced.stdout)
    assert len([m for m in messages if m["type"] == "RECORD"]) == 10  # page 1 only, never a "complete" 10 of 100
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]  # no unread worker is marked deleted


def test_an_empty_data_list_is_no_rows(url: str, sandbox: Sandbox, emulator: object, tmp_path: Path) -> None:
    config, catalog = discover_selecting("tap-workday", base_config(url), {"workers"}, tmp_path)
    body = json.dumps({"total": 0, "data": []})
    sandbox.faults.add("workday", WORKERS, FaultSpec("status", status=200, body=body))
    synced = run_tap_cli("tap-workday", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode == 0, synced.stderr[-2000:]
    assert [m for m in parse_singer_messages(synced.stdout) if m["type"] == "RECORD"] == []


@pytest.mark.parametrize("total", [0, 15])
def test_a_total_below_the_rows_already_read_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path, total: int
) -> None:
    """Page 2 (offset 10) brings a full page while its ``total`` says fewer rows exist than are read by then (Workday's
    career-site API answers ``total: 0`` after page 1 while rows keep coming: review28e M1). Before, "read < total"
    ended the paging there: exit 0, 20 of 100 workers, the rest lost silently."""
    config, catalog = discover_selecting("tap-workday", base_config(url, rest_page_size=10), {"workers"}, tmp_path)
    body = json.dumps({"total": total, "data": [ROW] * 10})
    sandbox.faults.add("workday", WORKERS, FaultSpec("status", status=200, body=body, query={"offset": "10"}))
    synced = run_tap_cli("tap-workday", ["--config", config, "--catalog", catalog], tmp_path)
    assert synced.returncode != 0, synced.stderr[-2000:]
    assert f"the answer's 'total' ({total}) is below the 20 rows read" in synced.stderr
    assert WORKERS in synced.stderr
    assert "w-secret-7" not in synced.stderr
    messages = parse_singer_messages(synced.stdout)
    records = [m for m in messages if m["type"] == "RECORD"]
    assert len(records) in (10, 20)  # page 1 (and the faulted page's rows), never a "complete" 20 of 100
    assert not [m for m in messages if m["type"] == "ACTIVATE_VERSION"]  # no unread worker is marked deleted


JOBS = f"/ccx/api/v1/{TENANT}/jobs"

#: A jobs page with one row and no integer ``total``, and what the error says of it.
LOOSE_TOTALS = [
    ({"data": [ROW]}, "has no 'total' beside its 'data' list"),
    ({"total": "1", "data": [ROW]}, "has a non-integer 'total'"),
]


@pytest.mark.parametrize(("answer", "named"), LOOSE_TOTALS)
def test_the_connector_check_fails_on_a_jobs_page_without_an_integer_total(
    url: str, sandbox: Sandbox, emulator: object, answer: dict[str, object], named: str
) -> None:
    """The connector check reads one REST jobs row: an answer whose ``total`` is missing or not an integer fails the
    check naming ``total`` and the endpoint, as the stream's read does (kit28). Before, the client read ``total`` as
    ``int(total or 0)`` after the first row, which the check never reached: it passed."""
    sandbox.faults.add("workday", JOBS, FaultSpec("status", status=200, body=json.dumps(answer)))
    with WorkdayHcmConnector(base_config(url)) as connector:
        status = connector.test_connection()
    assert not status.ok
    assert status.error is not None
    assert named in status.error
    assert JOBS in status.error
    assert "w-secret-7" not in status.message
    assert "Secret-Lee" not in status.message


@pytest.mark.parametrize(
    ("answer", "named"),
    [*LOOSE_TOTALS, ({"total": 1, "data": [ROW]}, "the answer's 'total' (1) is below the 2 rows read")],
)
def test_the_clients_own_rest_paging_stops_on_a_later_page_without_a_total_it_can_count_to(
    url: str, sandbox: Sandbox, emulator: WorkdayEmulator, answer: dict[str, object], named: str
) -> None:
    """``WorkdayClient.rest_rows`` pages jobs one row at a time; page 2 (offset 1) has no integer ``total``, or one
    below the rows read: ``AnswerShapeError`` naming it and the endpoint. Before, a missing or non-numeric ``total``
    read as 0 ended the paging after page 2 (every later job lost, no error), and a low one did the same."""
    assert len(emulator.company.jobs) > 2
    sandbox.faults.add("workday", JOBS, FaultSpec("status", status=200, body=json.dumps(answer), query={"offset": "1"}))
    with WorkdayHcmConnector(base_config(url)) as connector:
        read: list[dict[str, object]] = []
        with pytest.raises(AnswerShapeError) as caught:
            read.extend(connector.workday.client.rest_rows("jobs", page_size=1))
    assert named in str(caught.value)
    assert JOBS in str(caught.value)
    assert len(read) == 1  # page 1's job; none of the faulted page's rows


SOAP_HR = "/ccx/service/*/Human_Resources/*"
XML = {"Content-Type": "text/xml; charset=utf-8"}
RESULTS = "<wd:Response_Results><wd:Total_Results>95</wd:Total_Results><wd:Total_Pages>10</wd:Total_Pages>{}"


def soap_answer(inner: str) -> str:
    """A Get_Workers answer envelope around ``inner``."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:wd="urn:com.workday/bsvc"><env:Body><wd:Get_Workers_Response wd:version="v42.0">'
        f"{inner}</wd:Get_Workers_Response></env:Body></env:Envelope>"
    )


@pytest.mark.parametrize(
    ("inner", "named"),
    [
        ("<wd:Response_Data/>", "the answer has no 'Response_Results'"),
        (
            RESULTS.format("<wd:Page>2</wd:Page></wd:Response_Results>"),
            "counts 95 result(s) but has no 'Response_Data'",
        ),
        (RESULTS.format("<wd:Page/></wd:Response_Results><wd:Response_Data/>"), "a non-integer 'Page'"),
        (
            RESULTS.format("<wd:Page>2</wd:Page></wd:Response_Results><wd:Response_Data/>"),
            "the answer has no rows although it is page 2 of 10 (95 result(s))",
        ),
        (
            RESULTS.format("<wd:Page_Results>10</wd:Page_Results><wd:Page>2</wd:Page></wd:Response_Results>")
            + "<wd:Response_Data/>",
            "the answer has no rows although it is page 2 of 10",
        ),
        (
            RESULTS.format("<wd:Page_Results>10</wd:Page_Results><wd:Page>10</wd:Page></wd:Response_Results>")
            + "<wd:Response_Data><wd:Worker/></wd:Response_Data>",
            "the answer has 1 row(s) but its 'Page_Results' counts 10",
        ),
    ],
)
def test_a_soap_page_without_its_results_or_data_stops_the_stream(
    url: str, sandbox: Sandbox, emulator: object, tmp_path: Path, inner: str, named: str
) -> None:
    """Every page of ``soap_workers`` after page 1 (every request after the first, whatever order read-ahead sends
    them in) answers without ``Response_Results``, or without ``Response_Data`` while it counts results, or with an
    empty ``Page``, or with an empty ``Response_Data`` (or fewer rows than its ``Page_Results``) while it counts more
    pages. Before, these read as the last page or as pages of none: exit 0, 90 of the 100 workers lost, and the
    bookmark moved to page 1's As_Of moment, so the next run never asked for them again (review29h H1)."""
    settings = base_config(url, streams=["soap_workers"], soap_page_size=10)
    config, catalog = discover_selecting("tap-workday", settings, {"soap_workers"}, tmp_path)
    body = soap_answer(inner)
    fault = sandbox.faults.add("workday", SOAP_HR, FaultSpec("status", status=200, body=body, headers=XML, after=1))
    synced = run_tap_cli("tap-workday", ["--config", config, "--catalog", catalog], tmp_path)
    assert fault.fired >= 1
    assert synced.returncode != 0, synced.stderr[-2000:]
    assert named in synced.stderr
    # The service path and the page asked for (the first request after page 1 that failed: 2 or a later one).
    assert re.search(rf"workday SOAP Get_Workers_Response \(/ccx/service/{TENANT}/Human_Resources/v[\d.]+, page \d+\)",
                     synced.stderr)  # fmt: skip
    messages = parse_singer_messages(synced.stdout)
    records = [m for m in messages if m["type"] == "RECORD"]
    assert len(records) == 10  # page 1 (the one request before the fault), none of a faulted page
    bookmarks = [m["value"].get("bookmarks", {}).get("soap_workers", {}) for m in messages if m["type"] == "STATE"]
    assert [b for b in bookmarks if "replication_key_value" in b] == []  # the bookmark never moves past page 1
