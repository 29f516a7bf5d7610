"""audit25d F1/F2: a job's create (``idempotent=False``) is never resent after it may have reached the server; it
is resent only when it certainly did not (no connection made) or the answer says it was not applied (429, 503
with Retry-After, 408, 425). Over real HTTP against the scripted fault server."""

from __future__ import annotations

import socket

import pytest

from xlr8_kit.http.errors import OutcomeUnknownError
from xlr8_kit.testing.faultserver import Reply

CREATED = Reply(201, body={"id": "750000000000001"})


@pytest.mark.parametrize(
    ("first", "problem"),
    [
        (Reply(201, body={"id": "late"}, delay=3.0), "read timeout"),
        (Reply(502), "HTTP 502"),
        (Reply(500), "HTTP 500"),
        (Reply(504), "HTTP 504"),
        (Reply(503), "HTTP 503"),
        (Reply(reset=True), "connection"),
    ],
)
def test_a_create_that_may_have_landed_is_not_resent(server, make_session, first, problem):
    server.script("/jobs", first, CREATED)
    session = make_session(read_timeout=0.5)
    with pytest.raises(OutcomeUnknownError, match="not resent, since the server may have acted on it") as caught:
        session.post(server.url + "/jobs", json={"query": "SELECT Id FROM Account"}, idempotent=False)
    assert problem in str(caught.value)
    assert server.count("/jobs") == 1


def test_the_same_post_without_the_flag_is_retried(server, make_session):
    """Control: what the create did before (a second job made, the first one's id never read)."""
    server.script("/jobs", Reply(201, body={"id": "late"}, delay=3.0), CREATED)
    session = make_session(read_timeout=0.5)
    assert session.post(server.url + "/jobs", json={}).json() == {"id": "750000000000001"}
    assert server.count("/jobs") == 2


@pytest.mark.parametrize(
    "first",
    [Reply(429), Reply(503, headers={"Retry-After": "1"}), Reply(408), Reply(425)],
)
def test_a_create_the_server_did_not_apply_is_resent(server, make_session, first):
    server.script("/jobs", first, CREATED)
    session = make_session()
    response = session.post(server.url + "/jobs", json={}, idempotent=False)
    assert response.json() == {"id": "750000000000001"}
    assert server.count("/jobs") == 2


def test_a_create_whose_connection_was_never_made_is_resent(make_session, fake_time):
    with socket.socket() as probe:  # a port nothing listens on: connection refused, nothing sent
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = make_session(max_attempts=3)
    with pytest.raises(Exception, match="gave up after 3 attempts: connection refused"):
        session.post(f"http://127.0.0.1:{port}/jobs", json={}, idempotent=False)
    assert len(fake_time.sleeps) == 2
