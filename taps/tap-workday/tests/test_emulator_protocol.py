"""The Workday emulator speaks the vendor's wire protocol: checked with plain HTTP, no tap involved."""

from __future__ import annotations

import requests

from xlr8_kit.soap import SOAP11, SOAP12, build_envelope, element, parse_envelope, request_headers, username_token
from xlr8_sandbox.products.workday import (
    CLIENT_ID,
    CLIENT_SECRET,
    ISU_PASSWORD,
    ISU_USER,
    REFRESH_TOKEN,
    REPORT_OWNER,
    TENANT,
    WorkdayEmulator,
)

B = "{urn:com.workday/bsvc}"


def _token(url: str) -> str:
    response = requests.post(
        f"{url}/ccx/oauth2/{TENANT}/token",
        data={"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN},
        auth=(CLIENT_ID, CLIENT_SECRET),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _soap(url: str, body: bytes, service: str = "Human_Resources") -> requests.Response:
    return requests.post(
        f"{url}/ccx/service/{TENANT}/{service}/v42.0", data=body, headers=request_headers(SOAP11, ""), timeout=10
    )


def _get_workers(count: str, *, user: str = f"{ISU_USER}@{TENANT}", password: str = ISU_PASSWORD) -> bytes:
    request = element(B + "Get_Workers_Request", element(B + "Response_Filter", element(B + "Count", count)))
    return build_envelope(request, version=SOAP11, headers=[username_token(user, password)])


def test_token_endpoint_refuses_bad_grants(url: str, emulator: WorkdayEmulator) -> None:
    bad = requests.post(f"{url}/ccx/oauth2/{TENANT}/token", auth=(CLIENT_ID, CLIENT_SECRET), timeout=10,
                        data={"grant_type": "refresh_token", "refresh_token": "nope"})  # fmt: skip
    assert (bad.status_code, bad.json()["error"]) == (400, "invalid_grant")
    wrong_client = requests.post(f"{url}/ccx/oauth2/{TENANT}/token", auth=(CLIENT_ID, "x"), timeout=10,
                                 data={"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN})  # fmt: skip
    assert wrong_client.status_code == 401


def test_rest_paging_rules(url: str, emulator: WorkdayEmulator) -> None:
    headers = {"Authorization": f"Bearer {_token(url)}"}
    base = f"{url}/ccx/api/v1/{TENANT}"
    page = requests.get(f"{base}/workers", params={"limit": 100, "offset": 95}, headers=headers, timeout=10).json()
    assert page["total"] == 100
    assert [w["workerId"] for w in page["data"]] == [f"E{i:06d}" for i in range(96, 101)]
    too_big = requests.get(f"{base}/workers", params={"limit": 101}, headers=headers, timeout=10)
    assert too_big.status_code == 400
    assert too_big.json()["errors"][0]["field"] == "limit"
    one = requests.get(f"{base}/workers/{page['data'][0]['id']}", headers=headers, timeout=10).json()
    assert one["workerId"] == "E000096"
    assert requests.get(f"{base}/jobs", timeout=10).status_code == 401


def test_raas_auth_prompts_and_xsd(url: str, emulator: WorkdayEmulator) -> None:
    report = f"{url}/ccx/service/customreport2/{TENANT}/{REPORT_OWNER}/XLR8_Workers"
    assert requests.get(report, params={"format": "json"}, timeout=10).status_code == 401
    auth = (ISU_USER, ISU_PASSWORD)
    xsd = requests.get(f"{report}?xsds", auth=auth, timeout=10)
    assert b'name="Organizations_group"' in xsd.content
    assert b'maxOccurs="unbounded"' in xsd.content
    windowed = requests.get(report, auth=auth, timeout=10, params={"format": "json", "Updated_From": "2025-01-01-08:00",
                                                                  "Updated_Through": "2025-03-31-08:00"})  # fmt: skip
    days = {e["Last_Updated"][:10] for e in windowed.json()["Report_Entry"]}
    assert days
    assert all("2025-01-01" <= d <= "2025-03-31" for d in days)
    unknown = requests.get(report, auth=auth, params={"format": "json", "Nope": "1"}, timeout=10)
    assert unknown.status_code == 400
    bad_date = requests.get(report, auth=auth, params={"format": "json", "Updated_From": "03/01/2025"}, timeout=10)
    assert "not a date" in bad_date.json()["error"]


def test_soap_faults_have_workday_shape(url: str, emulator: WorkdayEmulator) -> None:
    too_many = _soap(url, _get_workers("1000"))
    assert too_many.status_code == 500
    fault = parse_envelope(too_many.content).fault
    assert fault is not None
    assert fault.code == "Client.validationError"
    assert b"<wd:Validation_Fault>" in too_many.content
    denied = _soap(url, _get_workers("10", password="wrong"))
    assert parse_envelope(denied.content).fault.code == "Client.authenticationError"  # type: ignore[union-attr]
    no_tenant = _soap(url, _get_workers("10", user=ISU_USER))
    assert no_tenant.status_code == 500  # WS-Security users are user@tenant
    soap12 = build_envelope(element(B + "Get_Workers_Request"), version=SOAP12)
    assert parse_envelope(_soap(url, soap12).content).fault.code == "VersionMismatch"  # type: ignore[union-attr]
    ok = parse_envelope(_soap(url, _get_workers("999")).content)
    results = ok.body.find(f"{B}Response_Results")  # type: ignore[union-attr]
    assert results.findtext(f"{B}Total_Results") == "100"  # type: ignore[union-attr]
    assert results.findtext(f"{B}Total_Pages") == "1"  # type: ignore[union-attr]
