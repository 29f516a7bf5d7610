"""BI Publisher reports, the synchronous bulk path: ``ExternalReportWSSService`` ``runReport`` (SOAP 1.2) with the
report's absolute catalog path, its parameters and ``attributeFormat=csv``; the answer carries the output
base64-encoded in ``reportBytes``, read here as CSV rows. A fault (unknown report, bad parameter) is raised with
its code and reason; a Sender fault is never retried. ``bi_reports`` entries are offered as streams."""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import Iterator, Mapping, Sequence
from urllib.parse import urlparse

import requests
from lxml import etree

from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, Verdict
from xlr8_kit.oracle.bulk import BulkStream
from xlr8_kit.oracle.client import BulkJobError, FusionClient, raise_for_status
from xlr8_kit.soap import SOAP12, build_envelope, child_text, element, parse_envelope, request_headers
from xlr8_kit.soap.classify import fault_verdict

PUB_NS = "http://xmlns.oracle.com/oxp/service/PublicReportService"
SERVICE_PATH = "/xmlpserver/services/ExternalReportWSSService"


def _pub(name: str, *children: etree._Element | str) -> etree._Element:
    return element(f"{{{PUB_NS}}}{name}", *children)


def run_report_request(report_path: str, parameters: Mapping[str, str | Sequence[str]]) -> bytes:
    items: list[etree._Element] = []
    for name, value in parameters.items():
        values = [value] if isinstance(value, str) else list(value)
        items.append(_pub("item", _pub("name", name), _pub("values", *[_pub("item", v) for v in values])))
    request = _pub(
        "reportRequest",
        _pub("attributeFormat", "csv"),
        _pub("parameterNameValues", *items),
        _pub("reportAbsolutePath", report_path),
        _pub("sizeOfDataChunkDownload", "-1"),
    )
    return build_envelope(_pub("runReport", request, _pub("appParams")), version=SOAP12)


def classify(response: requests.Response) -> Verdict:
    """SOAP faults by their code (SOAP answers them with 500), everything else by the kit's rules."""
    return fault_verdict(response) or DEFAULT_CLASSIFIER.classify(response)


def run_report(
    client: FusionClient, report_path: str, parameters: Mapping[str, str | Sequence[str]] | None = None
) -> Iterator[dict[str, str]]:
    """The report's rows (its CSV output)."""
    url = f"{client.base_url}{SERVICE_PATH}"
    response = client.session.request(
        "POST",
        url,
        data=run_report_request(report_path, parameters or {}),
        headers=request_headers(SOAP12, "runReport"),
        classify=classify,
        authenticate=client.authenticator,
    )
    path = urlparse(url).path
    if b"Envelope" in response.content[:512]:
        message = parse_envelope(response.content, huge=True)
        message.raise_for_fault(status=response.status_code, path=path)
        raise_for_status(response, client.redactor, client.product)
        encoded = child_text(message.body, "runReportReturn", "reportBytes")
    else:
        raise_for_status(response, client.redactor, client.product)
        encoded = None
    if encoded is None:
        raise BulkJobError(f"{client.product}: runReport for {report_path!r} returned no reportBytes", path=path)
    try:
        text = base64.b64decode(encoded, validate=True).decode("utf-8-sig")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BulkJobError(f"{client.product}: runReport output for {report_path!r} is not CSV: {exc}") from None
    yield from csv.DictReader(io.StringIO(text, newline=""))


class BiReportStream(BulkStream):
    """Rows of one BI Publisher report (``bi_reports`` entry; ``name`` is the report's absolute path)."""

    def bulk_rows(self) -> Iterator[dict[str, str]]:
        return run_report(self.fusion_tap.client, self.spec.name, self.spec.parameters)
