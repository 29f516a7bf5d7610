"""A resource without flatten rules (``invoices``) shapes no row of a page whose body holds no array besides its
``items`` (``holds_inner_arrays``): the rows are written as they were parsed, pages whole. A body with a list-valued
attribute, or a ``[`` inside a string, has its rows shaped as ever (the list deleted)."""

from __future__ import annotations

import json
import typing as t

import pytest

from xlr8_kit.http.classify import keep_parsed
from xlr8_kit.oracle.protocol import holds_inner_arrays
from xlr8_kit.oracle.stream import FusionStream
from xlr8_kit.rest import MarkedPage
from xlr8_kit.testing.page_loop import count_whole_pages
from xlr8_sandbox.products.oracle_fusion.erp import OracleErpEmulator
from xlr8_tap_oracle_erp.tap import TapOracleErp

from .conftest import erp_config, run_tap

ROW = {"InvoiceId": 1, "InvoiceNumber": "I-1", "InvoiceAmount": 10.5, "LastUpdateDate": "2024-01-01T00:00:00+00:00"}


class Answer:
    """What ``parse_response`` reads of a response: its body and the body parsed once."""

    def __init__(self, payload: dict[str, t.Any]) -> None:
        self.content = json.dumps(payload).encode()
        keep_parsed(t.cast("t.Any", self), json.loads(self.content))


def shaped_rows(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, t.Any]]:
    """The rows the parent-row step is called on, from now on."""
    seen: list[dict[str, t.Any]] = []
    shaper: t.Any = FusionStream.__dict__["_shape_row"]  # the cached_property

    def counting(stream: FusionStream) -> t.Callable[[dict[str, t.Any]], None]:
        shape = shaper.func(stream)

        def spy(row: dict[str, t.Any]) -> None:
            seen.append(dict(row))
            shape(row)

        return spy

    monkeypatch.setattr(FusionStream, "_shape_row", property(counting))
    return seen


def test_a_body_with_one_bracket_holds_no_inner_array() -> None:
    assert not holds_inner_arrays(b'{"items":[{"a":1,"b":{"c":"x"}}],"hasMore":false}')
    assert holds_inner_arrays(b'{"items":[{"a":[1]}],"hasMore":false}')
    assert holds_inner_arrays(b'{"items":[{"a":"[not a list]"}],"hasMore":false}')
    assert holds_inner_arrays(b'{"a":1}')  # no items at all: the rows are shaped as ever


def test_rows_of_a_body_without_inner_arrays_are_taken_as_parsed_and_a_list_still_goes(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = shaped_rows(monkeypatch)
    tap = TapOracleErp(config=erp_config(url, resources=["invoices"]), parse_env_config=False)
    stream = t.cast("FusionStream", tap.streams["invoices"])
    assert not stream.plan.flatten
    rows = [dict(ROW), {**ROW, "InvoiceId": 2, "Supplier": None}]
    page = stream.parse_response(t.cast("t.Any", Answer({"items": rows, "hasMore": False})))
    assert type(page) is MarkedPage
    assert (list(page), page.conformed, page.plain) == (rows, True, True)
    assert seen == []
    # the record the short way must refuse: a list-valued attribute in the second row is deleted as before
    listed = [dict(ROW), {**ROW, "InvoiceId": 2, "lines": [{"LineNumber": 1}]}]
    page = stream.parse_response(t.cast("t.Any", Answer({"items": listed, "hasMore": False})))
    assert list(page) == [ROW, {**ROW, "InvoiceId": 2}]
    assert [row["InvoiceId"] for row in seen] == [1, 2]
    seen.clear()
    bracket = [{**ROW, "InvoiceNumber": "I-[1]"}]
    page = stream.parse_response(t.cast("t.Any", Answer({"items": bracket, "hasMore": False})))
    assert list(page) == [{**ROW, "InvoiceNumber": "I-[1]"}]
    assert len(seen) == 1


@pytest.mark.parametrize("width", [1, 4])
def test_invoices_are_read_without_shaping_a_row_and_written_page_by_page(
    width: int, url: str, emulator: OracleErpEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every invoice the emulator holds lands, each page reaches the writer whole, no row goes through the
    parent-row step."""
    seen = shaped_rows(monkeypatch)
    whole = count_whole_pages(monkeypatch, sdk_loop=False)
    out = run_tap(erp_config(url, resources=["invoices"], max_concurrent_requests=width), streams={"invoices"})
    records = out.records("invoices")
    expected = {invoice.invoice_number for invoice in emulator.company.invoices()}
    assert len(records) == len(expected) > 40
    assert {r["InvoiceNumber"] for r in records} == expected
    assert 0 not in whole
    assert sum(whole) == len(records)
    assert seen == []
