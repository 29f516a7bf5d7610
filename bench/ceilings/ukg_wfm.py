"""Ceiling for UKG WFM: the classic login (appkey + password grant), one hyperfind per 31-day window, then timecard
(or schedule) multi_read calls of 500 people, rows taken straight from the JSON. Plain requests; no SDK, no retries,
no typing of values, no time-zone conversion."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import requests

TAP = "tap-ukg-wfm"
STREAMS = {"time": "timecards", "shifts": "schedules"}
#: About 13 weeks of weekdays: at scale 10,000 roughly 1.1 M timecard rows (a worked day with overtime is two).
FIRST, LAST = date(2025, 10, 6), date(2026, 1, 2)
WINDOW_DAYS, PERSONS = 31, 500


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    return {"base_url": url, **credentials, "start_date": FIRST.isoformat(), "end_date": LAST.isoformat(),
            "window_days": WINDOW_DAYS, "persons_per_request": PERSONS, "schedule_days_ahead": 0,
            "timezone": "America/New_York"}  # fmt: skip


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    form = {k: credentials[k] for k in ("username", "password", "client_id", "client_secret")}
    form.update(grant_type="password", auth_chain="OAuthLdapService")
    login = session.post(f"{url}/api/authentication/access_token", headers={"appkey": credentials["appkey"]},
                         data=form, timeout=60)  # fmt: skip
    session.headers.update({"Authorization": f"Bearer {login.json()['access_token']}", "appkey": credentials["appkey"]})
    first = FIRST
    while first <= LAST:
        last = min(LAST, first + timedelta(days=WINDOW_DAYS - 1))
        span = {"startDate": first.isoformat(), "endDate": last.isoformat()}
        ask = {"hyperfind": {"id": 1}, "dateRange": span, "threshold": 50_000}  # 3,500 when none is sent
        found = session.post(f"{url}/api/v1/commons/hyperfind/execute", json=ask, timeout=300).json()
        people = [ref["qualifier"] for ref in found["result"]["refs"]]
        for start in range(0, len(people), PERSONS):
            who = {"qualifiers": people[start : start + PERSONS]}
            if stream == "schedules":
                body = {"select": ["SHIFTS"], "where": {"employees": {"employeeRefs": who, **span}}}
                yield from session.post(f"{url}/api/v1/scheduling/schedule/multi_read", json=body,
                                        timeout=600).json()["shifts"]  # fmt: skip
                continue
            body = {"select": ["TOTALS"], "where": {"employees": who, "dateRange": span}}
            for card in session.post(f"{url}/api/v1/timekeeping/timecard/multi_read", json=body, timeout=600).json():
                yield from card["dailyTotals"]
        first = last + timedelta(days=1)
