"""audit25d F6: a 429 without Retry-After waits the vendor's rate-limit window (``http.rate_window``, a product
default), within ``http.max_retry_after``; other retried answers keep the exponential backoff."""

from __future__ import annotations

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
