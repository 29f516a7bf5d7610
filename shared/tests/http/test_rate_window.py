"""audit25d F6: a 429 without Retry-After waits the vendor's rate-limit window (``http.rate_window``, a product
default), within ``http.max_retry_after``; other retried answers keep the exponential backoff."""

from __future__ import annotations

import pytest
import requests

from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, Verdict, mark_rate_limited
from xlr8_kit.http.errors import RateLimitedError
from xlr8_kit.rest import http_policy_from_config
from xlr8_kit.testing.faultserver import Reply

OK = Reply(200, body={"ok": True})


def test_a_429_without_retry_after_waits_the_window(server, make_session, fake_time):
    server.script("/x", Reply(429), Reply(429), OK)
    assert make_session(rate_window=60).get(server.url + "/x").json() == {"ok": True}
    assert len(fake_time.sleeps) == 2
    assert all(60 <= wait <= 61 for wait in fake_time.sleeps)


def test_the_window_is_capped_by_max_retry_after(server, make_session, fake_time):
    server.script("/x", Reply(429), OK)
    make_session(rate_window=60, max_retry_after=20).get(server.url + "/x")
    assert 20 <= fake_time.sleeps[0] <= 21


def test_a_503_and_a_429_with_retry_after_are_unchanged(server, make_session, fake_time):
    server.script("/x", Reply(503), Reply(429, headers={"Retry-After": "5"}), OK)
    make_session(rate_window=60).get(server.url + "/x")
    assert fake_time.sleeps[0] <= 1.0  # the 5xx backoff's first step
    assert 5 <= fake_time.sleeps[1] <= 6


def test_the_products_default_applies_unless_the_setting_says_otherwise():
    assert http_policy_from_config({}, {"rate_window": 60}).rate_window == 60
    assert http_policy_from_config({"http": {"rate_window": 0}}, {"rate_window": 60}).rate_window == 0
    assert http_policy_from_config({"http": {"rate_window": None}}, {"rate_window": 60}).rate_window == 60
    assert http_policy_from_config({}).rate_window is None


def _marking(response: requests.Response) -> Verdict:
    """A product classifier whose vendor says "rate limited" in a 400 body (as UKG Ready's error code 100)."""
    if response.status_code == 400 and b'"code": 100' in response.content:
        mark_rate_limited(response)
        return "retry"
    return DEFAULT_CLASSIFIER.classify(response)


LIMITED = Reply(400, body={"code": 100})


def test_a_marked_rate_limit_waits_the_window_like_a_429(server, make_session, fake_time):
    server.script("/x", LIMITED, LIMITED, OK)
    session = make_session(rate_window=60)
    assert session.get(server.url + "/x", classify=_marking).json() == {"ok": True}
    assert len(fake_time.sleeps) == 2
    assert all(60 <= wait <= 61 for wait in fake_time.sleeps)  # the window, not the 1-2 s backoff


def test_a_marked_rate_limit_gives_up_as_rate_limited_and_leaves_the_circuit_closed(server, make_session, fake_time):
    server.script("/x", *[LIMITED] * 6)
    session = make_session(rate_window=60, max_attempts=3, breaker_fail_max=1)
    with pytest.raises(RateLimitedError, match="still rate limited"):
        session.get(server.url + "/x", classify=_marking)
    assert len(fake_time.sleeps) == 2
    server.script("/y", OK)
    assert session.get(server.url + "/y").json() == {"ok": True}  # not failing fast: the host did not fail
