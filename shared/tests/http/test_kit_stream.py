"""KitTap / KitRESTStream over real HTTP: the SDK's request loop with the kit's session underneath."""

from __future__ import annotations

import json
import socket
from collections import deque
from typing import Any

import pytest
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.pagination import SinglePagePaginator

from xlr8_kit import streaming
from xlr8_kit.http.errors import (
    AnswerShapeError,
    AuthenticationError,
    CircuitOpenError,
    ClientRequestError,
    ErrorBodyError,
    ReauthorizationRequiredError,
    ServerUnavailableError,
)
from xlr8_kit.http.session import HttpPolicy
from xlr8_kit.testing.fake_time import with_session_time
from xlr8_kit.testing.faultserver import FaultServer, RecordedRequest, Reply

from .conftest import demo_tap_module

JSON = "application/json"


demo = demo_tap_module()


class PagedApi:
    """Per-page reply queues behind one path, plus an OAuth token endpoint counting its calls."""

    def __init__(self, server: FaultServer, pages: dict[str, list[Reply]], tokens: list[str] | None = None) -> None:
        self.pages = {page: deque(replies) for page, replies in pages.items()}
        self.tokens = deque(tokens or ["tok-0001-abcdef"])
        self.last_token = self.tokens[0]
        server.route("/items", self.items)
        server.route("/oauth/token", self.token)

    def items(self, request: RecordedRequest) -> Reply:
        page = request.query.get("page", ["1"])[0]
        queue = self.pages[page]
        return queue.popleft() if len(queue) > 1 else queue[0]

    def token(self, request: RecordedRequest) -> Reply:
        if self.tokens:
            self.last_token = self.tokens.popleft()
        return Reply(200, body={"access_token": self.last_token, "token_type": "bearer", "expires_in": 3600})


def make_tap(server: FaultServer, fake_time: Any, **extra: Any) -> Any:
    fake_time_tap = with_session_time(demo.DemoTap, clock=fake_time.clock, sleep=fake_time.sleep, wall=fake_time.wall)
    config = {
        "base_url": server.url,
        "client_id": "demo-client",
        "client_secret": "client-secret-value-123",
        "api_key": "api-key-value-456",
        **extra,
    }
    return fake_time_tap(config=config, parse_env_config=False)


def page(ids: list[int], next_page: str | None) -> Reply:
    return Reply(200, body={"items": [{"id": i, "name": f"n{i}"} for i in ids], "next_page": next_page})


def test_a1_stream_retries_the_same_page_without_duplicates(server, fake_time):
    PagedApi(
        server,
        {
            "1": [page([1, 2], "2")],
            "2": [Reply(429, headers={"Retry-After": "30"}), page([3, 4], "3")],
            "3": [page([5], None)],
        },
    )
    tap = make_tap(server, fake_time)
    records = list(tap.streams["items"].get_records(None))
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5]
    assert [s for s in fake_time.sleeps if s >= 30] == fake_time.sleeps
    assert len(fake_time.sleeps) == 1
    assert [r.query.get("page", ["1"])[0] for r in server.requests_to("/items")] == ["1", "2", "2", "3"]
    assert server.count("/oauth/token") == 1


def test_a5_client_error_message_has_path_status_truncated_redacted_body(server, fake_time):
    long_body = "bad request: api_key api-key-value-456 rejected; " + "x" * 3000
    PagedApi(server, {"1": [Reply(422, body=long_body)]})
    tap = make_tap(server, fake_time)
    with pytest.raises(ClientRequestError) as caught:
        list(tap.streams["items"].get_records(None))
    message = str(caught.value)
    assert "HTTP 422" in message
    assert "path /items" in message
    assert "api-key-value-456" not in message
    assert "***" in message
    assert "more chars]" in message
    assert len(message) < 700
    assert "?" not in message  # no query string
    assert server.count("/items") == 1


def test_a5_unauthorized_without_refresh_hook_names_the_fix(server, fake_time):
    PagedApi(server, {"1": [Reply(401, body={"error": "invalid_token"})]})
    tap = make_tap(server, fake_time)
    tap.kit.authenticator.force_refresh = None  # an authenticator without the hook
    with pytest.raises(AuthenticationError, match="re-authorise"):
        list(tap.streams["items"].get_records(None))


def test_a8_error_body_emits_no_records(server, fake_time):
    PagedApi(server, {"1": [Reply(200, body={"status": "ERROR", "items": [{"id": 9}]})]})
    tap = make_tap(server, fake_time)
    emitted = []
    with pytest.raises(ErrorBodyError):
        emitted.extend(tap.streams["items"].get_records(None))
    assert emitted == []


