"""The Workday RaaS emulator's XSD and its JSON agree the way a real tenant's do: ``?xsds`` is the schema of the
report's Workday XML rendering (an XML Schema processor validates the XML against it), and the JSON rendering of
the same report carries, per column, the XML element's text or, for a reference, its ``wd:Descriptor``. The XSD is
also a valid XML Schema document on its own (lxml's XMLSchema compiles it). Evidence for the shapes: the emulator
module's docstring (``xlr8_sandbox.products.workday.raas``).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests
from lxml import etree

from xlr8_kit.xmlsafe import parse_xml
from xlr8_sandbox.products.workday import ISU_PASSWORD, ISU_USER, REPORT_OWNER, TENANT
from xlr8_sandbox.testing import emulator_fixtures

sandbox, emulator, url = emulator_fixtures("workday", scale=60)


def _reports(emulator: Any) -> list[str]:
    return sorted(emulator.raas.reports)


def _get(url: str, report: str, **params: str) -> requests.Response:
    reply = requests.get(
        f"{url}/ccx/service/customreport2/{TENANT}/{REPORT_OWNER}/{report}",
        params=params,
        auth=(ISU_USER, ISU_PASSWORD),
        timeout=60,
    )
    assert reply.status_code == 200, reply.text
    return reply


def _json_view(node: etree._Element, xsd_types: dict[str, str]) -> Any:
    """What the JSON rendering must hold for one XML element, by its XSD type."""
    descriptor = node.get(f"{{{etree.QName(node).namespace}}}Descriptor")
    if descriptor is not None:
        return descriptor
    children = [c for c in node if isinstance(c.tag, str)]
    if children and etree.QName(children[0]).localname != "ID":
        return _entry_view(node, xsd_types)
    return node.text or ""


def _entry_view(entry: etree._Element, xsd_types: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for child in entry:
        name = etree.QName(child).localname
        value = _json_view(child, xsd_types)
        if xsd_types.get(name, "").endswith("_groupType") or name.endswith("_group"):
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


@pytest.mark.parametrize("report_index", [0, 1, 2])
def test_xml_rendering_validates_against_the_xsd_and_json_carries_the_same_values(
    url: str, emulator: Any, report_index: int
) -> None:
    report = _reports(emulator)[report_index]
    xsd_document = parse_xml(_get(url, report, xsds="").content)
    schema = etree.XMLSchema(xsd_document)
    xml = parse_xml(_get(url, report).content)
    schema.assertValid(xml)
    entries = list(xml)
    assert entries, f"report {report} rendered no entries"

    element_types = {e.get("name"): e.get("type") or "" for e in xsd_document.iter("{*}element")}
    json_entries = _get(url, report, format="json").json()["Report_Entry"]
    assert len(json_entries) == len(entries)
    for xml_entry, json_entry in zip(entries, json_entries, strict=True):
        assert json_entry == _entry_view(xml_entry, element_types)


def test_reference_columns_are_descriptor_strings_in_json_and_typed_references_in_the_xsd(
    url: str, emulator: Any
) -> None:
    report = _reports(emulator)[0]
    xsd_document = parse_xml(_get(url, report, xsds="").content)
    references = {
        t.get("name")
        for t in xsd_document.iter("{http://www.w3.org/2001/XMLSchema}complexType")
        if any(a.get("ref", "").endswith("Descriptor") for a in t.iter("{http://www.w3.org/2001/XMLSchema}attribute"))
    }
    assert references
    columns = [
        e.get("name")
        for e in xsd_document.iter("{http://www.w3.org/2001/XMLSchema}element")
        if (e.get("type") or "").split(":")[-1] in references
    ]
    entry = _get(url, report, format="json").json()["Report_Entry"][0]
    present = [c for c in columns if c in entry]
    assert present
    assert all(isinstance(entry[c], str) for c in present)
