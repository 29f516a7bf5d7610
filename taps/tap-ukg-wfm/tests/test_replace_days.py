"""audit25b F1: a punch or shift deleted in UKG is deleted downstream. The timecard and schedule answers carry no
tombstone; the deleted id is simply no longer answered for its day, so ``punches`` and ``schedules`` name
``replace_by`` (person and day), as ``timecards`` does. Tap CLI into target CLI."""

from __future__ import annotations

import typing as t
from pathlib import Path

import duckdb
import pytest

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import in_batches, rewriting_proxy, wfm_config
from .test_emptied_days import _shift_day
from .test_vendor_shapes import _land, _records, _sync_cli

STREAMS = {"punches", "schedules"}
#: Per stream: its key column in the store and the column of its day.
COLUMNS = {"punches": ("punch_id", "apply_date"), "schedules": ("shift_id", "date")}


def _without_first(gone: dict[str, str]) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """Answers in which the first punch of the first card with punches was deleted in UKG, and the first shift
    deleted and created again under a new id (``gone`` gets the ids no longer answered); the person's other rows
    of that day are still answered."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/timecard/multi_read") and sent["select"] == ["PUNCHES"] and "punches" not in gone:
            for card in answer:
                if card.get("punches"):
                    gone["punches"] = str(card["punches"].pop(0)["id"])
                    break
        if path.endswith("/schedule/multi_read") and "schedules" not in gone:
            shifts = answer.get("shifts") or []
            if shifts:  # deleted and created again (Schedule Planner does): the same shift under a new id
                gone["schedules"] = str(shifts[0]["id"])
                shifts[0]["id"] = f"{shifts[0]['id']}-again"
        return answer

    return rewrite


def _state_of(truths: Path, stream: str, key: str) -> list[tuple[bool]]:
    """Whether each stored row of ``key`` is marked deleted."""
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", stream)
        column = COLUMNS[stream][0]
        return conn.execute(f'SELECT _sdc_deleted_at IS NOT NULL FROM "{table}" WHERE "{column}" = ?', [key]).fetchall()


def _live(truths: Path, stream: str) -> int:
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", stream)
        return conn.execute(f'SELECT count(*) FROM "{table}" WHERE _sdc_deleted_at IS NULL').fetchone()[0]


@pytest.mark.parametrize("batch", [False, True], ids=["RECORD", "BATCH"])
def test_a_deleted_punch_or_shift_is_deleted_downstream(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path, batch: bool
) -> None:
    """Run 1 lands punches and shifts; in run 2 UKG no longer answers one punch and one shift id of a day whose
    other rows it still answers: both are marked deleted, every other row stays as it was (the shift's new id
    lands beside)."""
    settings: dict[str, t.Any] = {}
    target: dict[str, t.Any] = {"batch_size_rows": 7}
    if batch:
        in_batches(tmp_path, settings, target)
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, STREAMS, **settings).stdout, truths, tmp_path, **target)
    live = {stream: _live(truths, stream) for stream in STREAMS}
    assert all(n > 50 for n in live.values()), live
    gone: dict[str, str] = {}
    with rewriting_proxy(url, _without_first(gone)) as proxy:
        second = _sync_cli(proxy.url, tmp_path, STREAMS, **settings).stdout
    if not batch:
        sent = {str(r.get("punchId")) for r in _records(second)} | {str(r.get("shiftId")) for r in _records(second)}
        assert not set(gone.values()) & sent
    _land(second, truths, tmp_path, **target)
    for stream in STREAMS:
        assert _state_of(truths, stream, gone[stream]) == [(True,)], stream  # marked deleted, not live
    assert _live(truths, "punches") == live["punches"] - 1  # every other row as it was
    assert _live(truths, "schedules") == live["schedules"]  # the shift lives on under its new id only


def _unreadable_second_punch(seen: dict[str, t.Any]) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """Answers in which the second punch of the first card with two has a time the tap cannot read; ``seen``
    gets the person, day and the id of the readable punch before it (same day)."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/timecard/multi_read") and sent["select"] == ["PUNCHES"] and "day" not in seen:
            for card in answer:
                punches = card.get("punches") or []
                if len(punches) >= 2 and _shift_day(punches[0]) == _shift_day(punches[1]):
                    punches[1]["punchDtm"] = "not a time"
                    seen.update(day=_shift_day(punches[0]), first=str(punches[0]["id"]))
                    break
        return answer

    return rewrite


def test_a_punch_that_fails_to_read_sends_none_of_its_day(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """review24e #1 for punches: a run failing on a day's second punch sends none of that day, else the target
    (``replace_by``) would take the first punch for the whole day and mark the second one deleted (exit 0)."""
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, {"punches"}).stdout, truths, tmp_path)
    live = _live(truths, "punches")
    seen: dict[str, t.Any] = {}
    with rewriting_proxy(url, _unreadable_second_punch(seen)) as proxy:
        config = write_json(tmp_path / "config.json", wfm_config(proxy.url))
        failed = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", str(tmp_path / "catalog.json")], tmp_path)
    assert failed.returncode != 0
    assert seen["first"] not in {r.get("punchId") for r in _records(failed.stdout)}
    assert '"STATE"' not in failed.stdout
    _land(failed.stdout, truths, tmp_path)  # the target drains what came, as `meltano run` has it do
    assert _live(truths, "punches") == live


def test_a_filtered_read_deletes_nothing(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """With the ``filters`` setting a day is read in part (here its In punches only): the SCHEMA then names no
    ``replace_by``, so the target keeps the day's Out punches rather than take the filtered rows for the day."""
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, {"punches"}).stdout, truths, tmp_path)
    live = _live(truths, "punches")
    filtered = _sync_cli(url, tmp_path, {"punches"}, filters="punch_type = 'In'").stdout
    kinds = {r["punchType"] for r in _records(filtered)}
    assert kinds == {"In"}
    _land(filtered, truths, tmp_path)
    assert _live(truths, "punches") == live
