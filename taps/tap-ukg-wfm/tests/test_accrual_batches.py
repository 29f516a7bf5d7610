"""audit25b F4: ``accruals`` names its people in batches. Retrieve Data refuses an employee set of more than 500
people (413 WCO-106194); the emulator enforces the same rule, its limit scaled down to ``LIMIT`` so the 92-person
test company is past it. Through the real CLI."""

from __future__ import annotations

import typing as t
from datetime import date
from pathlib import Path

from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import END, rewriting_proxy
from .test_vendor_shapes import _records, _sync_cli

#: The emulator's employee limit in these tests: the documented 500, scaled to the test company; the tap's
#: ``persons_per_request`` (40 in ``wfm_config``) stays below it.
LIMIT = 40


def test_accruals_of_a_population_past_the_employee_limit_all_land(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """Every person's balances land, from calls that each name at most ``persons_per_request`` people; the whole
    hyperfind as one employee set was refused (413) once it held more people than the limit."""
    emulator.max_data_employees = LIMIT
    day = date.fromisoformat(END)
    everyone = {e.employee_id for e in emulator._population(day, day, 1)}
    assert len(everyone) > 2 * LIMIT
    sets: list[t.Any] = []

    def record(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/data/multi_read"):
            sets.append(sent["from"]["employeeSet"])
        return answer

    with rewriting_proxy(url, record) as proxy:
        out = _sync_cli(proxy.url, tmp_path, {"accruals"}).stdout
    records = _records(out)
    assert {r["personNumber"] for r in records} == everyone
    assert len(records) == 2 * len(everyone)  # two accrual plans each, none twice
    assert len({(r["personNumber"], r["accrualCode"]) for r in records}) == len(records)
    named = [person for found in sets for person in found["employees"]["qualifiers"]]
    assert all(len(found["employees"]["qualifiers"]) <= LIMIT for found in sets)
    assert set(named) == everyone
