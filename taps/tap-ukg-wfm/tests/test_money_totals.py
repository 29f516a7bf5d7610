"""audit wfm27 W9: a daily total whose ``amountType`` is money (a bonus or allowance pay code: UKG pay codes are of
hours, days or money) landed its amount in the ``hours`` column, so a sum of a day's or person's hours counted
the bonus's currency units as hours. Its amount now lands in ``money`` (``hours`` null), with ``amountType``
beside. Tap CLI into target CLI, over HTTP (the bonus total added by a server in front of the emulator, whose
totals are all hours)."""

from __future__ import annotations

import json
import typing as t
from decimal import Decimal
from pathlib import Path

import duckdb

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.products.ukg_wfm import PAY_CODE_IDS, UkgWfmEmulator

from .conftest import rewriting_proxy, wfm_config
from .test_vendor_shapes import _land, _sync_cli

BONUS = 150.25


def _with_bonus(given: list[tuple[str, str]], kind: str = "MONEY") -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """TOTALS answers whose first card with totals also has a money total (pay code BON) on its first day; each
    (person, day) given is noted in ``given``."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/timecard/multi_read") and sent["select"] == ["TOTALS"]:
            card = next((c for c in answer if c.get("dailyTotals")), None)
            if card is not None:
                first = card["dailyTotals"][0]
                card["dailyTotals"].append(
                    {
                        **first,
                        "payCode": {"id": PAY_CODE_IDS["BON"], "qualifier": "BON"},
                        "amountType": kind,
                        "amount": BONUS,
                    }
                )
                given.append((card["employee"]["qualifier"], first["applyDate"]))
        return answer

    return rewrite


def test_a_money_total_lands_in_money_not_hours(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """Each bonus total lands with ``money`` 150.25 and ``hours`` null; the hours totals keep ``hours`` and no
    ``money``."""
    given: list[tuple[str, str]] = []
    with rewriting_proxy(url, _with_bonus(given)) as proxy:
        synced = _sync_cli(proxy.url, tmp_path, {"timecards"}, window_days=7)
    assert given
    records = [
        m["record"]
        for m in parse_singer_messages(synced.stdout)
        if m["type"] == "RECORD" and m["stream"] == "timecards"
    ]
    bonuses = [r for r in records if r["payCode"] == "BON"]
    assert sorted((r["personNumber"], r["applyDate"]) for r in bonuses) == sorted(given)
    assert all(r["hours"] is None and Decimal(str(r["money"])) == Decimal("150.25") for r in bonuses)
    others = [r for r in records if r["payCode"] != "BON"]
    assert others
    assert all(r["hours"] is not None and r["money"] is None for r in others)
    truths = tmp_path / "truths.duckdb"
    _land(synced.stdout, truths, tmp_path)
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", "timecards")
        landed = conn.execute(
            f'SELECT hours, money, amount_type FROM "{table}" WHERE pay_code = ? AND _sdc_deleted_at IS NULL', ["BON"]
        ).fetchall()
    assert len(landed) == len(given)
    assert {(hours, Decimal(str(money)), kind) for hours, money, kind in landed} == {(None, Decimal("150.25"), "MONEY")}


def test_a_days_total_lands_in_days_not_hours(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """review28i M3: a day-counted total (``amountType`` DAY: a vacation or sick *day*; UKG Data Hub: "hours,
    money, or days") failed every ``timecards`` run, with no way out. It now lands its amount in ``days`` (``hours``
    and ``money`` null); the hours totals keep ``days`` null."""
    given: list[tuple[str, str]] = []
    with rewriting_proxy(url, _with_bonus(given, "DAY")) as proxy:
        synced = _sync_cli(proxy.url, tmp_path, {"timecards"}, window_days=7)
    assert given
    records = [
        m["record"]
        for m in parse_singer_messages(synced.stdout)
        if m["type"] == "RECORD" and m["stream"] == "timecards"
    ]
    assert all(r["days"] is None for r in records if r["payCode"] != "BON")
    truths = tmp_path / "truths.duckdb"
    _land(synced.stdout, truths, tmp_path)
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", "timecards")
        landed = conn.execute(
            f'SELECT person_number, apply_date, hours, money, days, amount_type FROM "{table}" '
            "WHERE pay_code = ? AND _sdc_deleted_at IS NULL",
            ["BON"],
        ).fetchall()
    assert sorted((p, str(d)) for p, d, *_ in landed) == sorted(given)
    assert {(h, m, Decimal(str(d)), k) for _, _, h, m, d, k in landed} == {(None, None, Decimal("150.25"), "DAY")}


def test_a_total_of_an_unknown_type_fails_the_read_by_name(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """review28g M4, review28i M3: a total whose ``amountType`` is none of hours, money or days would land a
    number of unknown unit; the read fails naming ``amountType``, its value and the way out (deselect
    ``timecards``), exit non-zero, and no such total is sent."""
    given: list[tuple[str, str]] = []
    with rewriting_proxy(url, _with_bonus(given, "POINTS")) as proxy:
        config = write_json(tmp_path / "config.json", wfm_config(proxy.url))
        discovered = run_tap_cli("tap-ukg-wfm", ["--config", config, "--discover"], tmp_path, timeout=120)
        catalog = write_json(tmp_path / "catalog.json", select_streams(json.loads(discovered.stdout), {"timecards"}))
        failed = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path, timeout=300)
    assert given
    assert failed.returncode != 0
    assert "has amountType 'POINTS', which is none of hours (HOUR), money (MONEY) or days (DAY)" in failed.stderr
    assert "Deselect the 'timecards' stream" in failed.stderr
    assert "review28" not in failed.stderr
    sent = [m["record"] for m in parse_singer_messages(failed.stdout) if m["type"] == "RECORD"]
    assert not any(r.get("amountType") == "POINTS" or r.get("payCode") == "BON" for r in sent)
