"""audit wfm27 W1: a person the timecard multi_read leaves out of its answer was not read, so their days are not
announced as read whole. The answer holds one timecard per person asked for, but UKG leaves out a person the
caller may not read (an access profile or licence that no longer covers them) rather than answer them empty;
announced with the call's other people, every landed punch and total of theirs in the window was marked deleted
downstream, exit 0. Tap CLI into target CLI, over HTTP (the omission by a server in front of the emulator)."""

from __future__ import annotations

import typing as t
from pathlib import Path

import duckdb
import pytest

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import parse_singer_messages
from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_vendor_shapes import _land, _sync_cli

STREAMS = {"punches", "timecards"}


def _leaving_out(person: str) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """Timecard multi_read answers without ``person``'s timecard (PUNCHES and TOTALS alike)."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/timecard/multi_read"):
            return [card for card in answer if card["employee"]["qualifier"] != person]
        return answer

    return rewrite


def _rows(truths: Path, stream: str, person: str) -> tuple[int, int]:
    """(live, marked deleted) rows of ``person`` in the stream's table."""
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", stream)
        found = conn.execute(
            f"SELECT count(*) FILTER (WHERE _sdc_deleted_at IS NULL), count(*) FILTER (WHERE _sdc_deleted_at IS NOT "
            f'NULL) FROM "{table}" WHERE person_number = ?',
            [person],
        ).fetchone()
        assert found is not None
        return found[0], found[1]


def _live(truths: Path, stream: str) -> int:
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", stream)
        found = conn.execute(f'SELECT count(*) FROM "{table}" WHERE _sdc_deleted_at IS NULL').fetchone()
        assert found is not None
        return int(found[0])


def _announced_people(singer: str, stream: str) -> set[str]:
    people: set[str] = set()
    for message in parse_singer_messages(singer):
        if (
            message["type"] == "RECORD"
            and message["stream"] == SETS_READ_STREAM
            and message["record"]["stream"] == stream
        ):
            people.update(message["record"]["sets"]["personNumber"])
    return people


@pytest.mark.parametrize("stream", sorted(STREAMS))
def test_a_person_the_answer_leaves_out_keeps_their_landed_rows(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path, stream: str
) -> None:
    """Run 1 lands a person's punches or totals; in run 2 the timecard answers leave that person out: their rows
    stay live (the run announces everyone else, and everyone else's rows are as they were), and a WARNING says
    how many people went unanswered."""
    truths = tmp_path / "truths.duckdb"
    first = _sync_cli(url, tmp_path, {stream}, window_days=7).stdout
    _land(first, truths, tmp_path)
    person = next(
        m["record"]["personNumber"]
        for m in parse_singer_messages(first)
        if m["type"] == "RECORD" and m["stream"] == stream
    )
    assert person in _announced_people(first, stream)
    landed, live = _rows(truths, stream, person), _live(truths, stream)
    assert landed[0] > 0
    assert landed[1] == 0
    with rewriting_proxy(url, _leaving_out(person)) as proxy:
        second = _sync_cli(proxy.url, tmp_path, {stream}, window_days=7)
    _land(second.stdout, truths, tmp_path)
    assert _rows(truths, stream, person) == landed
    assert _live(truths, stream) == live
    announced = _announced_people(second.stdout, stream)
    assert announced
    assert person not in announced
    assert "answered no timecard for 1 of" in second.stderr
