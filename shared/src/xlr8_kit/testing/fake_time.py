"""Time under the test's control for a tap's HTTP session: Retry-After waits, backoff and polling are checked by
what the code asked to sleep, never by sleeping (RELIABILITY A1-A4, G3)."""

from __future__ import annotations

import typing as t
from collections.abc import Callable

from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitTap

TapT = t.TypeVar("TapT", bound=KitTap)


class FakeTime:
    """Monotonic and wall clocks that only move when the code under test sleeps (or the test advances them)."""

    def __init__(self, start: float = 1000.0, wall_base: float = 1_800_000_000.0) -> None:
        self.now = start
        self.wall_base = wall_base
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall_base + self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0, f"asked to sleep {seconds} s"
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


def with_session_time(
    tap_class: type[TapT],
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], None] | None = None,
    wall: Callable[[], float] | None = None,
    rng: Callable[[], float] | None = None,
) -> type[TapT]:
    """``tap_class`` whose session uses the given clock, sleep, wall clock and jitter source (real time for any
    left out); everything else about the tap is unchanged."""
    overrides: dict[str, t.Any] = {
        name: value for name, value in {"clock": clock, "sleep": sleep, "wall": wall, "rng": rng}.items() if value
    }

    def make_session(
        self: KitTap, policy: HttpPolicy, *, config: dict[str, t.Any], redactor: Redactor
    ) -> ResilientSession:
        return ResilientSession(
            policy, product=self.product_id, credential_id=config.get("credential_id"), redactor=redactor, **overrides
        )

    name = f"{tap_class.__name__}WithSessionTime"
    return t.cast("type[TapT]", type(name, (tap_class,), {"make_session": make_session, "__module__": __name__}))


def with_fake_time(tap_class: type[TapT], fake: FakeTime) -> type[TapT]:
    """``tap_class`` whose waits and budgets run on ``fake``'s monotonic clock, with no backoff jitter (waits are
    exact); the wall clock stays real, so HTTP-date Retry-After values and emulator dates still agree."""
    return with_session_time(tap_class, clock=fake.clock, sleep=fake.sleep, rng=lambda: 0.0)
