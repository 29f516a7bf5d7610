"""audit wfm27 W2: a punch, daily total or shift answered without its day (``applyDate``; a shift's
``startDateTime``) fails the read, naming the field. Its day names its set (``replace_by``: person, day): landed
under a null day it belonged to no day the read announced whole, so the target took that day as emptied and marked
its landed rows deleted, exit 0 (and a null day is no bookmark). Tap CLI into target CLI, over HTTP (the answer
rewritten by a server in front of the emulator)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import duckdb
import pytest

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy, wfm_config
from .test_vendor_shapes import _land, _sync_cli

#: Per stream: the endpoint, the list of an answer's rows, and the field that names a row's day.
ROWS: dict[str, tuple[str, t.Callable[[t.Any], list[dict[str, t.Any]]], str]] = {
    "punches": ("/timecard/multi_read", lambda a: [p for card in a for p in card.get("punches") or []], "applyDate"),
    "timecards": (
        "/timecard/multi_read",
        lambda a: [x for card in a for x in card.get("dailyTotals") or []],
        "applyDate",
    ),
    "schedules": ("/schedule/multi_read", lambda a: a.get("shifts") or [], "startDateTime"),
}

SELECT = {"punches": "PUNCHES", "timecards": "TOTALS", "schedules": "SHIFTS"}


def _dayless(stream: str) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """Answers whose first row of ``stream`` comes without the field naming its day."""
    path, rows, field = ROWS[stream]

    def rewrite(at: str, sent: t.Any, answer: t.Any) -> t.Any:
        if at.endswith(path) and sent["select"] == [SELECT[stream]]:
            found = rows(answer)
            if found:
                found[0].pop(field, None)  # punches: none to remove (neither UKG's nor the emulator's have one)
                if stream == "punches":  # its punch time tells a punch's day too (wfm28): no day can be told
                    del found[0]["punchDtm"]
        return answer

    return rewrite


def _marks(truths: Path, stream: str) -> tuple[int, int]:
    """(live, marked deleted) rows of the stream's table."""
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", stream)
        found = conn.execute(
            f"SELECT count(*) FILTER (WHERE _sdc_deleted_at IS NULL), count(*) FILTER (WHERE _sdc_deleted_at IS NOT "
            f'NULL) FROM "{table}"'
        ).fetchone()
        assert found is not None
        return found[0], found[1]


@pytest.mark.parametrize("stream", sorted(ROWS))
def test_a_row_without_its_day_fails_the_read_and_keeps_the_landed_days(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path, stream: str
) -> None:
    """Run 1 lands the stream; in run 2 one row of each answer comes without its day: the run fails naming the
    field, and what it sent lands without marking any landed row deleted."""
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, {stream}, window_days=7).stdout, truths, tmp_path)
    landed = _marks(truths, stream)
    assert landed[0] > 0
    assert landed[1] == 0
    with rewriting_proxy(url, _dayless(stream)) as proxy:
        config = write_json(tmp_path / "config.json", wfm_config(proxy.url, window_days=7))
        failed = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", str(tmp_path / "catalog.json")], tmp_path)
    _land(failed.stdout, truths, tmp_path)  # the target drains what came, as `meltano run` has it do
    assert _marks(truths, stream) == landed
    assert failed.returncode != 0
    assert f"came without its '{ROWS[stream][2]}'" in failed.stderr
