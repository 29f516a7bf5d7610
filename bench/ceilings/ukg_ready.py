"""Ceiling for UKG Ready: the v1 login, then either the v2 employees list (``size`` pages, ``_links.next``) or a
saved/global report read as CSV off the socket. Plain requests; no SDK, no retries, no typing of values."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

import requests

TAP = "tap-ukg-ready"
#: Report streams by the names the bench gives them (the tap's ``reports`` setting), with the report each reads.
REPORTS = {"pay_statements": ("saved", 1001), "timesheets": ("saved", 1002), "roster": ("global", 2001)}
STREAMS = {"report": "pay_statements", "employees": "employees"}
PAGE = 1000


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    config: dict[str, Any] = {"base_url": url, **credentials, "page_size": PAGE}
    if stream in REPORTS:
        kind, report_id = REPORTS[stream]
        config["reports"] = [{"id": report_id, "kind": kind, "name": stream}]
    return config


def _session(url: str, credentials: dict[str, str]) -> requests.Session:
    session = requests.Session()
    login = session.post(
        f"{url}/ta/rest/v1/login",
        json={"credentials": {"username": credentials["username"], "password": credentials["password"],
                              "company": credentials["company_short_name"]}},
        headers={"Api-Key": credentials["api_key"]},
        timeout=60,
    )  # fmt: skip
    session.headers["Authentication"] = f"Bearer {login.json()['token']}"
    return session


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    session = _session(url, credentials)
    if stream in REPORTS:
        kind, report_id = REPORTS[stream]
        with session.get(
            f"{url}/ta/rest/v1/report/{kind}/{report_id}", headers={"Accept": "text/csv"}, stream=True, timeout=600
        ) as response:
            yield from csv.DictReader(response.iter_lines(decode_unicode=True))
        return
    next_url: str | None = f"{url}/ta/rest/v2/companies/%7C{credentials['company_short_name']}/employees?size={PAGE}"
    while next_url:
        body = session.get(next_url, timeout=300).json()
        yield from body["employees"]
        next_url = body["_links"].get("next")
