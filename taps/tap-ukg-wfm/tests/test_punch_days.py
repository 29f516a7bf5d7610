"""wfm28 (audit wfm27 W2's risk) and review28g H1/M1/M2/M5: UKG's timecard punch model carries no ``applyDate``
(public clients' models of the timecard multi_read's punches: ``id``, ``employee``, ``punchDtm``,
``roundedPunchDtm``, ``timeZone``, ``typeOverride``, ...; only a punch's exceptions have one), and neither do the
emulator's. The tap takes a punch's day from its shift, as UKG groups punches into shifts: a run of punches with
gaps under ``shift_break_hours`` (or a typed out punch closing an in punch within ``longest_shift_hours``), applied
to its first punch's day. Tap CLI into target CLI, over HTTP (a server in front of the emulator removes
``typeOverride``, a day's out punches, or makes 24-hour shifts)."""

from __future__ import annotations

import typing as t
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_dayless_rows import _marks
from .test_vendor_shapes import _land, _sync_cli


def _days(singer: str) -> dict[str, tuple[str, str]]:
    """punchId -> (applyDate, punchDateTime) of the punches a sync sent."""
    return {
        m["record"]["punchId"]: (m["record"]["applyDate"], m["record"]["punchDateTime"])
        for m in parse_singer_messages(singer)
        if m["type"] == "RECORD" and m["stream"] == "punches"
    }


def _untyped_missing_out(
    untyped: bool | None, missed: str | None, long_day: str | None = None
) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """Timecard answers without ``typeOverride`` (``untyped``; ``False``: every punch typed by its id's kind, None:
    as the emulator serves, about one person in four typed), without the out punches of day ``missed`` (UKG's
    "Missed Out Punch": nobody has fixed it yet), and with ``long_day``'s day shifts (in before noon) made 24-hour
    shifts with a 10-minute handover (out 24 h 10 min after in, meal punches dropped)."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/timecard/multi_read"):
            for card in answer:
                kept = [
                    p
                    for p in card.get("punches") or []
                    if not (missed and p["id"].startswith("PO-") and p["id"].endswith(missed))
                ]
                ins = {p["id"][3:]: p["punchDtm"] for p in kept if p["id"].startswith("PI-")}
                if long_day and any(key.endswith(long_day) and ins[key][11:13] < "12" for key in ins):
                    after = f"{date.fromisoformat(long_day) + timedelta(days=1):%Y%m%d}"
                    kept = [p for p in kept if not p["id"].endswith(after)]  # the day after a 24-hour shift is off
                for punch in kept:
                    key = punch["id"].split("-", 1)[1]
                    if long_day and key.endswith(long_day) and punch["id"].startswith("PO-") and ins[key][11:13] < "12":
                        punch["punchDtm"] = (
                            datetime.fromisoformat(ins[key]) + timedelta(hours=24, minutes=10)
                        ).isoformat()
                    if untyped:
                        punch.pop("typeOverride", None)
                    elif untyped is False:
                        punch["typeOverride"] = {
                            "qualifier": "Out" if punch["id"].startswith(("PO-", "PMO-")) else "In"
                        }
                card["punches"] = kept
        return answer

    return rewrite


@pytest.mark.parametrize(
    ("untyped", "missed", "settings"),
    [
        (False, None, {}),
        (None, None, {}),
        (True, None, {}),
        (True, "20251222", {"longest_shift_hours": 20}),
        (False, "20251222", {}),
        (False, "24h", {}),
        (True, None, {"shift_break_hours": 16, "longest_shift_hours": 20}),
    ],
    ids=[
        "typed",
        "as-served",
        "untyped",
        "untyped-missed-out",
        "typed-missed-out",
        "typed-24h-shifts",
        "untyped-chain-capped",
    ],
)
def test_night_shifts_with_a_meal_break_land_on_their_start_day_in_overlapping_runs(
    url: str,
    emulator: UkgWfmEmulator,
    tmp_path: Path,
    untyped: bool | None,
    missed: str | None,
    settings: dict[str, int],
) -> None:
    """audit wfm28 H1/M1: the emulator's punches carry no ``applyDate`` (as UKG's); a 22:00 shift has a meal break
    (four punches over two clock days, three when the meal-in punch was missed). Every punch lands on its shift's
    day (the date in the emulator's punch id), and a second run whose window starts the next day marks no landed
    punch deleted (the first punch-pairing put the meal-in and out punches on the next day: run 2 announced that day
    whole without them). With ``missed``, the out punches of 22 Dec are missing (a missed out punch before the night
    shifts); with ``24h``, 22 Dec's day shifts last 24 h 10 min, the next day off (M2: the out punch stays on
    22 Dec). Untyped, an in punch a day after a missed out punch is paired as its out within
    ``longest_shift_hours`` (the documented risk, review28i H1): the tenant without 24-hour shifts sets it under a
    day (20 here), and the next in punch starts its own shift. ``chain-capped`` (review28i M1): with a break
    setting above the rest between two shifts (16 h), short gaps chained every shift of a call onto its first day;
    nothing joins a shift past ``longest_shift_hours`` (20) from its first punch, so each day keeps its own."""
    truths = tmp_path / "truths.duckdb"
    rewrite = (
        _untyped_missing_out(untyped, None, "20251222") if missed == "24h" else _untyped_missing_out(untyped, missed)
    )
    with rewriting_proxy(url, rewrite) as proxy:
        first = _sync_cli(proxy.url, tmp_path, {"punches"}, start_date="2025-12-22", end_date="2025-12-23", **settings)
        sent = _days(first.stdout)
        shifts: dict[str, int] = {}
        for punch in sent:
            shifts[punch.split("-", 1)[1]] = shifts.get(punch.split("-", 1)[1], 0) + 1
        assert 4 in shifts.values()  # night shifts with a meal break
        assert any(p.startswith("PMO-") and "PMI-" + p[4:] not in sent for p in sent)  # a missed meal-in punch
        assert {punch: day for punch, (day, _) in sent.items()} == {
            punch: f"{punch[-8:-4]}-{punch[-4:-2]}-{punch[-2:]}" for punch in sent
        }
        _land(first.stdout, truths, tmp_path)
        landed = _marks(truths, "punches")
        assert landed[0] == len(sent)
        second = _sync_cli(
            proxy.url, tmp_path, {"punches"}, start_date="2025-12-23", end_date="2025-12-24", **settings
        ).stdout
    again = _days(second)
    assert {punch: day for punch, (day, _) in again.items()} == {
        punch: f"{punch[-8:-4]}-{punch[-4:-2]}-{punch[-2:]}" for punch in again
    }
    _land(second, truths, tmp_path)
    assert _marks(truths, "punches") == (len(sent.keys() | again.keys()), 0)


def _untyped_long_nights(path: str, sent: t.Any, answer: t.Any) -> t.Any:
    """Timecard answers as a tenant of 12-hour nights with the meal auto-deducted serves them: no ``typeOverride``,
    no meal punches, each night shift's (in at 18:00 or later) out punch 12 h after its in punch."""
    if path.endswith("/timecard/multi_read"):
        for card in answer:
            kept = [p for p in card.get("punches") or [] if not p["id"].startswith(("PMO-", "PMI-"))]
            ins = {p["id"][3:]: p["punchDtm"] for p in kept if p["id"].startswith("PI-")}
            for punch in kept:
                punch.pop("typeOverride", None)
                key = punch["id"].split("-", 1)[1]
                if punch["id"].startswith("PO-") and key in ins and ins[key][11:13] >= "18":
                    punch["punchDtm"] = (datetime.fromisoformat(ins[key]) + timedelta(hours=12)).isoformat()
            card["punches"] = kept
    return answer


