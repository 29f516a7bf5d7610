"""audit25b F3: the hyperfind's threshold. UKG answers at most 3,500 people when the request names no
``threshold`` (up to 50,000 when it does); the emulator applies the same rule, its default scaled down to
``CAP`` so the 92-person test company is past it. Through the real CLI."""

from __future__ import annotations

import json
import typing as t
from datetime import date
from pathlib import Path

import pytest

from xlr8_kit.testing.faultserver import Reply
from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import END, START, rewriting_proxy, wfm_config
from .test_vendor_shapes import _sync_cli

#: The emulator's default threshold in these tests: the documented 3,500, scaled to the test company.
CAP = 20


def _people(stdout: str, stream: str) -> set[str]:
    return {
        m["record"]["personNumber"]
        for m in parse_singer_messages(stdout)
        if m["type"] == "RECORD" and m["stream"] == stream
    }


def _everyone(emulator: UkgWfmEmulator) -> set[str]:
    return {e.employee_id for e in emulator._population(date.fromisoformat(START), date.fromisoformat(END), 1)}


def test_people_past_the_default_threshold_are_read(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """The hyperfind call names its threshold (``hyperfind_threshold``, default 50,000): with none, a population
    past UKG's default lands only its first 3,500 people in every stream, exit 0."""
    emulator.hyperfind_threshold = CAP
    everyone = _everyone(emulator)
    assert len(everyone) > CAP
    sent: list[t.Any] = []

    def record(path: str, body: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/hyperfind/execute"):
            sent.append(body)
        return answer

    with rewriting_proxy(url, record) as proxy:
        out = _sync_cli(proxy.url, tmp_path, {"persons", "timecards"}).stdout
    assert _people(out, "persons") == everyone
    assert len(_people(out, "timecards")) > CAP
    assert {body.get("threshold") for body in sent} == {50_000}


def test_a_population_reaching_the_threshold_fails_by_name(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """A hyperfind answer as long as the threshold may be cut short: the run fails naming the setting, lands no
    record and moves no bookmark, rather than read part of the population."""
    config = write_json(tmp_path / "config.json", wfm_config(url, hyperfind_threshold=CAP))
    discovered = run_tap_cli("tap-ukg-wfm", ["--config", config, "--discover"], tmp_path, timeout=120)
    assert discovered.returncode == 0, discovered.stderr
    catalog = write_json(
        tmp_path / "catalog.json", select_streams(json.loads(discovered.stdout), {"persons", "timecards"})
    )
    failed = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path, timeout=300)
    assert failed.returncode != 0
    assert "'hyperfind_threshold' (20)" in failed.stderr
    assert "answered 20 people" in failed.stderr
    messages = parse_singer_messages(failed.stdout)
    assert not [m for m in messages if m["type"] in ("RECORD", "STATE")]


def test_a_count_above_the_people_answered_fails_by_name(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    """A tenant that says how many people matched (``count``) and answers fewer is cut short too."""

    def short(path: str, body: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/hyperfind/execute"):
            answer["result"]["refs"] = answer["result"]["refs"][:-1]
        return answer

    with rewriting_proxy(url, short) as proxy:
        config = write_json(tmp_path / "config.json", wfm_config(proxy.url))
        discovered = run_tap_cli("tap-ukg-wfm", ["--config", config, "--discover"], tmp_path, timeout=120)
        catalog = write_json(tmp_path / "catalog.json", select_streams(json.loads(discovered.stdout), {"persons"}))
        failed = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path, timeout=300)
    assert failed.returncode != 0
    assert "'hyperfind_threshold'" in failed.stderr
    assert not [m for m in parse_singer_messages(failed.stdout) if m["type"] == "RECORD"]


@pytest.mark.parametrize(
    ("threshold", "remedy"),
    [(CAP, "Raise 'hyperfind_threshold' (now 20"), (50000, "It is at UKG's maximum (50,000): split the population")],
    ids=["below-maximum", "at-maximum"],
)
def test_a_hyperfind_refused_over_its_threshold_fails_by_name(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path, threshold: int, remedy: str
) -> None:
    """audit wfm27 W7: a live tenant refuses a hyperfind whose people exceed the threshold (400 ``WCO-112003``, per a
    public client verified against one) where UKG's reference says the answer stops at it (the emulator's way,
    above). The refusal fails the run naming the setting too, not only the API's code; nothing lands. At UKG's
    maximum it says to split, not to raise the setting (review28g L2)."""

    def refuse(path: str, body: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/hyperfind/execute"):
            refusal = {"errorCode": "WCO-112003", "message": "The Hyperfind returned more employees than allowed."}
            return Reply(400, body=refusal)
        return answer

    with rewriting_proxy(url, refuse) as proxy:
        config = write_json(tmp_path / "config.json", wfm_config(proxy.url, hyperfind_threshold=threshold))
        discovered = run_tap_cli("tap-ukg-wfm", ["--config", config, "--discover"], tmp_path, timeout=120)
        catalog = write_json(tmp_path / "catalog.json", select_streams(json.loads(discovered.stdout), {"persons"}))
        failed = run_tap_cli("tap-ukg-wfm", ["--config", config, "--catalog", catalog], tmp_path, timeout=300)
    assert failed.returncode != 0
    assert "WCO-112003" in failed.stderr
    assert remedy in failed.stderr
    assert threshold < 50000 or "Raise" not in failed.stderr
    assert not [m for m in parse_singer_messages(failed.stdout) if m["type"] in ("RECORD", "STATE")]
