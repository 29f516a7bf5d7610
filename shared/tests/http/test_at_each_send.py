"""``at_each_send``: the caller's mark runs once per HTTP attempt, just before the send, inside the attempt's
audit (review29h L3). Over real HTTP to the scripted fault server on 127.0.0.1, on the fake clock."""

from __future__ import annotations

import json

import pytest

from xlr8_kit.http.session import at_each_send
from xlr8_kit.testing.faultserver import Reply


def test_a_retried_request_marks_each_attempt_and_the_last_mark_is_the_answered_one(
    server, make_session, tmp_path
) -> None:
    """A 503 then a 200: two marks, each taken before its own attempt reached the server, so the mark a caller
    judges the answer by (the last one) is the answered attempt's, never the failed one's."""
    server.script("/items", Reply(503, headers={"Retry-After": "1"}), Reply(200, body={"items": [1]}))
    session = make_session(audit_path=str(tmp_path / "audit.jsonl"))
    marks: list[int] = []
    with at_each_send(lambda: marks.append(server.count())):
        response = session.get(server.url + "/items")
    assert response.json() == {"items": [1]}
    assert marks == [0, 1]  # one per attempt, each before its request arrived
    session.get(server.url + "/items")  # outside the ``with``: no mark
    assert marks == [0, 1]


def test_a_mark_that_raises_gets_the_attempt_its_audit_line(server, make_session, tmp_path) -> None:
    """Before, the mark ran before the attempt's ``try``: its exception escaped with no audit line for the attempt."""
    audit_path = tmp_path / "audit.jsonl"
    server.script("/items", Reply(200, body={"items": [1]}))
    session = make_session(audit_path=str(audit_path))

    def broken() -> None:
        raise RuntimeError("the mark broke")

    with at_each_send(broken), pytest.raises(RuntimeError, match="the mark broke"):
        session.get(server.url + "/items")
    assert server.count() == 0  # nothing was sent
    lines = [json.loads(line) for line in audit_path.read_text().splitlines()]
    assert [(line["path"], line["status"], line["attempt"]) for line in lines] == [("/items", None, 1)]
    assert "RuntimeError" in lines[0]["error"]
