"""Fixtures for the resilient HTTP layer: a scripted fault server on 127.0.0.1 and a controllable clock."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
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


def demo_tap_module() -> Any:
    """The HTTP tests' demo tap (``demo_tap.py``), loaded once under one name for every test module that uses it
    (the tests run with ``--import-mode=importlib``, so it is not importable by its file name)."""
    name = "xlr8_http_tests_demo_tap"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).parent / "demo_tap.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
