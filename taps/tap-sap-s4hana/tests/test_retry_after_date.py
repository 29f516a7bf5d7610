"""audit25d F5, over real HTTP: a 429's ``Retry-After`` given as an HTTP-date is a moment on the server's clock, so
the wait is counted from the answer's own ``Date``, not from ours. The S/4 emulator writes both on its own clock
(sandbox time), which here stands months behind ours, or minutes ahead: read against our clock, the first asked
again at once (no wait at all), the second waited 10 minutes more than asked, past ``http.max_retry_after``
(the run stopped, rate limited)."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import sync_in_process
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_tap_sap_s4hana.tap import TapSapS4Hana

from .conftest import basic_config

SUPPLIERS = "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_Supplier"


@pytest.fixture
def server_clock(sandbox: Sandbox) -> Iterator[t.Any]:
    """The emulator's clock (its ``Date`` header), back where it started after the test."""
    clock = sandbox.ctx.clock
    try:
        yield clock
    finally:
        clock.reset()


def read_throttled_once(url: str, sandbox: Sandbox) -> tuple[list[str], FakeTime]:
    """Suppliers, page 1 answered 429 with ``Retry-After`` 7 s after the server's now, as an HTTP-date: the supplier
    ids that landed and the waits the session asked for."""
    sandbox.faults.add("s4hana", SUPPLIERS, FaultSpec("rate_limit", retry_after=7, retry_after_format="http-date",
                                                      times=1))  # fmt: skip
    start = len(sandbox.requests("s4hana"))
    fake = FakeTime()
    tap = with_fake_time(TapSapS4Hana, fake)(
        config=basic_config(url, entity_sets=["A_Supplier"], page_size=50), parse_env_config=False
    )
    output = sync_in_process(tap, exact_decimals=True)
    throttled = [r for r in sandbox.requests("s4hana")[start:] if r.path == SUPPLIERS and r.status == 429]
    assert len(throttled) == 1, "the 429 was served"
    return [r["Supplier"] for r in output.records("A_Supplier")], fake


def test_a_server_clock_behind_ours_still_gets_its_wait(url: str, sandbox: Sandbox, server_clock: t.Any) -> None:
    assert server_clock.now() < datetime.now(UTC) - timedelta(days=1), "sandbox time stands behind ours"
    ids, fake = read_throttled_once(url, sandbox)
    assert ids == [s.supplier_id for s in sandbox.ctx.company.suppliers()]
    assert fake.sleeps == [7.0]


def test_a_server_clock_ahead_of_ours_is_not_waited_for_minutes(
    url: str, sandbox: Sandbox, server_clock: t.Any
) -> None:
    server_clock.set(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10))
    ids, fake = read_throttled_once(url, sandbox)
    assert ids == [s.supplier_id for s in sandbox.ctx.company.suppliers()]
    assert fake.sleeps == [7.0]
