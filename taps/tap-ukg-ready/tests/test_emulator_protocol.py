"""The emulator speaks UKG Ready's protocol (addressing, error bodies, throttling), and the tap reacts to it as it
must against a real tenant: 429 waited out, an ``errors[]`` body in a 200 never taken for "no rows"."""

from __future__ import annotations

import pytest
import requests

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import select_streams, sync_in_process
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_ready import API_KEY, COMPANY_ID, PASSWORD, USERNAME, UkgReadyEmulator
from xlr8_tap_ukg_ready.tap import TapUkgReady

from .conftest import SCALE, ready_config, run_tap


def _token(url: str) -> str:
    body = {"credentials": {"username": USERNAME, "password": PASSWORD, "company": "acmeready"}}
    answer = requests.post(f"{url}/ta/rest/v1/login", json=body, headers={"Api-Key": API_KEY}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["ttl"] == 3_600_000  # milliseconds
    return str(answer.json()["token"])


def test_company_by_numeric_id_or_short_name_and_vendor_errors(url: str, emulator: UkgReadyEmulator) -> None:
    headers = {"Authentication": f"Bearer {_token(url)}"}
    by_id = requests.get(f"{url}/ta/rest/v2/companies/{COMPANY_ID}/lookup/jobs", headers=headers, timeout=10)
    by_name = requests.get(f"{url}/ta/rest/v2/companies/%7CACMEREADY/lookup/jobs", headers=headers, timeout=10)
    assert by_id.status_code == by_name.status_code == 200
    assert by_id.json() == by_name.json()
    unknown = requests.get(f"{url}/ta/rest/v2/companies/%7CNOPE/lookup/jobs", headers=headers, timeout=10)
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["code"] == 4004
    anonymous = requests.get(f"{url}/ta/rest/v2/companies/{COMPANY_ID}/employees", timeout=10)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["message"] == "Authentication token is missing."


def test_employees_pages_follow_the_next_link(url: str, emulator: UkgReadyEmulator) -> None:
    headers = {"Authentication": f"Bearer {_token(url)}"}
    page = requests.get(f"{url}/ta/rest/v2/companies/{COMPANY_ID}/employees?size=25", headers=headers, timeout=10)
    links = page.json()["_links"]
    assert "page=1" in links["next"]
    assert links["next"].startswith(url)
    last = requests.get(
        f"{url}/ta/rest/v2/companies/{COMPANY_ID}/employees?size=25&page=2", headers=headers, timeout=10
    )
    assert len(last.json()["employees"]) == SCALE - 50
    assert "next" not in last.json()["_links"]


def test_a2_vendor_429_is_waited_out(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator) -> None:
    sandbox.faults.add("ukg_ready", "/ta/rest/v2/companies/*/employees", FaultSpec("quota", after=1, times=1))
    fake = FakeTime()
    config = ready_config(url)
    catalog = select_streams(TapUkgReady(config=config, parse_env_config=False).catalog_dict, {"employees"})
    output = sync_in_process(with_fake_time(TapUkgReady, fake)(config=config, catalog=catalog, parse_env_config=False))
    assert len(output.records("employees")) == SCALE
    assert fake.sleeps == [1.0]  # the vendor's Retry-After


def test_a8_errors_body_in_a_200_stops_the_stream(url: str, sandbox: Sandbox, emulator: UkgReadyEmulator) -> None:
    sandbox.faults.add("ukg_ready", "/ta/rest/v2/companies/*/config/cost-centers", FaultSpec("error_body", times=5))
    with pytest.raises(KitHTTPError, match="errors"):
        run_tap(ready_config(url, http={"max_attempts": 1}), streams={"cost_centers"})
