"""A child stream reads its rows from pages of parents: a page whose parents have no child rows is not the end."""

from __future__ import annotations

import typing as t

from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator, person_id

from .conftest import hcm_config, run_tap


def test_a_page_of_parents_without_children_does_not_end_a_child_stream(url: str, emulator: OracleHcmEmulator) -> None:
    """People without a work email for the first 30 workers (three pages of 10 parents): the emails of the others
    are still read (the empty pages' ``hasMore`` is true), at window 1 and with the window."""
    emails = emulator.resources["workers"].children["emails"]
    rows = emails.rows
    first_with_email = person_id(30)

    def some_rows(worker: dict[str, t.Any]) -> list[dict[str, t.Any]]:
        return rows(worker) if worker["PersonId"] >= first_with_email else []

    emails.rows = some_rows
    try:
        for window in (1, 4):
            config = hcm_config(url, resources=["workers"], page_size=10, max_concurrent_requests=window)
            read = run_tap(config, streams={"workers_emails"}).records("workers_emails")
            assert len(read) == emulator.resources["workers"].count() - 30, window
    finally:
        emails.rows = rows
