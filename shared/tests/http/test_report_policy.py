"""F13: the report read timeout is a setting of its own, validated by name, and a report call's budget holds the
one re-run a read timeout gets (the calls themselves: tap-workday ``test_report_timeout``, tap-ukg-pro
``test_raas``)."""

from __future__ import annotations

import typing as t
from functools import partial

import pytest
import requests

from xlr8_kit.http.errors import ServerUnavailableError
from xlr8_kit.http.session import HttpPolicy
from xlr8_kit.rest import http_policy_from_config
from xlr8_kit.streaming import send_streamed
from xlr8_kit.testing.faultserver import FaultServer, Reply


def test_report_read_timeout_is_validated_by_name() -> None:
    assert http_policy_from_config({}).report_read_timeout == 1800
    assert http_policy_from_config({"http": {"report_read_timeout": 600}}).report_read_timeout == 600
    with pytest.raises(ValueError, match=r"http\.report_read_timeout=0\.0"):
        http_policy_from_config({"http": {"report_read_timeout": 0}})
    with pytest.raises(ValueError, match=r"http\.report_read_timeout must be a number"):
        http_policy_from_config({"http": {"report_read_timeout": "long"}})


def test_a_report_call_reads_with_its_own_timeout_and_has_room_for_one_rerun() -> None:
    pages = HttpPolicy(read_timeout=120, report_read_timeout=1500, max_elapsed=1800, connect_timeout=10)
    report = pages.for_report()
    assert (pages.read_timeout, pages.max_elapsed) == (120, 1800)  # page calls unchanged
    assert report.read_timeout == 1500
    assert report.max_elapsed >= 2 * (10 + 1500)  # two full waits fit: the run and its one re-run
    assert HttpPolicy(report_read_timeout=60, max_elapsed=1800).for_report().max_elapsed == 1800  # never shorter


# --- one re-run for any failure after the report ran (F13, review26a L3) ------------------------------------------

BODY = {"Report_Entry": [{"n": i} for i in range(400)]}
#: Failures after the request reached the tenant: the report ran, and its answer was lost.
RAN = {
    "reset": Reply(reset=True),
    "cut": Reply(body=BODY, truncate_to=900),
    "chunked_cut": Reply(body=BODY, chunked=True, truncate_to=900),
    "502": Reply(502, body="bad gateway"),
    "504": Reply(504, body="gateway timeout"),
    "500": Reply(500, body="internal error"),
}


@pytest.mark.parametrize("streamed", [False, True])
@pytest.mark.parametrize("failure", sorted(RAN))
def test_a_report_that_failed_after_it_ran_is_run_once_more_then_given_up_naming_it(
    server: FaultServer, make_session: t.Any, failure: str, streamed: bool
) -> None:
    server.script("/raas/Big_Report", RAN[failure], repeat_last=True)
    session = make_session(max_attempts=5)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/Big_Report"))
    send: t.Any = partial(send_streamed, session) if streamed else session.send
    with pytest.raises(ServerUnavailableError) as info:
        send(prepared, kind="report")
    assert server.count() == 2  # the run and its one re-run: not max_attempts (5)
    assert "report 'Big_Report' failed twice after the tenant ran it" in str(info.value)


@pytest.mark.parametrize("failure", sorted(RAN))
def test_a_report_that_failed_once_after_it_ran_lands_whole_on_its_rerun(
    server: FaultServer, make_session: t.Any, failure: str
) -> None:
    server.script("/raas/Big_Report", RAN[failure], Reply(body=BODY))
    session = make_session(max_attempts=5)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/Big_Report"))
    assert session.send(prepared, kind="report").json() == BODY
    assert server.count() == 2


def test_answers_that_say_the_report_did_not_run_keep_the_page_retries(
    server: FaultServer, make_session: t.Any
) -> None:
    """503 (unavailable) and 429 (rate limited) say the tenant did not run it: retried up to ``max_attempts``."""
    server.script(
        "/raas/Big_Report",
        Reply(503, body="busy"),
        Reply(429, headers={"Retry-After": "1"}),
        Reply(503, body="busy"),
        Reply(503, headers={"Retry-After": "1"}),
        Reply(body=BODY),
    )
    session = make_session(max_attempts=5)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/Big_Report"))
    assert session.send(prepared, kind="report").json() == BODY
    assert server.count() == 5


def test_page_calls_keep_max_attempts_for_the_same_failures(server: FaultServer, make_session: t.Any) -> None:
    server.script("/api/page", Reply(reset=True), Reply(502), Reply(body=BODY, truncate_to=900), Reply(body=BODY))
    session = make_session(max_attempts=5)
    assert session.get(server.url + "/api/page").json() == BODY
    assert server.count() == 4
