"""Fixtures for the resilient HTTP layer: a scripted fault server on 127.0.0.1 and a controllable clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_kit.testing.fake_time import FakeTime
from xlr8_kit.testing.faultserver import FaultServer


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as s:
        yield s


@pytest.fixture
def make_session(fake_time: FakeTime) -> Iterator[Callable[..., ResilientSession]]:
    """Build sessions on the fake clock; closes them (and their audit files) after the test."""
    made: list[ResilientSession] = []

    def factory(redactor: Redactor | None = None, **policy: Any) -> ResilientSession:
        session = ResilientSession(
            HttpPolicy(**policy),
            product="testprod",
            credential_id="cred-1",
            redactor=redactor or Redactor(),
            clock=fake_time.clock,
            sleep=fake_time.sleep,
            wall=fake_time.wall,
            run_id="run-123",
        )
        made.append(session)
        return session

    yield factory
    for session in made:
        session.close()
