"""review29g H1: shift shapes where an untyped out punch came long after the punch before it (a night's out punch
8 h after an early meal's return, the night half of a same-day double, the fall-back DST night) were put on the
next day, a later day than their shift's: the run whose window starts on that day is answered without the shift,
announces the day whole, and marked the out punch deleted (exit 0). Tap CLI into target CLI over HTTP, a server in
front of the emulator reshaping its timecard answers; two overlapping runs, no landed punch marked deleted."""

from __future__ import annotations

import json
import re
import typing as t
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_dayless_rows import _marks
from .test_punch_days import _day, _days
from .test_vendor_shapes import _land, _sync_cli


def _nights(answer: t.Any, day: str) -> t.Iterator[tuple[list[dict[str, t.Any]], str, datetime]]:
    """Each card's punches (untyped: ``typeOverride`` removed), with the key and in time of its night shift of
    ``day`` (in at 18:00 or later), if any."""
    for card in answer:
        kept = list(card.get("punches") or [])
        for punch in kept:
            punch.pop("typeOverride", None)
        card["punches"] = kept
        for punch in list(kept):
            key = punch["id"].split("-", 1)[1]
            if punch["id"].startswith("PI-") and key.endswith(day) and punch["punchDtm"][11:13] >= "18":
                yield kept, key, datetime.fromisoformat(punch["punchDtm"])


def _reshape(kept: list[dict[str, t.Any]], key: str, times: dict[str, datetime]) -> None:
    """Give shift ``key`` the punches ``times`` (kind prefix -> wall time), each a copy of its in punch renamed."""
    model = next(p for p in kept if p["id"] == f"PI-{key}")
    kept[:] = [p for p in kept if p["id"].split("-", 1)[1] != key]
    kept.extend({**model, "id": f"{kind}-{key}", "punchDtm": at.isoformat()} for kind, at in sorted(times.items()))


def _early_meal(path: str, sent: t.Any, answer: t.Any) -> t.Any:
    """(a) 22 Dec's nights last 12 h with the meal punched 3 h in: in, meal out +3 h, back +3.5 h, out +12 h (8.5 h
    after the return)."""
    if path.endswith("/timecard/multi_read"):
        for kept, key, at in list(_nights(answer, "20251222")):
            meal = {"PMO": at + timedelta(hours=3), "PMI": at + timedelta(hours=3.5)}
            _reshape(kept, key, {"PI": at, **meal, "PO": at + timedelta(hours=12)})
    return answer


def _double(path: str, sent: t.Any, answer: t.Any) -> t.Any:
    """(c) each 22 Dec night worker also worked 07:00-15:00 that day, no meal punches: the night's in punch comes
    under ``shift_break_hours`` after the day shift's out, its out punch 8 h or more after that in punch."""
    if path.endswith("/timecard/multi_read"):
        for kept, key, at in list(_nights(answer, "20251222")):
            day = at.replace(hour=7, minute=0)
            out = max(at + timedelta(hours=8), at.replace(hour=6) + timedelta(days=1))
            _reshape(kept, key, {"PXI": day, "PXO": day + timedelta(hours=8), "PI": at, "PO": out})
    return answer


def _fall_back(path: str, sent: t.Any, answer: t.Any) -> t.Any:
    """(d) Saturday 1 Nov 2025's night (America/New_York falls back at 02:00 on 2 Nov; the emulator's staff work
    weekdays, so every fourth person is given the shift when the window holds that day): in 20:00, meal 23:00-23:30,
    out 07:00, naive times as UKG's; 7.5 h after the return on the wall clock, 8.5 h in real time."""
    if path.endswith("/timecard/multi_read"):
        asked = re.findall(r"\d{4}-\d{2}-\d{2}", json.dumps(sent))
        if asked and min(asked) <= "2025-11-01" <= max(asked):
            times = {"PI": "2025-11-01T20:00:00", "PMO": "2025-11-01T23:00:00", "PMI": "2025-11-01T23:30:00"}
            times["PO"] = "2025-11-02T07:00:00"
            for card in answer[::4]:
                key = f"{card['employee']['qualifier']}-20251101"
                card["punches"] = [*(card.get("punches") or []), *(
                    {"id": f"{kind}-{key}", "employee": card["employee"], "punchDtm": at, "enteredOnDtm": at,
                     "updatedOnDtm": at, "editedByManager": False} for kind, at in times.items())]  # fmt: skip
    return answer


def _hours(later: str, earlier: str) -> float:
    """Wall-clock hours between two ``punchDateTime`` values as sent (UTC, or with an offset)."""
    return (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds() / 3600


@pytest.mark.parametrize(
    ("rewrite", "first", "settings"),
    [
        (_early_meal, "2025-12-22", {}),
        (_double, "2025-12-22", {}),
        (_double, "2025-12-22", {"longest_shift_hours": 20}),
        (_fall_back, "2025-11-01", {}),
    ],
    ids=["early-meal", "same-day-double", "same-day-double-longest-20", "fall-back-night"],
)
def test_an_untyped_out_punch_long_after_the_punch_before_it_is_not_marked_deleted_by_the_next_run(
    url: str,
    emulator: UkgWfmEmulator,
    tmp_path: Path,
    rewrite: t.Callable[[str, t.Any, t.Any], t.Any],
    first: str,
    settings: dict[str, int],
) -> None:
    """review29g H1: run 1 (window from the nights' day) puts every punch of those nights on their day, and run 2
    (window from the next day, answered without them) marks none of run 1's punches deleted."""
    truths = tmp_path / "truths.duckdb"
    day = datetime.fromisoformat(first)
    after, end = (f"{day + timedelta(days=n):%Y-%m-%d}" for n in (1, 2))
    tag = first.replace("-", "")
    with rewriting_proxy(url, rewrite) as proxy:
        singer = _sync_cli(proxy.url, tmp_path, {"punches"}, start_date=first, end_date=after, **settings).stdout
        sent = _days(singer)
        nights = {p: d for p, (d, _) in sent.items() if p.endswith(tag) and p.startswith("PO-")}
        before = {p: max(at for q, (_, at) in sent.items() if q.endswith(p[3:]) and q != p) for p in nights}
        long_out = {p for p in nights if _hours(sent[p][1], before[p]) >= 7.5}
        assert long_out, "no reshaped night whose out punch comes long after the punch before it"
        assert {p: sent[p][0] for p in sent if p.endswith(tag)} == {p: _day(p) for p in sent if p.endswith(tag)}
        _land(singer, truths, tmp_path)
        second = _sync_cli(proxy.url, tmp_path, {"punches"}, start_date=after, end_date=end, **settings).stdout
    _land(second, truths, tmp_path)
    again = _days(second)
    assert not any(p.endswith(tag) for p in again)  # run 2 is answered without the nights' shifts
    assert _marks(truths, "punches") == (len(sent.keys() | again.keys()), 0)
