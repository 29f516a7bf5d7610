"""audit25b F2: the default ``lookback_days`` covers an open pay period. Timecards are reviewed, edited and
approved per pay period and signed off after it closes, so an edit to a day often comes two to five weeks after
it; a 7-day lookback never read such an edit again. Tap CLI (with the STATE of a first run) into target CLI."""

from __future__ import annotations

import json
import typing as t
from datetime import date
from decimal import Decimal
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, write_json
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import END, rewriting_proxy, wfm_config
from .test_vendor_shapes import _land, _landed_day, _sync_cli

PERSON = "E000001"
#: Twelve days before the bookmark (``END``): inside a bi-weekly or semi-monthly period still open for approval.
EDITED = date(2025, 12, 22)


def _regular_hours_raised(path: str, sent: t.Any, answer: t.Any) -> t.Any:
    """A manager's edit, made after the first run, adds an hour to the person's REG total of ``EDITED``."""
    if path.endswith("/timecard/multi_read") and sent["select"] == ["TOTALS"]:
        for card in answer:
            if (card.get("employee") or {}).get("qualifier") == PERSON:
                for total in card.get("dailyTotals") or []:
                    code = (total.get("payCode") or {}).get("qualifier")
                    if code == "REG" and str(total.get("applyDate")).startswith(EDITED.isoformat()):
                        total["amount"] = float(Decimal(str(total["amount"])) + 1)
    return answer


def test_an_edit_two_weeks_back_lands_with_the_default_lookback(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """Run 1 reads the first days up to ``END`` (bookmark ``END``); a REG total 12 days before it is then edited;
    run 2, with run 1's STATE and the default ``lookback_days``, lands the edited hours."""
    truths = tmp_path / "truths.duckdb"
    first = _sync_cli(url, tmp_path, {"timecards"}, start_date=EDITED.isoformat())
    _land(first.stdout, truths, tmp_path)
    [before] = [hours for code, hours, _ in _landed_day(truths, PERSON, EDITED) if code == "REG"]
    states = [m["value"] for m in parse_singer_messages(first.stdout) if m["type"] == "STATE"]
    assert states[-1]["bookmarks"]["timecards"]["replication_key_value"][:10] == END
    state = write_json(tmp_path / "state.json", states[-1])
    with rewriting_proxy(url, _regular_hours_raised) as proxy:
        # no start_date: only the bookmark and the lookback say where run 2 starts
        settings = {k: v for k, v in wfm_config(proxy.url).items() if k != "start_date"}
        config = write_json(tmp_path / "config2.json", settings)
        catalog = str(tmp_path / "catalog.json")
        second = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog, "--state", state], tmp_path)
    assert second.returncode == 0, second.stderr
    _land(second.stdout, truths, tmp_path)
    [after] = [hours for code, hours, _ in _landed_day(truths, PERSON, EDITED) if code == "REG"]
    assert Decimal(str(after)) == Decimal(str(before)) + 1
    assert json.loads(Path(config).read_text()).get("lookback_days") is None  # the default did it