def test_a8_a_page_without_its_list_is_an_error_naming_stream_and_key(server, fake_time):
    """``$.items[*]`` over a 200 without ``items`` (a gateway's page, a changed shape) was no rows and the end of the
    paging: the rows after page 1 were lost. An empty ``items`` is still no rows."""
    PagedApi(server, {"1": [page([1, 2], "2")], "2": [Reply(200, body={"next_page": None, "data": ["Secret Lee"]})]})
    tap = make_tap(server, fake_time)
    emitted = []
    with pytest.raises(AnswerShapeError) as caught:
        emitted.extend(tap.streams["items"].get_records(None))
    assert [r["id"] for r in emitted] == [1, 2]
    assert str(caught.value).startswith("items (/items): the answer has no 'items', where the rows come as a list")
    assert "Secret" not in str(caught.value)
    PagedApi(server, {"1": [page([], None)]})
    assert list(make_tap(server, fake_time).streams["items"].get_records(None)) == []


def test_a9_truncated_page_is_refetched_and_emitted_once(server, fake_time):
    PagedApi(
        server,
        {
            "1": [
                Reply(200, body=b'{"items": [{"id": 1, "name": "n1"}, {"id"', headers={"Content-Type": JSON}),
                page([1, 2], None),
            ]
        },
    )
    tap = make_tap(server, fake_time)
    assert [r["id"] for r in tap.streams["items"].get_records(None)] == [1, 2]
    assert server.count("/items") == 2


def test_a14_sdk_backoff_does_not_multiply_attempts(server, fake_time):
    PagedApi(server, {"1": [Reply(503)]})
    tap = make_tap(server, fake_time, http={"max_attempts": 3})
    with pytest.raises(ServerUnavailableError, match="gave up after 3 attempts"):
        list(tap.streams["items"].get_records(None))
    assert server.count("/items") == 3  # not 3 x the SDK's 5 tries
    assert server.count("/oauth/token") == 1


def test_a10_policy_timeouts_reach_the_socket(server, fake_time):
    PagedApi(server, {"1": [Reply(200, delay=30), page([1], None)]})
    tap = make_tap(server, fake_time, http={"read_timeout": 0.3, "connect_timeout": 1})
    assert [r["id"] for r in tap.streams["items"].get_records(None)] == [1]
    assert server.count("/items") == 2


def test_b2_one_forced_refresh_then_retry(server, fake_time):
    api = PagedApi(
        server,
        {"1": [Reply(401, body={"error": "INVALID_SESSION_ID"}), page([1], None)]},
        tokens=["tok-first-1111", "tok-second-2222"],
    )
    tap = make_tap(server, fake_time)
    assert [r["id"] for r in tap.streams["items"].get_records(None)] == [1]
    sent = [r.headers["Authorization"] for r in server.requests_to("/items")]
    assert sent == ["Bearer tok-first-1111", "Bearer tok-second-2222"]
    assert server.count("/oauth/token") == 2
    assert api.last_token == "tok-second-2222"


def test_b2_second_401_is_fatal_reauthentication_required(server, fake_time):
    PagedApi(server, {"1": [Reply(401, body={"error": "INVALID_SESSION_ID"})]}, tokens=["tok-a-1111", "tok-b-2222"])
    tap = make_tap(server, fake_time)
    with pytest.raises(ReauthorizationRequiredError, match="re-authentication required"):
        list(tap.streams["items"].get_records(None))
    assert server.count("/items") == 2
    assert server.count("/oauth/token") == 2


def test_d2_runtime_tokens_are_masked_from_receipt(server, fake_time, caplog):
    PagedApi(server, {"1": [page([1], None)]}, tokens=["tok-runtime-canary-9c1e"])
    tap = make_tap(server, fake_time)
    list(tap.streams["items"].get_records(None))
    import logging

    logging.getLogger("some.library").warning("leaking Bearer %s", "tok-runtime-canary-9c1e")
    assert "tok-runtime-canary-9c1e" not in caplog.text
    assert "leaking Bearer ***" in caplog.text


def test_invalid_http_settings_name_the_setting(server, fake_time):
    PagedApi(server, {"1": [page([1], None)]})
    with pytest.raises(ValueError, match=r"http\.max_attempts=0"):
        make_tap(server, fake_time, http={"max_attempts": 0})
    with pytest.raises(ValueError, match=r"http\.retries"):
        make_tap(server, fake_time, http={"retries": 3})
    with pytest.raises(ConfigValidationError) as caught:  # the SDK's schema check names it first
        make_tap(server, fake_time, http={"read_timeout": "soon"})
    assert "read_timeout" in str(caught.value.errors)
    with pytest.raises(ValueError, match=r"http\.read_timeout must be a number"):
        HttpPolicy(read_timeout="soon")  # type: ignore[arg-type]
    assert server.count() == 0


def test_a8_product_hook_for_error_bodies(server, fake_time):
    """A product base overrides ``response_error_in_body`` and chooses whether such a body is retried."""

    class StrictItems(demo.ItemsStream):
        error_body_verdict = "retry"

        def response_error_in_body(self, response: Any) -> str | None:
            body = response.json()
            return None if body.get("success", True) else f"vendor said {body.get('reason')}"

    PagedApi(server, {"1": [Reply(200, body={"success": False, "reason": "busy"}), page([7], None)]})
    tap = make_tap(server, fake_time)
    assert [r["id"] for r in StrictItems(tap).get_records(None)] == [7]
    assert server.count("/items") == 2

    StrictItems.error_body_verdict = "fatal"
    PagedApi(server, {"1": [Reply(200, body={"success": False, "reason": "locked"})]})
    with pytest.raises(ErrorBodyError, match="vendor said locked"):
        list(StrictItems(make_tap(server, fake_time)).get_records(None))


