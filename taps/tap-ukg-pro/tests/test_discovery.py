"""Report decoding and column typing on hand-made documents (no server): what is inferred, what stays a string,
what a misfit says."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from xlr8_tap_ukg_pro.discovery import (
    ReportDataError,
    coerce,
    infer_types,
    parse_report,
    pick_primary_keys,
    report_name_from_path,
    stream_name_for,
)

CSV = (
    "EmployeeNumber,Name,Hours,Amount,Count,HireDate,Changed,Active,Note\r\n"
    "000042,Zo\xeb M\xfcller,80,1200,3,1/15/2020,2026-01-05T09:00:00,True,Director\x92s pick\r\n"
    "000043,Jos\xe9,7.5,99.95,4,12/1/2019,2026-01-06T10:30:00,False,\r\n"
).encode("latin-1")


def test_csv_windows_1252_and_types() -> None:
    table = parse_report(CSV)
    assert table.types == {
        "EmployeeNumber": "string",  # identifier-like and zero-padded
        "Name": "string",
        "Hours": "number",
        "Amount": "number",  # a measure stays a decimal even when this run's values are whole
        "Count": "integer",
        "HireDate": "date",
        "Changed": "date-time",
        "Active": "boolean",
        "Note": "string",
    }
    first, second = table.rows
    assert first["Name"] == "Zoë Müller"
    assert first["Note"] == "Director\u2019s pick"
    assert second["Note"] is None
    assert coerce(first["HireDate"], "date", "HireDate") == "2020-01-15"
    assert coerce(second["Amount"], "number", "Amount") == Decimal("99.95")
    assert coerce(first["Active"], "boolean", "Active") is True
    assert coerce(first["Changed"], "date-time", "Changed") == "2026-01-05T09:00:00+00:00"
    assert coerce(first["Changed"], "date-time", "Changed", zone=ZoneInfo("America/New_York")) == (
        "2026-01-05T09:00:00-05:00"
    )
    assert pick_primary_keys(table) == ["EmployeeNumber"]


def test_mixed_column_stays_string_and_misfit_names_the_column() -> None:
    rows = [{"Score": "12"}, {"Score": "N/A"}]
    assert infer_types(["Score"], rows) == {"Score": "string"}
    with pytest.raises(ReportDataError, match=r"'Score'.*not a integer"):
        coerce("N/A", "integer", "Score")


def test_xml_dataset_types_come_from_metadata() -> None:
    doc = b"""<?xml version="1.0" encoding="utf-8"?>
    <dataset xmlns="http://developer.cognos.com/schemas/xmldata/1/" xmlns:xs="http://www.w3.org/2001/XMLSchema">
    <metadata><item name="Code" type="xs:string"/><item name="Rate" type="xs:decimal"/>
    <item name="Day" type="xs:date"/><item name="N" type="xs:int"/></metadata>
    <data><row><value>007</value><value>1.50</value><value>2026-01-05</value><value xs:nil="true"/></row></data>
    </dataset>"""
    table = parse_report(doc)
    assert table.typed_by_vendor
    assert table.types == {"Code": "string", "Rate": "number", "Day": "date", "N": "integer"}
    assert table.rows == [{"Code": "007", "Rate": "1.50", "Day": "2026-01-05", "N": None}]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"A,B\r\n1,2,3\r\n", "line 2 has 3 fields"),
        (b"A,A\r\n1,2\r\n", "duplicate column name"),
        (b"A,\r\n1,2\r\n", "empty column name"),
        (b"<html/>", "not a Cognos dataset"),
    ],
)
def test_malformed_reports_are_refused(content: bytes, reason: str) -> None:
    with pytest.raises(ReportDataError, match=reason):
        parse_report(content)


def test_undecodable_bytes_name_the_encoding_setting() -> None:
    with pytest.raises(ReportDataError, match="raas_csv_encoding"):
        parse_report(b"A\r\n\x81\r\n")  # 0x81 is undefined in Windows-1252


def test_names() -> None:
    path = "/content/folder[@name='zzzCompany Folders']/report[@name='Payroll \u2013 Earnings (YTD)']"
    assert report_name_from_path(path) == "Payroll \u2013 Earnings (YTD)"
    assert stream_name_for("Payroll \u2013 Earnings (YTD)") == "raas_payroll_earnings_ytd"
