"""F13: the report read timeout is a setting of its own, validated by name, and a report call's budget holds the
one re-run a read timeout gets (the calls themselves: tap-workday ``test_report_timeout``, tap-ukg-pro
``test_raas``)."""

from __future__ import annotations

import socket
import threading
import typing as t
from functools import partial

import pytest
import requests

from xlr8_kit import streaming
from xlr8_kit.http.errors import REPORT_SPENT, ServerUnavailableError
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
#: Envoy's local reply for an upstream reset before the answer's headers, less its reset reason.
ENVOY_503 = "upstream connect error or disconnect/reset before headers. reset reason: "
#: Failures after the request reached the tenant: the report ran, and its answer was lost.
RAN = {
    "reset": Reply(reset=True),
    "cut": Reply(body=BODY, truncate_to=900),
    "chunked_cut": Reply(body=BODY, chunked=True, truncate_to=900),
    "502": Reply(502, body="bad gateway"),
    "504": Reply(504, body="gateway timeout"),
    "500": Reply(500, body="internal error"),
    # Envoy's 503 for an upstream that closed the connection after it was made (review27b L3)
    "503_upstream_reset": Reply(503, body=ENVOY_503 + "connection termination"),
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


@pytest.mark.parametrize("streamed", [False, True])
def test_a_gateways_503_after_its_own_retries_spends_the_rerun_at_once(
    server: FaultServer, make_session: t.Any, streamed: bool
) -> None:
    """Envoy's "retried and the latest reset reason" says Envoy sent the report request again itself: the tenant may
    have run it several times already, so it is not run again from here (review28e L1). Before: sent twice."""
    retried = "upstream connect error or disconnect/reset before headers. retried and the latest reset reason: "
    server.script("/raas/Big_Report", Reply(503, body=retried + "connection termination"), repeat_last=True)
    session = make_session(max_attempts=5)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/Big_Report"))
    send: t.Any = partial(send_streamed, session) if streamed else session.send
    with pytest.raises(ServerUnavailableError) as info:
        send(prepared, kind="report")
    assert server.count() == 1
    message = str(info.value)
    assert "report 'Big_Report': a gateway in front of the tenant retried the report itself" in message
    assert REPORT_SPENT in message


def test_answers_that_say_the_report_did_not_run_keep_the_page_retries(
    server: FaultServer, make_session: t.Any
) -> None:
    """503 (unavailable) and 429 (rate limited) say the tenant did not run it: retried up to ``max_attempts``; so does
    Envoy's 503 for an upstream it never reached (connection failure, overflow) or one with Retry-After."""
    server.script(
        "/raas/Big_Report",
        Reply(503, body="busy"),
        Reply(429, headers={"Retry-After": "1"}),
        Reply(503, body=ENVOY_503 + "connection failure"),
        Reply(503, body=ENVOY_503 + "overflow"),
        Reply(503, body=ENVOY_503 + "connection termination", headers={"Retry-After": "1"}),
        Reply(503, headers={"Retry-After": "1"}),
        Reply(body=BODY),
    )
    session = make_session(max_attempts=7)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/Big_Report"))
    assert session.send(prepared, kind="report").json() == BODY
    assert server.count() == 7


def test_page_calls_keep_max_attempts_for_the_same_failures(server: FaultServer, make_session: t.Any) -> None:
    server.script("/api/page", Reply(reset=True), Reply(502), Reply(body=BODY, truncate_to=900), Reply(body=BODY))
    session = make_session(max_attempts=5)
    assert session.get(server.url + "/api/page").json() == BODY
    assert server.count() == 4


# --- review27b: what counts as a run, what the give-up says ------------------------------------------------------


class ConnectRefusingProxy:
    """An HTTP proxy that answers every CONNECT with 502 (its upstream hiccups): the tunnel to the tenant is never
    made, so nothing reaches it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.connects = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    piece = conn.recv(4096)
                    if not piece:
                        break
                    data += piece
                if data.startswith(b"CONNECT"):
                    self.connects += 1
                conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self.sock.close()


@pytest.mark.parametrize("kind", ["api", "report"])
def test_a_proxy_that_refuses_the_tunnel_is_retried_like_a_page_since_the_tenant_ran_nothing(
    make_session: t.Any, kind: str
) -> None:
    """review27b M1: urllib3 raises ProxyError only before the tunnel exists, so a refused CONNECT never reached the
    tenant: a report gets the pages' ``max_attempts``, not a run counted, and no "the tenant ran it"."""
    proxy = ConnectRefusingProxy()
    try:
        session = make_session(max_attempts=5)
        session.proxies = {"https": proxy.url}
        prepared = session.prepare_request(requests.Request("GET", "https://127.0.0.1:9/raas/Big_Report"))
        with pytest.raises(ServerUnavailableError) as info:
            session.send(prepared, kind=kind)
        assert proxy.connects == 5, (proxy.connects, str(info.value))
        assert "gave up after 5 attempts" in str(info.value)
        assert "tenant ran it" not in str(info.value)
    finally:
        proxy.close()


def test_a_give_up_names_every_failure_seen_and_points_at_the_timeout_it_met(
    server: FaultServer, make_session: t.Any
) -> None:
    """review27b L1: a 500, then no answer within ``report_read_timeout``: both are named, and the advice names
    ``http.report_read_timeout``, instead of "no answer ... twice" for a run that answered 500."""
    server.script("/raas/R", Reply(500, body="internal"), Reply(body={"a": 1}, delay=5.0))
    session = make_session(max_attempts=5, report_read_timeout=0.5, connect_timeout=1)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/R"))
    with pytest.raises(ServerUnavailableError) as info:
        session.send(prepared, kind="report")
    message = str(info.value)
    assert server.count() == 2
    assert "report 'R' failed twice after the tenant ran it (HTTP 500" in message, message
    assert "; then read timeout" in message, message
    assert "raise http.report_read_timeout (http.report_read_timeout=0.5 s)" in message, message
    assert "twice;" not in message.split("(")[0]  # not told as two timeouts
    assert REPORT_SPENT in message


def test_a_rerun_cut_in_its_first_bytes_says_rows_read_before_were_emitted(
    server: FaultServer, make_session: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review27b L2: the first run streams 2,910 bytes and is cut; its re-run is cut inside the peeked bytes. The
    give-up comes out of ``body_chunks`` as a ``StreamedBodyError`` saying what was handed out, so a tap's wrapper
    (Ready's "broke off after N rows") still tells the operator rows were emitted."""
    monkeypatch.setattr(streaming, "PEEK_BYTES", 300)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)
    server.script("/raas/R", Reply(body=BODY, truncate_to=3000), Reply(body=BODY, truncate_to=100))
    session = make_session(max_attempts=5)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/R"))
    response = streaming.send_streamed(session, prepared, kind="report")
    handed: list[bytes] = []
    with pytest.raises(streaming.StreamedBodyError) as info:
        handed.extend(streaming.body_chunks(response, what="report"))
    got = b"".join(handed)
    assert server.count() == 2
    whole, _ = Reply(body=BODY).encoded()
    assert got
    assert whole.startswith(got)  # what was handed out is the report's own first bytes
    message = str(info.value)
    assert f"broke off after {len(got)} bytes" in message, message
    assert "report 'R' failed twice after the tenant ran it" in message
    assert "rows read so far were emitted" in message
    assert "HTTP 200, body truncated mid-transfer" in message
    assert "body body" not in message  # L6


def test_a_report_that_stalls_mid_body_twice_is_told_as_two_timeouts_naming_the_setting(
    server: FaultServer, make_session: t.Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """review27b L1: a streamed report whose body stops mid-transfer past ``report_read_timeout`` on both runs is
    given up as two timeouts, pointing at ``http.report_read_timeout``, not as "broke off ... run again later"."""
    monkeypatch.setattr(streaming, "PEEK_BYTES", 300)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 97)
    stalled = Reply(body=BODY, stall_at=1000, delay=5.0)
    server.script("/raas/R", stalled, stalled)
    session = make_session(max_attempts=5, report_read_timeout=0.5, connect_timeout=1)
    prepared = session.prepare_request(requests.Request("GET", server.url + "/raas/R"))
    response = streaming.send_streamed(session, prepared, kind="report")
    handed: list[bytes] = []
    with pytest.raises(streaming.StreamedBodyError) as info:
        handed.extend(streaming.body_chunks(response, what="report"))
    assert server.count() == 2
    got = b"".join(handed)
    whole, _ = Reply(body=BODY).encoded()
    assert 300 < len(got) <= 1000  # streamed past the peek before the stall,
    assert whole.startswith(got)  # and each byte once
    message = str(info.value)
    assert "report 'R': no answer within http.report_read_timeout=0.5 s, twice" in message, message
    assert "raise http.report_read_timeout" in message
