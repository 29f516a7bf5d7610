"""Business partners created by another user while several ``$skip`` windows are in flight (RELIABILITY E7).

Thirty partners are created before the read (windows are ordered by key: they sit where ``N...`` sorts). The
window at ``$skip=10`` is held back by the emulator until the windows asked for beside it were answered (not for a
fixed time: a loaded machine may send them later than any hold); then
one more partner is created, with a key that sorts inside that window (every row after it moves down one place;
the window's total moves) and the window is served.
Read one window after another, an insert repeats a row and never hides one; a window of requests must not do worse.
Every window asks for ``$inlinecount=allpages`` and must report the total of the window before them: the moved
total of ``$skip=10`` drops the windows asked for beside it and asks for them again."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator

from .conftest import basic_config, run_tap

PARTNERS = "/sap/opu/odata/sap/API_BUSINESS_PARTNER/A_BusinessPartner"


def config(url: str, window: int) -> dict[str, t.Any]:
    return basic_config(url, entity_sets=["A_BusinessPartner"], page_size=10, max_concurrent_requests=window)


def partner_ids(url: str, window: int) -> list[str]:
    return [r["BusinessPartner"] for r in run_tap(config(url, window)).records("A_BusinessPartner")]


def skips(emulator: S4HanaEmulator, start: int) -> list[str]:
    """``$skip`` of each window request served since ``start`` (0 for the first window), in arrival order."""
    found = []
    for path, query in list(emulator.queries)[start:]:
        if path.endswith("/A_BusinessPartner") and "$top=" in query:
            found.append(next((p[6:] for p in query.split("&") if p.startswith("$skip=")), "0"))
    return found


def test_insert_inside_a_window_answered_late_loses_no_partner(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator
) -> None:
    emulator.insert_records(30)
    before = partner_ids(url, 1)
    # sorts just after the window's 5th row (windows are in key order), so every row after it moves down one place
    new = emulator.insert_key = before[14] + "5"
    assert before[14] < new < before[15]
    # held until 4 windows were answered: $skip=0, then the three asked for beside $skip=10 (30 s at most)
    sandbox.faults.add("s4hana", PARTNERS, FaultSpec("insert_records", count=1, seconds=30.0, until_answered=4,
                                                     times=1, query={"$skip": "10"}))  # fmt: skip
    start = len(emulator.queries)
    read = partner_ids(url, 4)
    served = skips(emulator, start)
    assert served.index("20") < served.index("10"), f"$skip=20 was not answered before $skip=10: {served}"
    assert set(before) <= set(read), f"lost {sorted(set(before) - set(read))}"
    assert new in read
    assert served.count("20") == 2, "windows asked for before the total moved are asked for again"
    queries = [q for p, q in list(emulator.queries)[start:] if p.endswith("/A_BusinessPartner")]
    assert all("$inlinecount=allpages" in q for q in queries), "every window asks for the total"


def test_nothing_changes_same_records_and_state_as_window_1(url: str, emulator: S4HanaEmulator) -> None:
    emulator.insert_records(30)
    one = run_tap(config(url, 1))
    four = run_tap(config(url, 4))
    assert four.records("A_BusinessPartner") == one.records("A_BusinessPartner")
    assert four.state == one.state


def test_delete_while_windows_are_in_flight_loses_no_more_than_in_turn(
    url: str, sandbox: Sandbox, emulator: S4HanaEmulator
) -> None:
    """A partner of one window deleted when the window after it is served (held back 1 s): every row after it moves
    up one place, so the row that moves into the earlier window is skipped by any ``$skip`` read, in turn or not.
    The window of requests skips nothing more. (Windows are ordered by key: the created partners, the only ones
    that can be deleted, sit where their numbers sort.)"""
    emulator.insert_records(30)
    before = partner_ids(url, 1)
    gone = next(p for p in before if p.startswith("N"))
    after = (before.index(gone) // 10 + 1) * 10  # the $skip of the window after the deleted partner's
    assert after + 10 < len(before)

    def lost_with(window: int) -> set[str]:
        done = False

        def delete(path: str, query: dict[str, str]) -> None:
            nonlocal done
            if not done and path.endswith("/A_BusinessPartner") and query.get("$skip") == str(after):
                done = True
                emulator.delete_partner(gone)

        emulator.reset()
        emulator.insert_records(30)
        emulator.before_request = delete
        sandbox.faults.add("s4hana", PARTNERS, FaultSpec("stall", seconds=1.0, times=1, query={"$skip": str(after)}))
        read = partner_ids(url, window)
        sandbox.faults.clear("s4hana")
        assert done
        return set(before) - {gone} - set(read)

    in_turn, windowed = lost_with(1), lost_with(4)
    assert in_turn == {before[after]}  # $skip paging's own loss on a delete behind the read position
    assert windowed <= in_turn
