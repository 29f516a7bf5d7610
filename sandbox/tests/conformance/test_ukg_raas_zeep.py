"""The UKG Pro RaaS emulator driven by zeep, a standard SOAP client that knows nothing of this project: it loads the
emulator's WSDL set (wsdl imports and xsd imports fetched over HTTP from the emulator alone), builds SOAP 1.2
envelopes with WS-Addressing from it, and calls LogOn -> GetReportList -> GetReportParameters -> ExecuteReport ->
RetrieveReport -> LogOff, as UKG's RaaS developer guide describes.

The operation set is checked against the real WSDL set in ``../shared/fixtures/vendor-metadata/ukg_raas`` (read
from there, never copied): the same seven BIDataService operations with the same SOAP actions.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import requests
import zeep
from zeep.transports import Transport

from xlr8_kit.xmlsafe import parse_xml
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.ukg_pro import CUSTOMER_API_KEY, PASSWORD, USER_ACCESS_KEY, USERNAME
from xlr8_sandbox.testing import emulator_fixtures

sandbox, emulator, url = emulator_fixtures("ukg_pro", scale=100)

VENDOR = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "vendor-metadata" / "ukg_raas"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP12 = "http://schemas.xmlsoap.org/wsdl/soap12/"
XS = "http://www.w3.org/2001/XMLSchema"
EMPLOYEES = "/content/folder[@name='zzzCompany Folders']/folder[@name='Acme Holdings']/folder[@name='Integrations']"


def _client(wsdl_url: str) -> zeep.Client:
    return zeep.Client(wsdl_url, transport=Transport(timeout=30, operation_timeout=60))


def _operations(client: zeep.Client) -> dict[str, str]:
    """Operation name -> SOAP action of the client's first service port."""
    service = next(iter(client.wsdl.services.values()))
    port = next(iter(service.ports.values()))
    return {name: op.soapaction for name, op in port.binding._operations.items()}


@pytest.fixture(name="data_client")
def data_client_fixture(url: str, emulator: Any) -> zeep.Client:
    return _client(f"{url}/services/BIDataService?wsdl")


def _vendor_actions(name: str) -> dict[str, str]:
    root = parse_xml((VENDOR / name).read_bytes())
    return {
        op.get("name"): op.find(f"{{{SOAP12}}}operation").get("soapAction")
        for op in root.iter(f"{{{WSDL}}}operation")
        if op.find(f"{{{SOAP12}}}operation") is not None
    }


def _sequences(document: bytes) -> dict[str, list[str]]:
    """Complex type (or wrapper element) name -> its sequence's member names, from one XSD."""
    root = parse_xml(document)
    shapes: dict[str, list[str]] = {}
    for node in root:
        if node.tag in (f"{{{XS}}}complexType", f"{{{XS}}}element"):
            members = [e.get("name") for e in node.iter(f"{{{XS}}}element") if e is not node]
            shapes[f"{node.tag.rsplit('}', 1)[1]}:{node.get('name')}"] = members
    return shapes


def test_zeep_loads_both_wsdl_sets_with_the_real_operations(url: str, data_client: zeep.Client) -> None:
    ours = _operations(data_client)
    assert len(ours) == 7
    assert ours == _vendor_actions("BIDataService.wsdl")
    stream = _client(f"{url}/services/BIStreamingService?wsdl")
    assert _operations(stream) == _vendor_actions("BIStreamingService.wsdl")
    address = next(iter(next(iter(data_client.wsdl.services.values())).ports.values())).binding_options["address"]
    assert address == f"{url}/services/BIDataService"


@pytest.mark.parametrize(
    ("service", "xsd", "vendor_file"),
    [
        ("BIDataService", "xsd0", "BIDataService_xsd0.xsd"),
        ("BIDataService", "xsd2", "BIDataService_xsd2.xsd"),
        ("BIDataService", "xsd4", "BIDataService_xsd4.xsd"),
        ("BIStreamingService", "xsd0", "BIStreamingService_xsd0.xsd"),
    ],
)
def test_served_types_match_the_vendor_schemas(url: str, emulator: Any, service: str, xsd: str,
                                               vendor_file: str) -> None:  # fmt: skip
    served = requests.get(f"{url}/services/{service}?xsd={xsd}", timeout=30)
    assert served.status_code == 200
    assert _sequences(served.content) == _sequences((VENDOR / vendor_file).read_bytes())


