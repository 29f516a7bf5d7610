"""Bulk 2.0 job polls: the first comes after ``FIRST_BULK_POLL_WAIT`` and the wait doubles up to
``bulk_poll_interval`` (a small job no longer costs a whole interval); ``bulk_max_wait`` counts the real waits."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from xlr8_kit.testing.singer_cli import sync_in_process
from xlr8_tap_salesforce.client import FIRST_BULK_POLL_WAIT, bulk_poll_wait
from xlr8_tap_salesforce.tap import TapSalesforce


def _bulk_run(sf: Any, polls_before_complete: int, **extra: Any) -> tuple[list[float], Any]:
    with sf.start_sandbox({"Account": 30}) as sandbox:
        sf.emulator(sandbox).bulk_polls_before_complete = polls_before_complete
        config = sf.password_config(sandbox, objects=["Account"], api_type="bulk", **extra)
        tap = TapSalesforce(config=config, parse_env_config=False)
        waits: list[float] = []
        tap.client.sleep = waits.append
        return waits, sync_in_process(tap)


def test_the_wait_between_polls_grows_from_half_a_second_to_the_interval(sf: Any) -> None:
    waits, run = _bulk_run(sf, polls_before_complete=6, bulk_poll_interval=5)
    assert waits == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]  # six polls answered InProgress, the seventh JobComplete
    assert len(run.records("Account")) == 30


def test_a_short_interval_is_never_exceeded(sf: Any) -> None:
    waits, run = _bulk_run(sf, polls_before_complete=3, bulk_poll_interval=0.2)
    assert waits == [0.2, 0.2, 0.2]
    assert len(run.records("Account")) == 30


def test_the_longest_wait_counts_the_waits_taken(sf: Any) -> None:
    """0.5 + 1 + 2 = 3.5 s waited before the fourth poll: past a bulk_max_wait of 3, the job is given up."""
    with pytest.raises(Exception, match=r"still InProgress after 4 s \(bulk_max_wait\)"):
        _bulk_run(sf, polls_before_complete=10, bulk_poll_interval=5, bulk_max_wait=3)


@pytest.mark.parametrize("longest", [0.1, 0.5, 1.0, 5.0, 60.0])
def test_bulk_poll_wait_doubles_up_to_the_longest(longest: float) -> None:
    waits = [bulk_poll_wait(0.0, longest)]
    for _ in range(12):
        waits.append(bulk_poll_wait(waits[-1], longest))
    assert waits[0] == min(FIRST_BULK_POLL_WAIT, longest)
    assert all(later == min(longest, 2 * earlier) for earlier, later in itertools.pairwise(waits))
    assert waits[-1] == longest
