"""The emulator speaks RaaS and REST as the real service does: WSDL, SOAP 1.2 only, WS-Addressing actions,
Status Failed at HTTP 200, paging limits, 401 shapes. Raw HTTP here, no tap."""

from __future__ import annotations

import base64
from pathlib import Path

import requests

from xlr8_kit.soap import SOAP12, build_envelope, child_text, element, parse_envelope, parse_xml, request_headers
from xlr8_sandbox.products.ukg_pro import CUSTOMER_API_KEY, PASSWORD, USER_ACCESS_KEY, USERNAME, UkgProEmulator

BIDATA = "http://www.ultipro.com/dataservices/bidata/2"
BISTREAM = "http://www.ultipro.com/dataservices/bistream/2"
WSDL_NS = {"w": "http://schemas.xmlsoap.org/wsdl/", "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/"}
FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "vendor-metadata" / "ukg_raas"
AUTH = (USERNAME, PASSWORD)
KEY = {"US-Customer-Api-Key": CUSTOMER_API_KEY}


def _post(url: str, action: str, body: object, **kwargs: object) -> requests.Response:
    payload = build_envelope(body, version=SOAP12, action=action, to=url, **kwargs)  # type: ignore[arg-type]
    return requests.post(url, data=payload, headers=request_headers(SOAP12, action), timeout=10)


def _log_on(url: str, password: str = PASSWORD) -> requests.Response:
    fields = {"UserName": USERNAME, "Password": password, "ClientAccessKey": CUSTOMER_API_KEY,
              "UserAccessKey": USER_ACCESS_KEY}  # fmt: skip
    body = element(f"{{{BIDATA}}}LogOn", element(f"{{{BIDATA}}}logOnRequest",
                   *[element(f"{{{BIDATA}}}{k}", v) for k, v in fields.items()]))  # fmt: skip
    return _post(f"{url}/services/BIDataService", f"{BIDATA}/IBIDataService/LogOn", body)


def test_wsdl_operations_match_the_vendor_contract(url: str, emulator: UkgProEmulator) -> None:
    ours = parse_xml(requests.get(f"{url}/services/BIDataService?wsdl", timeout=10).content)
    theirs = parse_xml((FIXTURES / "BIDataService.wsdl").read_bytes())

    def actions(doc: object) -> dict[str, str]:
        return {
            op.get("name"): op.find("soap12:operation", WSDL_NS).get("soapAction")
            for op in doc.findall("w:binding/w:operation", WSDL_NS)  # type: ignore[attr-defined]
        }

    ours_actions, vendor_actions = actions(ours), actions(theirs)
    assert set(ours_actions) <= set(vendor_actions)
    assert all(vendor_actions[name] == action for name, action in ours_actions.items())
    address = ours.find(".//soap12:address", WSDL_NS).get("location")
    assert address == f"{url}/services/BIDataService"
    stream = parse_xml(requests.get(f"{url}/services/BIStreamingService?wsdl", timeout=10).content)
    assert stream.find(".//soap12:operation", WSDL_NS).get("soapAction") == (
        f"{BISTREAM}/IBIStreamService/RetrieveReport"
    )


def test_logon_ok_and_failed_are_both_http_200(url: str, emulator: UkgProEmulator) -> None:
    ok = _log_on(url)
    assert ok.status_code == 200
    message = parse_envelope(ok.content)
    assert message.action == f"{BIDATA}/IBIDataService/LogOnResponse"
    assert child_text(message.body, "LogOnResult", "Status") == "Ok"
    assert child_text(message.body, "LogOnResult", "Token")
    failed = _log_on(url, password="wrong")
    assert failed.status_code == 200
    result = parse_envelope(failed.content).body
    assert child_text(result, "LogOnResult", "Status") == "Failed"
    assert child_text(result, "LogOnResult", "Token") is None


def test_soap_11_content_type_and_unknown_action_are_refused(url: str, emulator: UkgProEmulator) -> None:
    soap11 = requests.post(
        f"{url}/services/BIDataService", data=b"<x/>", headers={"Content-Type": "text/xml"}, timeout=10
    )
    assert soap11.status_code == 415
    wrong = _post(f"{url}/services/BIDataService", "urn:nope", element(f"{{{BIDATA}}}LogOn"))
    assert wrong.status_code == 500
    fault = parse_envelope(wrong.content).fault
    assert fault is not None
    assert (fault.code, fault.subcodes) == ("Sender", ("ActionNotSupported",))


def test_retrieve_unknown_key_is_status_failed(url: str, emulator: UkgProEmulator) -> None:
    response = _post(
        f"{url}/services/BIStreamingService",
        f"{BISTREAM}/IBIStreamService/RetrieveReport",
        element(f"{{{BISTREAM}}}RetrieveReportRequest"),
        headers=[element(f"{{{BISTREAM}}}ReportKey", "no-such-key")],
    )
    assert response.status_code == 200
    message = parse_envelope(response.content)
    assert message.header_text(f"{{{BISTREAM}}}Status") == "Failed"
    assert base64.b64decode(child_text(message.body, "ReportStream") or "") == b""


def test_rest_paging_limits_and_auth(url: str, emulator: UkgProEmulator) -> None:
    page = requests.get(f"{url}/personnel/v1/person-details", params={"page": 3, "per_Page": 40}, auth=AUTH,
                        headers=KEY, timeout=10)  # fmt: skip
    assert page.status_code == 200
    assert [r["employeeID"] for r in page.json()] == [f"E{i:06d}" for i in range(81, 101)]
    past = requests.get(f"{url}/personnel/v1/person-details", params={"page": 4, "per_Page": 40}, auth=AUTH,
                        headers=KEY, timeout=10)  # fmt: skip
    assert past.json() == []
    too_big = requests.get(f"{url}/configuration/v1/jobs", params={"per_Page": 10_001}, auth=AUTH, headers=KEY,
                           timeout=10)  # fmt: skip
    assert too_big.status_code == 400
    no_key = requests.get(f"{url}/configuration/v1/jobs", auth=AUTH, timeout=10)
    assert no_key.status_code == 401
    assert "US-Customer-Api-Key" in no_key.json()["message"]
    bad_user = requests.get(f"{url}/configuration/v1/jobs", auth=("x", "y"), headers=KEY, timeout=10)
    assert bad_user.status_code == 401
    missing = requests.get(f"{url}/personnel/v1/employee-changes", auth=AUTH, headers=KEY, timeout=10)
    assert missing.status_code == 400
    assert "startDate" in missing.json()["message"]
