"""Paging helpers: offset windows and server cursors that expire on sandbox time (E8)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from xlr8_sandbox.platform.clock import SandboxClock
from xlr8_sandbox.platform.paging import CursorStore, Window, offset_window


def test_offset_windows_walk_the_result_exactly_once() -> None:
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        window = offset_window(23, offset, 10)
        seen.extend(range(window.start, window.stop))
        offset = window.next_offset
    assert seen == list(range(23))
    assert offset_window(23, "40", None) == Window(23, 23, None)
    assert offset_window(0, None, None) == Window(0, 0, None)


@pytest.mark.parametrize(
    ("offset", "limit", "message"),
    [("-1", 10, "'offset' must be >= 0"), ("x", 10, "'offset' must be an integer"), (0, 5000, "'limit' must be")],
)
def test_bad_paging_parameters_are_named(offset: object, limit: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        offset_window(100, offset, limit, max_limit=2000)  # type: ignore[arg-type]


def test_e8_cursors_expire_on_sandbox_time_and_on_demand() -> None:
    clock = SandboxClock()
    cursors: CursorStore[int] = CursorStore(clock, ttl=timedelta(minutes=15), prefix="01g")
    token = cursors.open(2000)
    assert token.startswith("01g")
    assert cursors.get(token) == 2000
    clock.advance(timedelta(minutes=10))
    cursors.update(token, 4000)  # use extends the life
    clock.advance(timedelta(minutes=10))
    assert cursors.get(token) == 4000
    clock.advance(timedelta(minutes=16))
    assert cursors.get(token) is None
    other = cursors.open(0)
    assert cursors.expire_all() == 1
    assert cursors.get(other) is None
    assert len(cursors) == 0
