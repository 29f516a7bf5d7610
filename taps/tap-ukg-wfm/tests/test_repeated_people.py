"""audit wfm27 W10: a person named twice in a hyperfind answer (a person with two assignments in the population, if a
tenant ever answers so) was asked for twice in one multi_read: two timecards of one person in one answer, and the
day's totals summed over both (hours doubled), exit 0. The population keeps each person once. Tap CLI over HTTP,
the repeat made by a server in front of the emulator."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

from xlr8_kit.testing.singer_cli import parse_singer_messages
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_vendor_shapes import _sync_cli

STREAM = "timecards"


def _repeating_the_first_person(path: str, sent: t.Any, answer: t.Any) -> t.Any:
    if path.endswith("/hyperfind/execute"):
        refs = answer["result"]["refs"]
        answer["result"]["refs"] = [refs[0], *refs]
    return answer


def _text(record: dict[str, t.Any]) -> str:
    return json.dumps(record, sort_keys=True, default=str)


def _records(singer: str) -> list[dict[str, t.Any]]:
    return [m["record"] for m in parse_singer_messages(singer) if m["type"] == "RECORD" and m["stream"] == STREAM]


def test_a_person_named_twice_by_the_hyperfind_is_read_once(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """The same records as the plain population's: no total summed over two timecards of one person."""
    (tmp_path / "plain").mkdir()
    (tmp_path / "repeated").mkdir()
    plain = _records(_sync_cli(url, tmp_path / "plain", {STREAM}, window_days=7).stdout)
    with rewriting_proxy(url, _repeating_the_first_person) as proxy:
        repeated = _records(_sync_cli(proxy.url, tmp_path / "repeated", {STREAM}, window_days=7).stdout)
    assert plain, "the window holds totals"
    assert sorted(map(_text, repeated)) == sorted(map(_text, plain))