def test_untyped_twelve_hour_nights_keep_their_out_punch_in_the_next_run(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """review28i H1: an untyped night shift of two punches 12 h apart (meal auto-deducted) is one shift: its out
    punch lands on the night's start day, so a second run whose window starts the next day (and is answered
    without that night) marks none of the first run's punches deleted. The gap rule put the out punch on the next
    day, announced whole by run 2 without it: marked deleted, exit 0."""
    truths = tmp_path / "truths.duckdb"
    with rewriting_proxy(url, _untyped_long_nights) as proxy:
        singer = _sync_cli(proxy.url, tmp_path, {"punches"}, start_date="2025-12-22", end_date="2025-12-23").stdout
        first = _days(singer)
        stamps = {p: datetime.fromisoformat(at) for p, (_, at) in first.items()}
        nights = {
            p
            for p in first
            if p.startswith("PO-") and stamps[p] - stamps.get("PI-" + p[3:], stamps[p]) >= timedelta(hours=12)
        }
        nights = {p for p in nights if p.endswith("20251222")}
        assert nights, "no 12-hour night shift of 22 Dec"
        assert {punch: day for punch, (day, _) in first.items()} == {
            punch: f"{punch[-8:-4]}-{punch[-4:-2]}-{punch[-2:]}" for punch in first
        }
        _land(singer, truths, tmp_path)
        second = _sync_cli(proxy.url, tmp_path, {"punches"}, start_date="2025-12-23", end_date="2025-12-24").stdout
    _land(second, truths, tmp_path)
    again = _days(second)
    assert not nights & again.keys()  # run 2 is answered without 22 Dec's nights
    assert _marks(truths, "punches") == (len(first.keys() | again.keys()), 0)