def test_zeep_log_on_execute_retrieve_log_off(url: str, data_client: zeep.Client) -> None:
    context = data_client.service.LogOn(
        logOnRequest={
            "UserName": USERNAME,
            "Password": PASSWORD,
            "ClientAccessKey": CUSTOMER_API_KEY,
            "UserAccessKey": USER_ACCESS_KEY,
        }
    )
    assert context.Status == "Ok"
    assert context.Token

    reports = data_client.service.GetReportList(context=context)
    assert reports.Status == "Success"
    paths = [r.ReportPath for r in reports.Reports.Report]
    employees = next(p for p in paths if p.startswith(EMPLOYEES) and "Employees" in p)

    parameters = data_client.service.GetReportParameters(reportPath=employees, context=context)
    assert parameters.Status == "Success"

    executed = data_client.service.ExecuteReport(request={"ReportPath": employees}, context=context)
    assert executed.Status == "Success"
    assert executed.ReportKey

    stream = _client(str(executed.ReportRetrievalUri) + "?wsdl")
    for _ in range(10):
        reply = stream.service.RetrieveReport(_soapheaders={"ReportKey": executed.ReportKey})
        status = reply.header.Status
        if status != "Working":
            break
    assert status == "Completed"
    content: bytes = reply.body.ReportStream
    assert content.startswith(b"<?xml")  # Cognos XML without the US-DELIMITER header
    assert b"<dataset" in content

    logged_off = data_client.service.LogOff(context=context)
    assert logged_off.Status == "LoggedOff"
    refused = data_client.service.GetReportList(context=context)
    assert refused.Status == "Failed"


def test_zeep_csv_report_through_the_us_delimiter_header(url: str, data_client: zeep.Client, sandbox: Sandbox) -> None:
    context = data_client.service.LogOn(
        logOnRequest={
            "UserName": USERNAME,
            "Password": PASSWORD,
            "ClientAccessKey": CUSTOMER_API_KEY,
            "UserAccessKey": USER_ACCESS_KEY,
        }
    )
    reports = [r.ReportPath for r in data_client.service.GetReportList(context=context).Reports.Report]
    employees = next(p for p in reports if "Employees" in p)
    executed = data_client.service.ExecuteReport(request={"ReportPath": employees}, context=context)
    transport = Transport(timeout=30)
    transport.session.headers["US-DELIMITER"] = ","
    stream = zeep.Client(str(executed.ReportRetrievalUri) + "?wsdl", transport=transport)
    for _ in range(10):
        reply = stream.service.RetrieveReport(_soapheaders={"ReportKey": executed.ReportKey})
        if reply.header.Status == "Completed":
            break
    rows = list(csv.DictReader(io.StringIO(reply.body.ReportStream.decode("cp1252"))))
    assert len(rows) == len(list(sandbox.ctx.company.employees()))
    assert rows[0]["EmployeeID"]


def test_zeep_ping_and_log_on_with_token(data_client: zeep.Client) -> None:
    pong = data_client.service.Ping()
    assert pong.MachineName
    context = data_client.service.LogOn(
        logOnRequest={
            "UserName": USERNAME,
            "Password": PASSWORD,
            "ClientAccessKey": CUSTOMER_API_KEY,
            "UserAccessKey": USER_ACCESS_KEY,
        }
    )
    again = data_client.service.LogOnWithToken(
        logOnRequest={"Token": context.Token, "ClientAccessKey": CUSTOMER_API_KEY}
    )
    assert again.Status == "Ok"
    wrong = data_client.service.LogOnWithToken(logOnRequest={"Token": "nope", "ClientAccessKey": CUSTOMER_API_KEY})
    assert wrong.Status == "Failed"
    bad = data_client.service.LogOn(
        logOnRequest={"UserName": USERNAME, "Password": "wrong", "ClientAccessKey": CUSTOMER_API_KEY,
                      "UserAccessKey": USER_ACCESS_KEY}
    )  # fmt: skip
    assert bad.Status == "Failed"
