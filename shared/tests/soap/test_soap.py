"""SOAP envelopes, addressing, WS-Security and faults: what UKG RaaS and Workday send and answer."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from xlr8_kit.soap import (
    SOAP11,
    SOAP12,
    WSA_NS,
    WSSE_NS,
    SoapFaultError,
    SoapParseError,
    build_envelope,
    child_text,
    children,
    element,
    nil,
    parse_envelope,
    parse_xml,
    request_headers,
    username_token,
)

BIDATA = "http://www.ultipro.com/dataservices/bidata/2"
FIXTURES = Path(__file__).resolve().parents[3] / ".." / "shared" / "fixtures" / "vendor-metadata" / "ukg_raas"


def test_soap12_envelope_round_trip_with_addressing() -> None:
    body = element(f"{{{BIDATA}}}LogOn", element(f"{{{BIDATA}}}logOnRequest", element(f"{{{BIDATA}}}UserName", "Zoë")))
    action = f"{BIDATA}/IBIDataService/LogOn"
    payload = build_envelope(body, version=SOAP12, action=action, to="https://h/services/BIDataService")
    root = etree.fromstring(payload)
    assert root.tag == f"{{{SOAP12.namespace}}}Envelope"
    header = root.find(f"{{{SOAP12.namespace}}}Header")
    assert header is not None
    assert header.find(f"{{{WSA_NS}}}Action").get(f"{{{SOAP12.namespace}}}mustUnderstand") == "1"
    message = parse_envelope(payload)
    assert message.version is SOAP12
    assert message.action == action
    assert message.header_text(f"{{{WSA_NS}}}To") == "https://h/services/BIDataService"
    assert message.fault is None
    assert child_text(message.body, "logOnRequest", "UserName") == "Zoë"


def test_soap11_envelope_without_headers_and_http_headers() -> None:
    payload = build_envelope(element("{urn:x}Ping"), version=SOAP11)
    root = etree.fromstring(payload)
    assert [etree.QName(c).localname for c in root] == ["Body"]
    assert request_headers(SOAP11, "urn:x/Ping") == {
        "Content-Type": "text/xml; charset=utf-8",
        "SOAPAction": '"urn:x/Ping"',
        "Accept": "text/xml",
    }
    assert request_headers(SOAP12, "urn:x/Ping")["Content-Type"] == (
        'application/soap+xml; charset=utf-8; action="urn:x/Ping"'
    )


def test_soap12_fault_with_subcodes_is_parsed_and_raised() -> None:
    doc = f"""<s:Envelope xmlns:s="{SOAP12.namespace}"><s:Body><s:Fault>
      <s:Code><s:Value>s:Sender</s:Value><s:Subcode><s:Value>a:DestinationUnreachable</s:Value></s:Subcode></s:Code>
      <s:Reason><s:Text xml:lang="de">Ziel</s:Text><s:Text xml:lang="en-US">No endpoint matched</s:Text></s:Reason>
      <s:Detail><x>bad <y>thing</y></x></s:Detail></s:Fault></s:Body></s:Envelope>""".encode()
    message = parse_envelope(doc)
    fault = message.fault
    assert fault is not None
    assert (fault.code, fault.subcodes, fault.reason) == ("Sender", ("DestinationUnreachable",), "No endpoint matched")
    assert fault.detail == "bad thing"
    assert fault.is_client_fault
    with pytest.raises(SoapFaultError, match="Sender:DestinationUnreachable: No endpoint matched") as info:
        message.raise_for_fault(status=500, path="/services/BIDataService")
    assert info.value.status == 500


def test_soap11_server_fault_is_not_a_client_fault() -> None:
    doc = f"""<soapenv:Envelope xmlns:soapenv="{SOAP11.namespace}"><soapenv:Body><soapenv:Fault>
      <faultcode>soapenv:Server</faultcode><faultstring>Processing error</faultstring>
      <detail><wd:Validation_Fault xmlns:wd="urn:com.workday/bsvc">Invalid ID</wd:Validation_Fault></detail>
      </soapenv:Fault></soapenv:Body></soapenv:Envelope>""".encode()
    fault = parse_envelope(doc).fault
    assert fault is not None
    assert (fault.code, fault.reason, fault.detail) == ("Server", "Processing error", "Invalid ID")
    assert not fault.is_client_fault


def test_xxe_and_dtd_are_refused() -> None:
    evil = b"""<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>
      <s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&e;</x></s:Body></s:Envelope>"""
    with pytest.raises(SoapParseError, match="DOCTYPE"):
        parse_envelope(evil)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"<html><body>Service unavailable</body></html>", "not a SOAP envelope"),
        (b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'><s:Bo", "not well-formed"),
        (b"<s:Envelope xmlns:s='http://www.w3.org/2003/05/soap-envelope'/>", "without a Body"),
    ],
)
def test_non_envelopes_raise_parse_errors(content: bytes, reason: str) -> None:
    with pytest.raises(SoapParseError, match=reason):
        parse_envelope(content)


def test_nil_and_children_helpers() -> None:
    node = element("{urn:x}Ctx", nil("{urn:x}Token"), element("{urn:x}Status", "Ok"), element("{urn:x}Status", "Z"))
    assert child_text(node, "Token") is None
    assert child_text(node, "Status") == "Ok"
    assert [c.text for c in children(node, "Status")] == ["Ok", "Z"]
    assert child_text(node, "Missing", "Deeper") is None


def test_username_token_digest_matches_the_profile_formula() -> None:
    nonce = b"0123456789abcdef"
    created = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    header = username_token("isu@acme", "s3cret", digest=True, created=created, nonce=nonce)
    expected = base64.b64encode(hashlib.sha1(nonce + b"2026-01-05T09:00:00Z" + b"s3cret").digest()).decode()
    password = header.find(f".//{{{WSSE_NS}}}Password")
    assert password is not None
    assert password.text == expected
    assert "s3cret" not in etree.tostring(header).decode()
    plain = username_token("isu@acme", "s3cret")
    assert plain.find(f".//{{{WSSE_NS}}}Password").text == "s3cret"


def test_real_raas_wsdls_parse_and_name_the_operations() -> None:
    """The vendor's own WSDLs (read-only fixtures) go through the safe parser."""
    wsdl = parse_xml((FIXTURES / "BIDataService.wsdl").read_bytes())
    ns = {"w": "http://schemas.xmlsoap.org/wsdl/", "soap12": "http://schemas.xmlsoap.org/wsdl/soap12/"}
    actions = {
        op.get("name"): op.find("soap12:operation", ns).get("soapAction")
        for op in wsdl.findall("w:binding/w:operation", ns)
    }
    assert actions["LogOn"] == f"{BIDATA}/IBIDataService/LogOn"
    assert {"LogOn", "LogOff", "ExecuteReport", "GetReportList", "GetReportParameters"} <= set(actions)
    streaming = parse_xml((FIXTURES / "BIStreamingService.wsdl").read_bytes())
    assert streaming.find(".//soap12:operation", ns).get("soapAction") == (
        "http://www.ultipro.com/dataservices/bistream/2/IBIStreamService/RetrieveReport"
    )
