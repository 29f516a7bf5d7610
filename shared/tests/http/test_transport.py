"""RELIABILITY section A: transport and HTTP faults, driven over real sockets against the fault server."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime
from email.utils import formatdate

import pytest
import requests

from xlr8_kit.http.classify import ResponseClassifier, Verdict
from xlr8_kit.http.errors import (
    CircuitOpenError,
    ErrorBodyError,
    InsecureTransportError,
    KitHTTPError,
    QuotaExhaustedError,
    RateLimitedError,
    ServerUnavailableError,
    TLSVerificationError,
)
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.testing.faultserver import FaultServer, Reply, make_certificate, server_tls_context

ITEMS = {"items": [{"id": 1}, {"id": 2}]}
JSON = "application/json"
HTML = "text/html"


def test_a1_retry_after_seconds_waits_at_least_that_long(server, make_session, fake_time, caplog):
    server.script("/items", Reply(429, headers={"Retry-After": "30"}), Reply(200, body=ITEMS))
    session = make_session()
    with caplog.at_level(logging.WARNING, logger="xlr8_kit.http"):
        response = session.get(server.url + "/items?page=2&api_key=k3y-in-query")
    assert response.status_code == 200
    assert response.json() == ITEMS
    assert len(fake_time.sleeps) == 1
    assert 30 <= fake_time.sleeps[0] <= 31  # never less; jitter only on top (at most one backoff_base)
    # the same page was asked for twice, nothing else
    asked = server.requests_to("/items")
    assert [r.raw_query for r in asked] == ["page=2&api_key=k3y-in-query"] * 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    text = warnings[0].getMessage()
    assert "/items" in text
    assert "429" in text
    assert "k3y-in-query" not in text
    assert "page=2" not in text


@pytest.mark.parametrize("skew", [0, -3 * 86_400, -300, 300])
def test_a2_retry_after_http_date_is_counted_from_the_servers_date(server, make_session, fake_time, skew):
    """The date is a moment on the server's clock, whose ``Date`` is ``skew`` seconds off ours: 45 s whatever the
    skew (audit25d F5: counted from our clock, 5 minutes behind was no wait, 5 ahead 345 s)."""
    now = fake_time.wall() + skew
    dated = {"Date": formatdate(now, usegmt=True), "Retry-After": formatdate(now + 45, usegmt=True)}
    server.script("/items", Reply(429, headers=dated), Reply(200))
    make_session().get(server.url + "/items")
    assert len(fake_time.sleeps) == 1
    assert 45 <= fake_time.sleeps[0] <= 46  # jitter goes on top only


def test_a2_retry_after_http_date_without_a_valid_date_is_counted_from_ours(server, make_session, fake_time):
    retry_at = fake_time.wall() + 45
    dated = {"Date": "yesterday", "Retry-After": formatdate(retry_at, usegmt=True)}
    server.script("/items", Reply(429, headers=dated), Reply(200))
    make_session().get(server.url + "/items")
    assert len(fake_time.sleeps) == 1
    assert 45 <= fake_time.sleeps[0] <= 46


@pytest.mark.parametrize("value", ["abc", "-5", "", "Thu, 99 Foo 2026"])
def test_a2_malformed_or_negative_retry_after_falls_back_to_exponential(server, make_session, fake_time, value):
    server.script("/items", Reply(429, headers={"Retry-After": value}), Reply(200))
    make_session(backoff_base=2.0).get(server.url + "/items")
    assert server.count("/items") == 2
    assert len(fake_time.sleeps) == 1
    assert 1.0 <= fake_time.sleeps[0] <= 2.0  # first exponential step: [base/2, base]


def test_a2_huge_retry_after_stops_without_sleeping(server, make_session, fake_time):
    server.script("/items", Reply(429, headers={"Retry-After": "86400"}), Reply(200))
    session = make_session(max_retry_after=600)
    with pytest.raises(RateLimitedError) as caught:
        session.get(server.url + "/items")
    assert fake_time.sleeps == []
    assert server.count("/items") == 1
    expected_until = datetime.fromtimestamp(fake_time.wall() + 86_400, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    message = str(caught.value)
    assert f"rate limited until {expected_until}" in message
    assert "http.max_retry_after" in message
    assert caught.value.until == expected_until


def test_a3_transient_5xx_then_success(server, make_session, fake_time):
    server.script("/items", Reply(502), Reply(503), Reply(200, body=ITEMS))
    response = make_session(backoff_base=1.0).get(server.url + "/items")
    assert response.json() == ITEMS
    assert server.count("/items") == 3
    assert len(fake_time.sleeps) == 2
    assert 0.5 <= fake_time.sleeps[0] <= 1.0
    assert 1.0 <= fake_time.sleeps[1] <= 2.0


def test_a3_504_is_retried_too(server, make_session):
    server.script("/items", Reply(504), Reply(200, body=ITEMS))
    assert make_session().get(server.url + "/items").status_code == 200
    assert server.count("/items") == 2


def test_a4_persistent_5xx_is_fatal_after_max_attempts(server, make_session, fake_time):
    server.script("/items", Reply(503, body="down for maintenance"), repeat_last=True)
    with pytest.raises(ServerUnavailableError) as caught:
        make_session(max_attempts=4).get(server.url + "/items?token=zzz")
    assert server.count("/items") == 4
    assert len(fake_time.sleeps) == 3
    message = str(caught.value)
    assert "gave up after 4 attempts" in message
    assert "/items" in message
    assert "HTTP 503" in message
    assert "down for maintenance" in message
    assert "zzz" not in message
    assert caught.value.status == 503


def test_a4_max_elapsed_bounds_total_waiting(server, make_session, fake_time):
    server.script("/items", Reply(500), repeat_last=True)
    with pytest.raises(ServerUnavailableError) as caught:
        make_session(max_attempts=50, backoff_base=4.0, backoff_max=60.0, max_elapsed=20.0).get(server.url + "/items")
    assert sum(fake_time.sleeps) <= 20.0
    assert "http.max_elapsed=20" in str(caught.value)
    assert server.count("/items") < 50


@pytest.mark.parametrize("status", [400, 404, 422])
def test_a5_client_errors_are_not_retried(server, make_session, fake_time, status):
    server.script("/items", Reply(status, body={"error": "bad filter"}), Reply(200))
    response = make_session().get(server.url + "/items")
    assert response.status_code == status  # handed back for the stream to classify (see test_kit_stream)
    assert server.count("/items") == 1
    assert fake_time.sleeps == []


class SalesforceLikeClassifier(ResponseClassifier):
    """What the Salesforce product base does: a 403 with REQUEST_LIMIT_EXCEEDED is a spent quota."""

    def classify(self, response: requests.Response) -> Verdict:
        if response.status_code == 403 and b"REQUEST_LIMIT_EXCEEDED" in response.content:
            return "quota"
        return super().classify(response)


def test_a6_vendor_quota_signal_stops_without_retry(server, fake_time):
    body = [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}]
    server.script("/services/data/v60.0/query", Reply(403, body=body), Reply(200))
    session = ResilientSession(
        HttpPolicy(), classifier=SalesforceLikeClassifier(), clock=fake_time.clock, sleep=fake_time.sleep
    )
    with pytest.raises(QuotaExhaustedError) as caught:
        session.get(server.url + "/services/data/v60.0/query?q=SELECT+Id+FROM+Account")
    session.close()
    assert server.count() == 1
    assert fake_time.sleeps == []
    assert "quota exhausted" in str(caught.value)
    assert "REQUEST_LIMIT_EXCEEDED" in str(caught.value)
    assert "SELECT" not in str(caught.value)


def test_a6_per_call_classifier_overrides_session_default(server, make_session):
    server.script("/x", Reply(503, body="Connect API quota exceeded"))
    session = make_session()

    def classify(response: requests.Response) -> Verdict:
        return "quota" if b"quota" in response.content else "ok"

    with pytest.raises(QuotaExhaustedError):
        session.get(server.url + "/x", classify=classify)
    assert server.count() == 1


def test_a7_proactive_quota_guard_stops_before_next_call(server, make_session):
    server.script(
        "/query",
        Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": "api-usage=4000/5000"}),
        Reply(200, body={"records": []}, headers={"Sforce-Limit-Info": "api-usage=4600/5000"}),
        Reply(200, body={"records": []}),
    )
    session = make_session(max_quota_share=0.9)
    assert session.get(server.url + "/query").status_code == 200  # 80 %: fine
    assert session.get(server.url + "/query").status_code == 200  # 92 %: this page still counts
    with pytest.raises(QuotaExhaustedError) as caught:
        session.get(server.url + "/query")
    assert server.count() == 2  # the guard fired without touching the network
    assert "4600/5000" in str(caught.value)
    assert "http.max_quota_share" in str(caught.value)


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(200, body={"status": "ERROR", "message": "report failed"}), "body status 'ERROR'"),
        (
            Reply(
                200,
                body=b'<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                b"<soap:Body><soap:Fault><faultcode>soap:Server</faultcode></soap:Fault></soap:Body></soap:Envelope>",
                headers={"Content-Type": "text/xml"},
            ),
            "SOAP fault",
        ),
        (
            Reply(200, body=b"<!DOCTYPE html><html><form id=login></form></html>", headers={"Content-Type": HTML}),
            "HTML page",
        ),
    ],
)
def test_a8_error_in_200_body_is_an_error(server, make_session, reply, reason):
    server.script("/data", reply, Reply(200, body={"items": []}))
    with pytest.raises(ErrorBodyError) as caught:
        make_session().get(server.url + "/data", headers={"Accept": "application/json"})
    assert reason in str(caught.value)
    assert caught.value.status == 200
    assert server.count() == 1


def test_a8_retriable_error_body_rule(server, make_session):
    server.script("/data", Reply(200, body={"status": "ERROR"}), Reply(200, body={"status": "OK", "items": [1]}))

    def classify(response: requests.Response) -> Verdict:
        return "retry" if response.json().get("status") == "ERROR" else "ok"

    response = make_session().get(server.url + "/data", classify=classify)
    assert response.json()["items"] == [1]
    assert server.count() == 2


@pytest.mark.parametrize(
    "fault",
    [
        Reply(reset=True),
        Reply(200, body=json.dumps(ITEMS).encode(), headers={"Content-Type": "application/json"}, truncate_to=10),
        Reply(200, body=b'{"items": [{"id": 1}, {"i', headers={"Content-Type": JSON}, close_delimited=True),
        Reply(200, body=json.dumps(ITEMS).encode(), headers={"Content-Type": JSON}, chunked=True, truncate_to=20),
    ],
    ids=["connection-reset", "content-length-short", "truncated-json", "broken-chunk"],
)
def test_a9_reset_or_truncated_body_is_retried(server, make_session, fault):
    server.script("/items", fault, Reply(200, body=ITEMS))
    response = make_session().get(server.url + "/items")
    assert response.json() == ITEMS
    assert server.count("/items") == 2


def test_a9_chunked_body_is_read_whole(server, make_session):
    """Positive control for the broken-chunk case: the same chunked reply, complete, is accepted at once."""
    server.script("/items", Reply(200, body=ITEMS, chunked=True))
    assert make_session().get(server.url + "/items").json() == ITEMS
    assert server.count("/items") == 1


def test_a9_still_truncated_after_retries_is_fatal(server, make_session):
    server.script("/items", Reply(reset=True), repeat_last=True)
    with pytest.raises(ServerUnavailableError) as caught:
        make_session(max_attempts=3).get(server.url + "/items")
    assert server.count("/items") == 3
    assert "gave up after 3 attempts" in str(caught.value)
    assert "connection" in str(caught.value)


def test_a10_read_timeout_is_retried_with_explicit_timeouts(server, fake_time):
    server.script("/slow", Reply(200, delay=30), Reply(200, body=ITEMS))
    session = ResilientSession(HttpPolicy(read_timeout=0.3, connect_timeout=1.0), sleep=fake_time.sleep)
    response = session.get(server.url + "/slow")
    session.close()
    assert response.json() == ITEMS
    assert server.count("/slow") == 2
    assert len(fake_time.sleeps) == 1


def test_a10_wall_clock_budget_is_respected(server, fake_time):
    server.script("/slow", Reply(200, delay=30), repeat_last=True)
    session = ResilientSession(
        HttpPolicy(read_timeout=0.4, max_attempts=10, max_elapsed=0.6), sleep=fake_time.sleep, rng=lambda: 0.0
    )
    with pytest.raises(ServerUnavailableError) as caught:
        session.get(server.url + "/slow")
    session.close()
    assert "read timeout" in str(caught.value)
    assert server.count("/slow") <= 3  # the budget, not max_attempts=10, ended it


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory):
    directory = tmp_path_factory.mktemp("tls")
    good = make_certificate(directory, name="good")
    expired = make_certificate(directory, name="expired", expired=True)
    wrong_host = make_certificate(directory, name="wrong", hostnames=("elsewhere.example",), ips=())
    return {"good": good, "expired": expired, "wrong": wrong_host}


@pytest.mark.parametrize(
    ("cert", "trust", "reason"),
    [
        ("good", False, "self-signed"),
        ("expired", True, "expired"),
        ("wrong", True, "match"),
    ],
)
def test_a11_tls_failure_is_fatal_and_not_retried(tls_material, fake_time, cert, trust, reason):
    cert_path, key_path = tls_material[cert]
    with FaultServer(tls=server_tls_context(cert_path, key_path)) as tls_server:
        tls_server.script("/items", Reply(200, body=ITEMS), repeat_last=True)
        policy = HttpPolicy(ca_bundle=str(cert_path) if trust else None, max_attempts=5)
        session = ResilientSession(policy, clock=fake_time.clock, sleep=fake_time.sleep)
        with pytest.raises(TLSVerificationError) as caught:
            session.get(tls_server.url + "/items")
        session.close()
        assert tls_server.count() == 0  # the handshake failed: no request reached the server
    assert fake_time.sleeps == []  # not retried
    assert reason in str(caught.value)


def test_a11_positive_control_trusted_ca_bundle_works(tls_material, make_session):
    cert_path, key_path = tls_material["good"]
    with FaultServer(tls=server_tls_context(cert_path, key_path)) as tls_server:
        tls_server.script("/items", Reply(200, body=ITEMS))
        response = make_session(ca_bundle=str(cert_path)).get(tls_server.url + "/items")
    assert response.json() == ITEMS


def test_a11_verification_cannot_be_disabled(tls_material, make_session, monkeypatch):
    cert_path, key_path = tls_material["good"]
    monkeypatch.setenv("CURL_CA_BUNDLE", "")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "")
    monkeypatch.setenv("PYTHONHTTPSVERIFY", "0")
    with FaultServer(tls=server_tls_context(cert_path, key_path)) as tls_server:
        session = make_session()
        with pytest.raises(InsecureTransportError, match="cannot be disabled"):
            session.get(tls_server.url + "/items", verify=False)
        session.verify = False
        with pytest.raises(InsecureTransportError, match="cannot be disabled"):
            session.get(tls_server.url + "/items")
        session.verify = True
        with pytest.raises(TLSVerificationError):
            session.get(tls_server.url + "/items")
        assert tls_server.count() == 0


def test_a12_plain_http_rejected_outside_loopback(make_session):
    session = make_session()
    with pytest.raises(InsecureTransportError, match=r"only https:// is allowed"):
        session.get("http://api.example.invalid/items")


def test_a12_plain_http_on_loopback_can_be_refused_too(server, make_session):
    with pytest.raises(InsecureTransportError):
        make_session(allow_loopback_http=False).get(server.url + "/items")
    assert server.count() == 0


def _with_credentials(prepared: requests.PreparedRequest) -> requests.PreparedRequest:
    prepared.headers["Authorization"] = "Bearer sekret-bearer-token"
    prepared.headers["X-Api-Key"] = "sekret-api-key"
    return prepared


def test_a12_redirect_to_another_host_is_refused(server, make_session):
    with FaultServer() as other:
        other.script("/landing", Reply(200, body=ITEMS), repeat_last=True)
        server.script("/items", Reply(302, headers={"Location": other.url + "/landing?api_key=k"}))
        with pytest.raises(InsecureTransportError) as caught:
            make_session().get(server.url + "/items", authenticate=_with_credentials)
        assert other.count() == 0  # nothing at all, let alone a credential, reached the other host
    assert "refusing redirect" in str(caught.value)
    assert str(other.port) in str(caught.value)
    assert "api_key" not in str(caught.value)


def test_a12_redirect_from_https_to_http_is_refused(tls_material, server, make_session):
    cert_path, key_path = tls_material["good"]
    with FaultServer(tls=server_tls_context(cert_path, key_path)) as tls_server:
        tls_server.script("/items", Reply(301, headers={"Location": server.url + "/items"}))
        with pytest.raises(InsecureTransportError, match="refusing redirect"):
            make_session(ca_bundle=str(cert_path)).get(tls_server.url + "/items", authenticate=_with_credentials)
    assert server.count() == 0


def test_a12_same_origin_redirect_is_followed_with_credentials(server, make_session):
    server.script("/old", Reply(301, headers={"Location": "/new"}))
    server.script("/new", Reply(200, body=ITEMS))
    response = make_session().get(server.url + "/old", authenticate=_with_credentials)
    assert response.json() == ITEMS
    assert server.requests_to("/new")[0].headers["Authorization"] == "Bearer sekret-bearer-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a13_connection_refused_opens_circuit_then_half_open_probe_closes_it(make_session, fake_time, tmp_path):
    port = _free_port()
    audit_path = tmp_path / "audit.jsonl"
    session = make_session(max_attempts=2, breaker_fail_max=3, breaker_reset_timeout=60, audit_path=str(audit_path))
    url = f"http://127.0.0.1:{port}/items"
    for _ in range(3):  # each request that gives up is one failure (not each attempt); the third opens it
        with pytest.raises(ServerUnavailableError, match="connection refused"):
            session.get(url)
    lines_when_open = len(audit_path.read_text().splitlines())
    assert lines_when_open == 6
    for _ in range(5):
        with pytest.raises(CircuitOpenError, match="failing fast"):
            session.get(url)
    assert len(audit_path.read_text().splitlines()) == lines_when_open  # no network while open
    fake_time.advance(61)
    with FaultServer(port=port) as revived:
        revived.script("/items", Reply(200, body=ITEMS), repeat_last=True)
        assert session.get(url).json() == ITEMS  # half-open probe succeeds and closes the circuit
        assert session.breakers.get(f"http://127.0.0.1:{port}").state == "closed"
        assert session.get(url).status_code == 200
        assert revived.count() == 2


def test_a14_attempts_per_request_are_bounded(server, make_session):
    """The documented bound: HTTP requests per logical request <= max_attempts * (1 + max_redirects)."""
    server.script("/items", Reply(503), repeat_last=True)
    with pytest.raises(ServerUnavailableError):
        make_session(max_attempts=3).get(server.url + "/items")
    assert server.count("/items") == 3
    server.script("/loop", Reply(302, headers={"Location": "/loop"}), repeat_last=True)
    with pytest.raises(KitHTTPError, match="more than 2 redirects"):
        make_session(max_attempts=3, max_redirects=2).get(server.url + "/loop")
    assert server.count("/loop") == 3  # the request plus 2 hops, not retried
    assert server.count() <= 3 * (1 + 2) + 3


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://api.example.com/x", True),
        ("http://127.0.0.1:8080/x", True),
        ("http://127.9.9.9/x", True),
        ("http://localhost:18101/x", True),
        ("http://[::1]:18101/x", True),
        ("http://10.0.0.1/x", False),
        ("http://localhost.example.com/x", False),
        ("ftp://127.0.0.1/x", False),
        ("127.0.0.1/x", False),
    ],
)
def test_a12_transport_rule_per_url(make_session, url, allowed):
    session = make_session()
    if allowed:
        session.check_url(url)
    else:
        with pytest.raises(InsecureTransportError, match="only https:// is allowed"):
            session.check_url(url)
