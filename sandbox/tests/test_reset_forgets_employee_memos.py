"""A sandbox reset forgets the emulators' employee memos (review21a Medium 1). They are keyed on (index, sandbox
time); hires inserted before a reset move every later scheduled hire to another index, so back at the same moment
after the reset a memo served people as they were before it (and Oracle HCM's sort pass, reading the company,
could place a worker by one date while the page served another). Read over HTTP with the bench's ceiling readers."""

from __future__ import annotations

import importlib
import json
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox

SEED = 42
SCALE = 600
TIMEOUT = 30
#: (product, ceiling stream): each reads people through its emulator's memo
CASES = [
    ("oracle_hcm", "workers"),
    ("successfactors", "User"),
    ("successfactors", "EmpJob"),
    ("ukg_pro", "employment_details"),
    ("ukg_wfm", "timecards"),
]


def ceiling_module(product: str) -> ModuleType:
    """The bench's reader for ``product`` (as the served-bytes golden loads it: bench/ goes on the path)."""
    bench = str(Path(__file__).resolve().parents[2] / "bench")
    if bench not in sys.path:
        sys.path.append(bench)
    return importlib.import_module(f"ceilings.{product}")


def _advance(sandbox: Sandbox, product: str, days: int) -> None:
    answer = requests.post(sandbox.url(product) + "/__sandbox/clock/advance", json={"days": days}, timeout=TIMEOUT)
    answer.raise_for_status()


def _rows(sandbox: Sandbox, product: str, stream: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every row the reader gets, as JSON with the sandbox's own URL blanked."""
    module = ceiling_module(product)
    if product == "ukg_wfm":  # its fixed window ends before the sandbox's start: read the days around the hires
        start = sandbox.ctx.clock.start.date()
        monkeypatch.setattr(module, "FIRST", start + timedelta(days=30))
        monkeypatch.setattr(module, "LAST", start + timedelta(days=50))
    credentials = sandbox.emulator(product).test_credentials()
    rows = list(module.read(sandbox.url(product), credentials, stream))
    return json.dumps(rows, sort_keys=True, default=str).replace(sandbox.url(product), "<url>")


@pytest.mark.parametrize(("product", "stream"), CASES, ids=[f"{p}-{s}" for p, s in CASES])
def test_after_a_reset_the_same_moment_serves_what_a_fresh_sandbox_serves(
    product: str, stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with run_sandbox([product], seed=SEED, scale=SCALE) as fresh:
        _advance(fresh, product, 50)
        expected = _rows(fresh, product, stream, monkeypatch)
    with run_sandbox([product], seed=SEED, scale=SCALE) as sandbox:
        _advance(sandbox, product, 40)
        sandbox.ctx.company.insert_employees(3)  # hires: the later scheduled hires move on by 3 indices
        _advance(sandbox, product, 10)
        before = _rows(sandbox, product, stream, monkeypatch)  # the memo holds (i, this moment) for each person read
        reset = requests.post(sandbox.url(product) + "/__sandbox/reset", timeout=TIMEOUT)
        reset.raise_for_status()
        _advance(sandbox, product, 50)  # the same moment again, without the hires
        after = _rows(sandbox, product, stream, monkeypatch)
    assert before != expected  # the hires changed what is served: a stale memo would show
    assert after == expected
