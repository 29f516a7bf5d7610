"""A RaaS report's records are vouched conformed a block at a time only when the SDK's conformance would leave
every record of the block as it is: what the record loop writes (the record itself while ``Conformer.vouched``,
else its conformed copy) is always the SDK's conformance of it, and no mark outlives the report."""

from __future__ import annotations

import json
import logging
import typing as t

import requests
from singer_sdk.helpers._typing import conform_record_data_types

from .conftest import RecordingTap, base_config, report_url


def _entry(number: int, salary: str) -> dict[str, t.Any]:
    return {
        "Employee_ID": f"E{number:06d}",
        "Worker": "A B",
        "Hire_Date": "2024-06-15",
        "Annual_Salary": salary,
        "Full_Time": "1" if number % 2 else "0",
        "Last_Updated": "2024-09-19T14:50:37.000+00:00",
        "Organizations_group": [{"Organization_Type": "Company", "Organization_Code": "C200"}] * (number % 3),
    }


def _response(entries: list[dict[str, t.Any]], url: str) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response.url = url
    response._content = json.dumps({"Report_Entry": entries}).encode()
    return response


def test_only_blocks_the_sdk_keeps_are_vouched_and_the_mark_is_cleared(url: str) -> None:
    report = {"name": "worker_report", "url": report_url(url, "XLR8_Workers"), "primary_keys": ["Employee_ID"]}
    tap = RecordingTap(config=base_config(url, streams=[], reports=[report]), parse_env_config=False)
    stream = tap.streams["worker_report"]
    # the marks are set while the loop takes the records: pages parsed ahead on another thread would set them there
    assert not stream.read_ahead_pages
    conformer = stream._conformer
    sdk_args = (stream.schema, stream.TYPE_CONFORMANCE_LEVEL, logging.getLogger("x"))
    # two runs of items decoded by one call each (a body larger than the batch minimum); "NaN" becomes a Decimal
    # NaN, which the SDK writes as null: that block must not be vouched for
    usual = [_entry(n, f"{n}.50") for n in range(60)]
    odd = [*usual[:30], _entry(99, "NaN"), *usual[30:]]
    for entries, vouched_somewhere, unvouched_somewhere in ((usual, True, False), (odd, False, True)):
        marks: list[bool] = []
        written: list[str] = []
        expected: list[str] = []
        for record in stream.parse_response(_response(entries, report["url"])):
            marks.append(conformer.vouched)
            written.append(repr(record if conformer.vouched else conformer.marked(record)[0]))
            expected.append(repr(conform_record_data_types("worker_report", dict(record), *sdk_args)))
        assert written == expected
        assert len(marks) == len(entries)
        assert any(marks) is vouched_somewhere
        assert (not all(marks)) is unvouched_somewhere
        assert not conformer.vouched
    assert "'Annual_Salary': None" in "".join(written)
