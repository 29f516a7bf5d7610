"""audit wfm27 W3: the timecard and schedule multi_reads are asked in their own shapes. The tap sent them the
persons multi_read's ``employees: {key, values}`` (and the schedule dates under ``where``), which UKG refuses with 400
WFP-90011 "Unrecognized property": timecards name people in ``where.employees`` (``qualifiers``, the person
numbers) beside ``where.dateRange``, schedules in ``where.employees.employeeRefs`` with ``startDate``/``endDate``
beside it. The emulator now refuses the other shapes as UKG does. Real HTTP against the emulator."""

from __future__ import annotations

import typing as t

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_wfm import APPKEY, CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME, UkgWfmEmulator

from .conftest import END, START, run_tap, wfm_config

TIMECARDS = "/api/v1/timekeeping/timecard/multi_read"
SCHEDULES = "/api/v1/scheduling/schedule/multi_read"


def test_time_data_is_read_in_the_shapes_the_multi_reads_accept(
    url: str, sandbox: Sandbox, emulator: UkgWfmEmulator
) -> None:
    out = run_tap(wfm_config(url, window_days=7), streams={"timecards", "punches", "schedules"})
    for stream in ("timecards", "punches", "schedules"):
        assert out.records(stream), stream
    for path in (TIMECARDS, SCHEDULES):
        calls = sandbox.requests("ukg_wfm", path)
        assert calls, path
        assert {c.status for c in calls} == {200}, path


def _session(url: str) -> requests.Session:
    session = requests.Session()
    form = {"username": USERNAME, "password": PASSWORD, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    form.update(grant_type="password", auth_chain="OAuthLdapService")
    login = session.post(f"{url}/api/authentication/access_token", headers={"appkey": APPKEY}, data=form, timeout=60)
    assert login.status_code == 200, login.text
    session.headers.update({"Authorization": f"Bearer {login.json()['access_token']}", "appkey": APPKEY})
    return session


PEOPLE = ["E000001", "E000002"]
SPAN = {"startDate": START, "endDate": END}


@pytest.mark.parametrize(
    ("path", "body", "refused"),
    [
        (TIMECARDS, {"where": {"employees": {"key": "personnumber", "values": PEOPLE}, "dateRange": SPAN}}, "key"),
        (SCHEDULES, {"where": {"employees": {"key": "personnumber", "values": PEOPLE}, **SPAN}}, "startDate"),
        (
            SCHEDULES,
            {"where": {"employees": {"employeeRefs": {"key": "personnumber", "values": PEOPLE}, **SPAN}}},
            "key",
        ),
    ],
    ids=["timecards-key-values", "schedules-dates-under-where", "schedules-key-values"],
)
def test_the_emulator_refuses_a_shape_ukg_does_not_know(
    url: str, emulator: UkgWfmEmulator, path: str, body: dict[str, t.Any], refused: str
) -> None:
    answer = _session(url).post(url + path, json={"select": ["SHIFTS" if path == SCHEDULES else "TOTALS"], **body})
    assert answer.status_code == 400
    error = answer.json()
    assert error["errorCode"] == "WFP-90011"
    assert error["message"].startswith("Unrecognized property: ")
    assert error["message"].endswith(f".{refused}")
