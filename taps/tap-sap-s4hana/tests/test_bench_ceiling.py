"""The bench's S/4 ceiling reader asks the emulator for what the tap asks (review23d finding 4): the tap orders
every ``$skip`` window by the entity's keys, and an ordered read costs the emulator otherwise than a natural-order
one (a full sort per window with its row cache off), so a ceiling without it measures other work."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

from xlr8_sandbox.products.s4hana import S4HanaEmulator

from .conftest import run_tap

CEILING = Path(__file__).resolve().parents[3] / "bench" / "ceilings" / "s4hana.py"


def ceiling() -> ModuleType:
    spec = importlib.util.spec_from_file_location("s4hana_ceiling_under_test", CEILING)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def orders(emulator: S4HanaEmulator, start: int, entity_set: str) -> set[str | None]:
    """``$orderby`` of each ``$top`` window of ``entity_set`` served since ``start``."""
    found: set[str | None] = set()
    for path, query in list(emulator.queries)[start:]:
        if path.endswith(f"/{entity_set}") and "$top=" in query:
            found.add(next((p[len("$orderby=") :] for p in query.split("&") if p.startswith("$orderby=")), None))
    return found


@pytest.mark.parametrize("entity_set", ["A_PurchaseOrderItem", "A_JournalEntryItemBasic"])
def test_ceiling_orders_windows_as_the_tap_does(url: str, emulator: S4HanaEmulator, entity_set: str) -> None:
    module = ceiling()
    credentials = emulator.test_credentials()
    start = len(emulator.queries)
    tap = run_tap(module.tap_config(url, credentials, entity_set))
    tap_orders = orders(emulator, start, entity_set)
    start = len(emulator.queries)
    rows = list(module.read(url, credentials, entity_set))
    assert len(rows) == len(tap.records(entity_set))
    assert tap_orders == orders(emulator, start, entity_set) != {None}
