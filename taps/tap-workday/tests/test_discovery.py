"""RaaS XSD -> JSON schema and value conversion, on a schema written the way Workday writes them (annotations,
inline and named complex types, reference types with ``wd:Descriptor``, nested subgroups)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xlr8_kit.soap import SoapParseError
from xlr8_tap_workday.discovery import ReportSchemaError, converter, parse_report_xsd

XSD = b"""<?xml version="1.0" encoding="UTF-8"?>
<xsd:schema elementFormDefault="qualified" attributeFormDefault="qualified"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:wd="urn:com.workday.report/CR_Headcount"
    targetNamespace="urn:com.workday.report/CR_Headcount">
  <xsd:attribute name="Descriptor" type="xsd:string"/>
  <xsd:complexType name="IDType"><xsd:simpleContent><xsd:extension base="xsd:string">
    <xsd:attribute name="type" type="xsd:string"/></xsd:extension></xsd:simpleContent></xsd:complexType>
  <xsd:complexType name="Position_ReferenceType"><xsd:sequence>
    <xsd:element name="ID" type="wd:IDType" minOccurs="0" maxOccurs="unbounded"/></xsd:sequence>
    <xsd:attribute ref="wd:Descriptor"/></xsd:complexType>
  <xsd:complexType name="Dependents_groupType"><xsd:sequence>
    <xsd:element name="Dependent_Name" type="xsd:string" minOccurs="0"/>
    <xsd:element name="Birth_Date" type="xsd:date" minOccurs="0"/>
    <xsd:element name="Benefits_group" minOccurs="0" maxOccurs="unbounded">
      <xsd:complexType><xsd:sequence>
        <xsd:element name="Plan" type="xsd:string" minOccurs="0"/>
        <xsd:element name="Coverage" type="xsd:decimal" minOccurs="0"/>
      </xsd:sequence></xsd:complexType>
    </xsd:element>
  </xsd:sequence></xsd:complexType>
  <xsd:element name="Report_Data"><xsd:complexType><xsd:sequence>
    <xsd:element name="Report_Entry" minOccurs="0" maxOccurs="unbounded">
      <xsd:annotation><xsd:documentation>One row</xsd:documentation></xsd:annotation>
      <xsd:complexType><xsd:sequence>
        <xsd:element name="Employee_ID" type="xsd:string" minOccurs="0"/>
        <xsd:element name="Position" type="wd:Position_ReferenceType" minOccurs="0"/>
        <xsd:element name="FTE" type="xsd:decimal" minOccurs="0"/>
        <xsd:element name="Headcount" type="xsd:int" minOccurs="0"/>
        <xsd:element name="Is_Manager" type="xsd:boolean" minOccurs="0"/>
        <xsd:element name="Hired" type="xsd:date" minOccurs="0"/>
        <xsd:element name="Dependents_group" type="wd:Dependents_groupType" minOccurs="0" maxOccurs="unbounded"/>
      </xsd:sequence></xsd:complexType>
    </xsd:element>
  </xsd:sequence></xsd:complexType></xsd:element>
</xsd:schema>"""


def test_nested_groups_become_arrays_of_objects_with_xsd_types() -> None:
    schema = parse_report_xsd(XSD, "CR_Headcount").schema
    props = schema["properties"]
    assert list(props) == ["Employee_ID", "Position", "FTE", "Headcount", "Is_Manager", "Hired", "Dependents_group"]
    assert props["Position"] == {"type": ["string", "null"]}
    assert props["FTE"]["type"] == ["number", "null"]
    assert props["Headcount"]["type"] == ["integer", "null"]
    dependents = props["Dependents_group"]
    assert dependents["type"] == ["array", "null"]
    inner = dependents["items"]["properties"]
    assert list(inner) == ["Dependent_Name", "Birth_Date", "Benefits_group"]
    assert inner["Benefits_group"]["items"]["properties"]["Coverage"]["type"] == ["number", "null"]


def test_values_rendered_as_strings_are_typed_by_the_schema() -> None:
    convert = converter(parse_report_xsd(XSD, "CR_Headcount").schema)
    row = convert({
        "Employee_ID": "21001", "Position": "P-00042 Senior Engineer", "FTE": "0.5", "Headcount": "1",
        "Is_Manager": "0", "Hired": "2019-03-01-08:00",
        "Dependents_group": {"Dependent_Name": "Ana", "Benefits_group": [{"Plan": "Dental", "Coverage": "1000.00"}]},
    })  # fmt: skip
    assert row["FTE"] == Decimal("0.5")
    assert row["Headcount"] == 1
    assert row["Is_Manager"] is False
    assert row["Hired"] == "2019-03-01"
    benefits = [{"Plan": "Dental", "Coverage": Decimal("1000.00")}]
    assert row["Dependents_group"] == [{"Dependent_Name": "Ana", "Benefits_group": benefits}]  # one entry -> a list
    with pytest.raises(ValueError, match="not a boolean"):
        convert({"Is_Manager": "maybe"})


def test_not_a_report_schema_is_refused() -> None:
    with pytest.raises(ReportSchemaError, match="no Report_Entry"):
        parse_report_xsd(b'<xsd:schema xmlns:xsd="http://www.w3.org/2001/XMLSchema"/>', "X")
    with pytest.raises(ReportSchemaError, match="not return an XML schema"):
        parse_report_xsd(b"<html/>", "X")
    with pytest.raises(SoapParseError, match="DOCTYPE"):
        parse_report_xsd(b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "X")
