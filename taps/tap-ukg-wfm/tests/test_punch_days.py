"""wfm28 (audit wfm27 W2's risk): UKG's timecard punch model carries no ``applyDate`` (public clients' models of
the timecard multi_read's punches: ``id``, ``employee``, ``punchDtm``, ``roundedPunchDtm``, ``timeZone``,
``typeOverride``, ...; only a punch's exceptions have one), and since wfm27 a punch without it failed the read, so
``punches`` could not run on such a tenant. The tap now takes such a punch's day from its shift, as UKG applies
it: an out punch closing an in punch takes the in punch's day (an overnight shift's out punch stays on the day its
shift began), any other punch the day of its own tenant-local time. Tap CLI into target CLI, over HTTP (the
punches' ``applyDate``, and with ``untyped`` their ``typeOverride`` too, removed by a server in front of the
emulator)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_dayless_rows import _marks
from .test_vendor_shapes import _land, _sync_cli


def _bare_punches(untyped: bool) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """Timecard answers whose punches carry no ``applyDate`` (and with ``untyped`` no ``typeOverride``)."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/timecard/multi_read"):
            for card in answer:
                for punch in card.get("punches") or []:
                    del punch["applyDate"]
                    if untyped:
                        del punch["typeOverride"]
        return answer

    return rewrite


def _days(singer: str) -> dict[str, tuple[str, str]]:
    """punchId -> (applyDate, punchDateTime) of the punches a sync sent."""
    return {
        m["record"]["punchId"]: (m["record"]["applyDate"], m["record"]["punchDateTime"])
        for m in parse_singer_messages(singer)
        if m["type"] == "RECORD" and m["stream"] == "punches"
    }


@pytest.mark.parametrize("untyped", [False, True], ids=["typed", "untyped"])
def test_a_punch_without_apply_date_lands_on_its_shift_s_day(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path, untyped: bool
) -> None:
    """Run 1 lands punches with UKG's ``applyDate``; run 2's punches come without it: the run succeeds, every punch
    lands on the day UKG gave it in run 1 (overnight shifts' out punches included), and landing run 2 marks no
    landed punch deleted."""
    truths = tmp_path / "truths.duckdb"
    first = _sync_cli(url, tmp_path, {"punches"}, window_days=7).stdout
    _land(first, truths, tmp_path)
    landed = _marks(truths, "punches")
    assert landed[0] > 0
    assert landed[1] == 0
    told = _days(first)
    # some shifts run past midnight (22:00 starts): their out punch's own clock day is the next one (in UTC too)
    assert any(stamp[:10] > day for day, stamp in told.values())
    with rewriting_proxy(url, _bare_punches(untyped)) as proxy:
        second = _sync_cli(proxy.url, tmp_path, {"punches"}, window_days=7).stdout
    assert {punch: day for punch, (day, _) in _days(second).items()} == {punch: day for punch, (day, _) in told.items()}
    _land(second, truths, tmp_path)
    assert _marks(truths, "punches") == landed