def test_g1_tap_run_persists_breaker_state_for_the_next_run(tmp_path, fake_time):
    dead = f"http://127.0.0.1:{_free_port()}"
    state = tmp_path / "breakers.json"
    # one request that gives up is one failure: fail_max 1 opens the circuit with it
    http = {"breaker_state_path": str(state), "breaker_fail_max": 1, "max_attempts": 2, "breaker_reset_timeout": 600}
    tap = make_tap(FaultServerStub(dead), fake_time, http=http)
    with pytest.raises(ServerUnavailableError, match="connection refused"):
        tap.sync_all()
    saved = json.loads(state.read_text())
    assert saved[f"universal:|{dead}"]["state"] == "open"  # scope product:credential, then the origin
    next_run = make_tap(FaultServerStub(dead), fake_time, http=http)
    with pytest.raises(CircuitOpenError):
        next_run.sync_all()  # fails fast: no connection attempted while the circuit is open


class FaultServerStub:
    """Just a URL: the point is that nothing listens there."""

    def __init__(self, url: str) -> None:
        self.url = url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReadAheadItems(demo.ItemsStream):
    """The demo stream with one page of read-ahead and a bookmark (ids ascend across pages)."""

    read_ahead_pages = True
    replication_key = "id"
    is_sorted = True


def test_read_ahead_keeps_page_order_and_honours_retry_after(server, fake_time):
    PagedApi(
        server,
        {
            "1": [page([1, 2], "2")],
            "2": [Reply(429, headers={"Retry-After": "30"}), page([3, 4], "3")],
            "3": [page([5], "4")],
            "4": [page([6, 7], None)],
        },
    )
    stream = ReadAheadItems(make_tap(server, fake_time))
    records = list(stream._sync_records(None, write_messages=False))
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5, 6, 7]
    assert len(fake_time.sleeps) == 1  # the Retry-After of the page fetched ahead was honoured (plus jitter)
    assert fake_time.sleeps[0] >= 30
    assert [r.query.get("page", ["1"])[0] for r in server.requests_to("/items")] == ["1", "2", "2", "3", "4"]
    assert stream.get_context_state(None)["replication_key_value"] == 7


def test_read_ahead_error_on_page_3_comes_after_pages_1_and_2_and_state_stops_there(server, fake_time):
    PagedApi(
        server,
        {
            "1": [page([1, 2], "2")],
            "2": [page([3, 4], "3")],
            "3": [Reply(400, body={"error": "bad page"})],
            "4": [page([9], None)],
        },
    )
    stream = ReadAheadItems(make_tap(server, fake_time))
    emitted: list[int] = []
    with pytest.raises(ClientRequestError, match="HTTP 400"):
        emitted.extend(record["id"] for record in stream._sync_records(None, write_messages=False))
    assert emitted == [1, 2, 3, 4]
    assert stream.get_context_state(None)["replication_key_value"] == 4
    assert [r.query.get("page", ["1"])[0] for r in server.requests_to("/items")] == ["1", "2", "3"]


class StreamedItems(demo.ItemsStream):
    """The demo stream on one page whose body is read as it arrives (``stream_bodies``)."""

    stream_bodies = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_whole: list[bool] = []

    def get_new_paginator(self) -> SinglePagePaginator:  # type: ignore[override]
        return SinglePagePaginator()

    def parse_response(self, response: Any) -> Any:
        self.read_whole.append(streaming.body_complete(response))
        yield from json.loads(b"".join(streaming.body_chunks(response, what="items page")))["items"]


def test_stream_bodies_sends_through_send_streamed_and_leaves_a_large_body_unread(server, fake_time, monkeypatch):
    monkeypatch.setattr(streaming, "PEEK_BYTES", 64)
    PagedApi(server, {"1": [page(list(range(1, 21)), None)]})
    stream = StreamedItems(make_tap(server, fake_time))
    assert [r["id"] for r in stream.get_records(None)] == list(range(1, 21))
    assert stream.read_whole == [False]
    assert server.count("/items") == 1


def test_stream_bodies_error_answers_are_read_whole_and_stop_the_stream(server, fake_time, monkeypatch):
    monkeypatch.setattr(streaming, "PEEK_BYTES", 64)
    PagedApi(server, {"1": [Reply(422, body="bad request: " + "x" * 3000)]})
    stream = StreamedItems(make_tap(server, fake_time))
    with pytest.raises(ClientRequestError, match="HTTP 422"):
        list(stream.get_records(None))
    assert stream.read_whole == []
