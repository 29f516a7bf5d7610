"""A person-day whose last punch (or shift) was deleted in UKG is deleted downstream (empty26). Such a day answers
no row, so no record names it and ``replace_by`` alone kept its old rows live; the tap now announces the people
and days each call read whole (``_xlr8_sets_read``), and the target marks deleted the rows of those days the run
sent none of. Never for a read that failed or was filtered. Tap CLI into target CLI, over HTTP."""

from __future__ import annotations

import typing as t
from pathlib import Path

import duckdb
import pytest

from xlr8_kit.read_start import aware_instant
from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, write_json
from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import START, in_batches, rewriting_proxy, wfm_config
from .test_vendor_shapes import _land, _sync_cli

STREAMS = {"punches", "schedules"}
#: Per stream: its key column in the store, its person and day columns.
COLUMNS = {"punches": ("punch_id", "person_number", "apply_date"), "schedules": ("shift_id", "person_number", "date")}


def _shift_day(punch: dict[str, t.Any]) -> str:
    """The day of the shift an emulator punch belongs to, from its id (``P..-<person>-<yyyymmdd>``): like UKG's,
    the emulator's punches carry no ``applyDate`` (review28g M5)."""
    stamp = str(punch["id"])[-8:]
    return f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:]}"


def _emptied(gone: dict[str, t.Any], fail_later: bool = False) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """Answers in which every punch of one person-day, and every shift of one person-day, was deleted in UKG (both
    in the first window, from ``START``); ``gone`` gets the person, day and ids per stream. With ``fail_later``,
    each punch answer of a later window carries a punch time the tap cannot read (the read fails there)."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/timecard/multi_read") and sent["select"] == ["PUNCHES"]:
            if sent["where"]["dateRange"]["startDate"] != START:
                if fail_later:
                    for card in answer:
                        if card.get("punches"):
                            card["punches"][0]["punchDtm"] = "not a time"
                return answer
            for card in answer:
                punches = card.get("punches") or []
                if "punches" not in gone and punches:
                    person, day = card["employee"]["qualifier"], _shift_day(punches[0])
                    gone["punches"] = (person, day, [str(p["id"]) for p in punches if _shift_day(p) == day])
                person, day, _ = gone.get("punches", (None, None, None))
                if card.get("employee", {}).get("qualifier") == person:
                    card["punches"] = [p for p in punches if _shift_day(p) != day]
        if path.endswith("/schedule/multi_read") and sent["where"]["employees"]["startDate"] == START:
            shifts = answer.get("shifts") or []
            if "schedules" not in gone and shifts:
                person, day = shifts[0]["employee"]["qualifier"], shifts[0]["startDateTime"][:10]
                ids = [
                    str(s["id"])
                    for s in shifts
                    if (s["employee"]["qualifier"], s["startDateTime"][:10]) == (person, day)
                ]
                gone["schedules"] = (person, day, ids)
            person, day, _ = gone.get("schedules", (None, None, None))
            answer["shifts"] = [
                s for s in shifts if (s["employee"]["qualifier"], s["startDateTime"][:10]) != (person, day)
            ]
        return answer

    return rewrite


def _day_rows(truths: Path, stream: str, person: str, day: str) -> list[tuple[str, bool]]:
    """(id, marked deleted) of each stored row of the person's day."""
    key, who, when = COLUMNS[stream]
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", stream)
        return conn.execute(
            f'SELECT "{key}", _sdc_deleted_at IS NOT NULL FROM "{table}" WHERE "{who}" = ? AND CAST("{when}" AS '
            "VARCHAR) = ? ORDER BY 1",
            [person, day],
        ).fetchall()


def _live(truths: Path, stream: str) -> int:
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", stream)
        return conn.execute(f'SELECT count(*) FROM "{table}" WHERE _sdc_deleted_at IS NULL').fetchone()[0]


def _announced(singer: str) -> list[dict[str, t.Any]]:
    return [
        m["record"] for m in parse_singer_messages(singer) if m["type"] == "RECORD" and m["stream"] == SETS_READ_STREAM
    ]


