"""A Bulk CSV page read as lists (``SalesforceStream._csv_builder``) gives the records the page's ``csv.DictReader``
rows gave before (the reference below is the earlier per-row code), odd rows included."""

from __future__ import annotations

import csv
import functools
import io
import operator
import typing as t
from types import SimpleNamespace

import msgspec
import pytest

from xlr8_tap_salesforce import discovery
from xlr8_tap_salesforce.client import _CSV_CONVERTERS, SalesforceStream, canonical_numbers

FIELD_TYPES = {
    "Id": "id",
    "IsDeleted": "boolean",
    "NumberOfEmployees": "int",
    "AnnualRevenue": "currency",
    "BillingStreet": "string",
    "BillingCity": "string",
    "BillingLatitude": "double",
    "BillingAddress": "address",
    "HQ__Latitude__s": "double",
    "HQ__Longitude__s": "double",
    "HQ__c": "location",
}
COMPOUNDS = {
    "BillingAddress": ("address", ("BillingStreet", "BillingCity", "BillingLatitude")),
    "HQ__c": ("location", ("HQ__Latitude__s", "HQ__Longitude__s")),
}
FIELDS = ["Id", "IsDeleted", "NumberOfEmployees", "AnnualRevenue", "BillingAddress", "BillingCity", "HQ__c", "Gone"]


def _stream() -> t.Any:
    fake = SimpleNamespace(info=SimpleNamespace(field_types=FIELD_TYPES, compounds=COMPOUNDS))
    fake._csv_plan = functools.partial(SalesforceStream._csv_plan, fake)
    return fake


def _reference(row: dict[str, str], fields: list[str]) -> dict[str, t.Any]:
    record: dict[t.Any, t.Any] = {name: raw or None for name, raw in row.items()}
    for name, sf_type in FIELD_TYPES.items():
        convert = _CSV_CONVERTERS.get(sf_type)
        if convert is not None and record.get(name) is not None:
            record[name] = convert(record[name])
    for compound, (kind, parts) in COMPOUNDS.items():
        if compound in fields:
            value = {discovery.compound_key(compound, kind, part): record.get(part) for part in parts}
            record[compound] = value if any(map(functools.partial(operator.is_not, None), value.values())) else None
    return {name: record.get(name) for name in fields}


PAGES = [
    "Id,IsDeleted,NumberOfEmployees,AnnualRevenue,BillingStreet,BillingCity,BillingLatitude,HQ__Latitude__s,"
    "HQ__Longitude__s\n"
    '001,false,12,1250.500000,"1 Main St, Unit 2",London,51.507350900000000,51.5,-0.12\n'
    "002,true,,,,,,,\n"
    "\n"  # a blank line: no record
    "003,FALSE,7\n"  # short: the rest is null
    "004,true,1,2.0,s,c,1.5,0.0,0.0,extra,cells\n",  # long: the extra cells are ignored
    "Id,BillingCity,BillingCity,IsDeleted\n001,first,second,true\n",  # a repeated column: the last one counts
    "Id,IsDeleted\n",  # a header and no rows
]


@pytest.mark.parametrize("page", PAGES)
def test_rows_as_lists_give_the_dictreader_records(page: str) -> None:
    expected = [_reference(row, FIELDS) for row in csv.DictReader(io.StringIO(page))]
    reader = csv.DictReader(io.StringIO(page))
    build = SalesforceStream._csv_builder(_stream(), list(reader.fieldnames or []), FIELDS)
    found = [build(row) for row in reader.reader if row]
    assert repr(found) == repr(expected)


@pytest.mark.parametrize("page", PAGES)
def test_rows_with_written_numbers_give_the_lines_of_the_decimal_records(page: str) -> None:
    """Fractional cells as ``canonical_numbers`` gives them (records only the writer reads) write the same text."""
    reader = csv.DictReader(io.StringIO(page))
    header = list(reader.fieldnames or [])
    rows = [row for row in reader.reader if row]
    decimals = SalesforceStream._csv_builder(_stream(), header, FIELDS)
    written = SalesforceStream._csv_builder(_stream(), header, FIELDS, canonical_numbers())
    encode = msgspec.json.Encoder(decimal_format="number").encode
    assert [encode(written(row)) for row in rows] == [encode(decimals(row)) for row in rows]
