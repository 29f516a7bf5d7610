"""Fixtures for the resilient HTTP layer: a scripted fault server on 127.0.0.1 and a controllable clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_kit.testing.faultserver import FaultServer


class FakeTime:
    """Monotonic and wall clocks that only move when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.wall_base = 1_800_000_000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_base + self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