@pytest.mark.parametrize("batch", [False, True], ids=["RECORD", "BATCH"])
def test_a_day_whose_last_punch_or_shift_was_deleted_is_deleted_downstream(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path, batch: bool
) -> None:
    """Run 1 lands punches and shifts; in run 2 UKG answers no punch of one person-day and no shift of another:
    their old rows are marked deleted, every other row stays live."""
    settings: dict[str, t.Any] = {"window_days": 7}
    target: dict[str, t.Any] = {"batch_size_rows": 7}
    if batch:
        in_batches(tmp_path, settings, target)
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, STREAMS, **settings).stdout, truths, tmp_path, **target)
    live = {stream: _live(truths, stream) for stream in STREAMS}
    gone: dict[str, t.Any] = {}
    with rewriting_proxy(url, _emptied(gone)) as proxy:
        second = _sync_cli(proxy.url, tmp_path, STREAMS, **settings).stdout
    assert _announced(second)
    landed = _land(second, truths, tmp_path, **target)
    for stream in STREAMS:
        person, day, ids = gone[stream]
        assert ids
        assert _day_rows(truths, stream, person, day) == [(i, True) for i in sorted(ids)], (
            stream,
            [line for line in landed.stderr.splitlines() if "sets now empty" in line or "WARNING" in line],
        )
        assert _live(truths, stream) == live[stream] - len(ids), stream  # every other row as it was
    assert "sets now empty" in landed.stderr


def test_a_read_that_fails_or_is_filtered_keeps_an_emptied_day(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """A run failing in a later window announces nothing (the emptied day's punches stay live, though its window
    was read), and so does a filtered read (``filters``: part of each day)."""
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, {"punches"}, window_days=7).stdout, truths, tmp_path)
    live = _live(truths, "punches")
    gone: dict[str, t.Any] = {}
    with rewriting_proxy(url, _emptied(gone, fail_later=True)) as proxy:
        config = write_json(tmp_path / "config.json", wfm_config(proxy.url, window_days=7))
        failed = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", str(tmp_path / "catalog.json")], tmp_path)
    assert failed.returncode != 0
    assert gone["punches"][2]
    assert not _announced(failed.stdout)
    _land(failed.stdout, truths, tmp_path)  # the target drains what came, as `meltano run` has it do
    assert _live(truths, "punches") == live
    gone.clear()
    with rewriting_proxy(url, _emptied(gone)) as proxy:
        filtered = _sync_cli(proxy.url, tmp_path, {"punches"}, window_days=7, filters="punch_type = 'In'").stdout
    assert not _announced(filtered)
    _land(filtered, truths, tmp_path)
    person, day, ids = gone["punches"]
    assert _day_rows(truths, "punches", person, day) == [(i, False) for i in sorted(ids)]


def test_an_earlier_read_s_announcement_keeps_the_rows_an_overlapping_later_read_landed_first(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """review26c M5 through both CLIs: read X runs while one person-day's punches are gone (UKG answers none) and
    is landed last, as a slow daily run overlapping an hourly one; read Y starts after X began, reads the day with
    its punches and is landed first. X's announcement names the day read whole, but its rows were extracted by Y
    after X's read began (``read_start``): they stay live (were: marked deleted until the day was read again)."""
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, {"punches"}, window_days=7).stdout, truths, tmp_path)
    gone: dict[str, t.Any] = {}
    with rewriting_proxy(url, _emptied(gone)) as proxy:
        read_x = _sync_cli(proxy.url, tmp_path, {"punches"}, window_days=7).stdout
    person, day, ids = gone["punches"]
    assert ids
    (started,) = {record["read_start"] for record in _announced(read_x)}
    read_y = _sync_cli(url, tmp_path, {"punches"}, window_days=7).stdout
    extracted = [
        m["time_extracted"]
        for m in parse_singer_messages(read_y)
        if m.get("stream") == "punches" and m["type"] == "RECORD"
    ]
    assert extracted
    assert min(map(aware_instant, extracted)) > aware_instant(started)  # type: ignore[operator]
    _land(read_y, truths, tmp_path)
    _land(read_x, truths, tmp_path)
    assert _day_rows(truths, "punches", person, day) == [(i, False) for i in sorted(ids)]


def test_a_stream_the_tap_s_stream_map_renames_has_its_emptied_day_deleted_under_its_new_name(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """A tap-side ``stream_maps`` ``__alias__`` sends punches as ``wfm_punches``: the announcement names that stream
    too (as ACTIVATE_VERSION is sent per alias), so the emptied day's punches are marked deleted there (was: the
    tap's name, no SCHEMA of it downstream, ignored with a WARNING and the rows kept)."""
    maps = {"punches": {"__alias__": "wfm_punches"}}
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, {"punches"}, window_days=7, stream_maps=maps).stdout, truths, tmp_path)
    gone: dict[str, t.Any] = {}
    with rewriting_proxy(url, _emptied(gone)) as proxy:
        second = _sync_cli(proxy.url, tmp_path, {"punches"}, window_days=7, stream_maps=maps).stdout
    assert {record["stream"] for record in _announced(second)} == {"wfm_punches"}
    landed = _land(second, truths, tmp_path)
    assert "WARNING" not in landed.stderr
    person, day, ids = gone["punches"]
    assert ids
    # (the table keeps the annotation's stream name: the rows land where unrenamed runs put them)
    assert _day_rows(truths, "punches", person, day) == [(i, True) for i in sorted(ids)]
