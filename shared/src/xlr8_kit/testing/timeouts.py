"""The timeouts each request was sent with: a spy on ``requests.Session.send``, so a test proves which read timeout
a call waits by what the session asked for, not by a stall racing the wall clock of a loaded runner (review26a M4)."""

from __future__ import annotations

import contextlib
import typing as t
from collections.abc import Iterator
from dataclasses import dataclass
from unittest import mock

import requests


@dataclass(frozen=True)
class Sent:
    """One request as it went to the transport, with the (connect, read) timeout it was given."""

    request: requests.PreparedRequest
    connect: float | None
    read: float | None

    @property
    def body(self) -> bytes:
        body = self.request.body or b""
        return body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""


@contextlib.contextmanager
def sent_timeouts() -> Iterator[list[Sent]]:
    """Every request any ``requests`` session sends inside the block, in order, with its timeouts."""
    sent: list[Sent] = []
    real = requests.Session.send

    def spy(session: requests.Session, request: requests.PreparedRequest, **kwargs: t.Any) -> requests.Response:
        timeout = kwargs.get("timeout")
        connect, read = timeout if isinstance(timeout, tuple) else (timeout, timeout)
        sent.append(Sent(request, connect, read))
        return real(session, request, **kwargs)

    with mock.patch.object(requests.Session, "send", spy):
        yield sent
