"""A shift given to another person (Schedule Planner: a swap, a give-away, an open shift picked up) keeps its id,
and the old person's day then answers no shift: it upserts in place, one live row, not one per person (review25b
F4: with the key extended by person and day the shift stood live twice, its hours counted twice)."""

from __future__ import annotations

import copy
import typing as t
from pathlib import Path

import duckdb

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_replace_days import _live
from .test_vendor_shapes import _land, _sync_cli


def _reassign(moved: dict[str, t.Any]) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/schedule/multi_read") and "id" not in moved:
            shifts = answer.get("shifts") or []
            first = shifts[0] if shifts else None
            other = next((s for s in shifts if first and s.get("employee") != first.get("employee")), None)
            if first and other:
                moved.update(
                    id=str(first["id"]), old=copy.deepcopy(first["employee"]), new=copy.deepcopy(other["employee"])
                )
                first["employee"] = copy.deepcopy(other["employee"])
        return answer

    return rewrite


def test_a_shift_given_to_another_person_is_one_live_row(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    truths = tmp_path / "truths.duckdb"
    _land(_sync_cli(url, tmp_path, {"schedules"}).stdout, truths, tmp_path)
    live = _live(truths, "schedules")
    moved: dict[str, t.Any] = {}
    with rewriting_proxy(url, _reassign(moved)) as proxy:
        second = _sync_cli(proxy.url, tmp_path, {"schedules"}).stdout
    _land(second, truths, tmp_path)
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", "schedules")
        rows = conn.execute(
            f'SELECT person_number, date, _sdc_deleted_at IS NOT NULL FROM "{table}" WHERE shift_id = ? ORDER BY 1',
            [moved["id"]],
        ).fetchall()
    assert moved, "the proxy found two people's shifts to swap"
    assert len(rows) == 1, rows
    assert rows[0][2] is False
    assert _live(truths, "schedules") == live
