"""audit25b F9 and F11: a person's effective-dated lists (primary labor accounts, employment statuses) are read as
of ``end_date``, whatever their order: a transfer entered ahead of its date is not today's job, and a rehired
person has no termination date. Real CLI, through a server that rewrites the emulator's persons answers."""

from __future__ import annotations

import typing as t
from pathlib import Path

from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_vendor_shapes import _records, _sync_cli

FUTURE = "./Acme/US/NEW/D999/J999"
PAST = "./Acme/US/OLD/D001/J001"


def _status(name: str, start: str, end: str = "3000-01-01") -> dict[str, str]:
    return {"employmentStatusName": name, "effectiveDate": start, "expirationDate": end}


#: Status histories by person (``end_date`` is 2026-01-02), in the order answered.
STATUSES = {
    "E000001": [_status("Active", "2020-03-01"), _status("Terminated", "2022-06-01"), _status("Active", "2024-09-01")],
    "E000002": [
        _status("Terminated", "2019-05-01"),
        _status("Active", "2020-01-01"),
        _status("Terminated", "2023-03-01"),
    ],
    "E000003": [_status("Terminated", "2026-03-01"), _status("Active", "2020-01-01")],
    "E000004": [_status("Active", "2024-09-01"), _status("Terminated", "2022-06-01"), _status("Active", "2020-03-01")],
}


def _histories(current: dict[str, str]) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """E000001: a transfer to ``FUTURE`` effective next month, listed last; E000002: the same listed first;
    E000003: a past job listed last. ``current`` gets each one's job path in effect. Statuses as ``STATUSES``."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/persons/multi_read"):
            for row in answer:
                number = row["personInformation"]["person"]["personNumber"]
                if number in STATUSES:
                    row["personInformation"]["employmentStatusList"] = STATUSES[number]
                accounts = row["jobAssignment"]["primaryLaborAccounts"]
                now = {**accounts[0], "effectiveDate": "2024-06-15", "expirationDate": "2026-01-31"}
                future = {"organizationPath": FUTURE, "effectiveDate": "2026-02-01", "expirationDate": "3000-01-01"}
                past = {"organizationPath": PAST, "effectiveDate": "2020-01-01", "expirationDate": "2024-06-14"}
                lists = {"E000001": [now, future], "E000002": [future, now], "E000003": [now, past]}
                if number in lists:
                    current[number] = now["organizationPath"]
                    row["jobAssignment"]["primaryLaborAccounts"] = lists[number]
        return answer

    return rewrite


def test_effective_dated_lists_are_read_as_of_end_date(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    current: dict[str, str] = {}
    with rewriting_proxy(url, _histories(current)) as proxy:
        records = {r["personNumber"]: r for r in _records(_sync_cli(proxy.url, tmp_path, {"persons"}).stdout)}
    for number in ("E000001", "E000002", "E000003"):  # F9: the job in effect, not the last one listed
        assert records[number]["primaryOrgPath"] == current[number], number
        assert records[number]["primaryJob"] == current[number].rsplit("/", 1)[-1], number
    landed = {n: (records[n]["employmentStatus"], records[n]["terminationDate"]) for n in STATUSES}
    assert landed == {
        "E000001": ("Active", None),  # rehired: the old termination no longer holds
        "E000002": ("Terminated", "2023-03-01"),  # terminated twice: the latest
        "E000003": ("Active", "2026-03-01"),  # a termination entered ahead of its date, as before
        "E000004": ("Active", None),  # the rehire history answered newest first
    }
