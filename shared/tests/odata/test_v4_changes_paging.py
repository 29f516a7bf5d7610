"""Kit OData additions for S/4HANA: v4 literals, change-timestamp keys, v4 values, and paging that refuses to loop."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from xlr8_kit.odata import ODataPagingError, change_key, compare, decode_value, iter_pages, literal
from xlr8_kit.odata.edmx import EdmProperty, EntityType


def response(body: dict[str, Any], url: str = "https://s4.example.com/svc/Set") -> requests.Response:
    answer = requests.Response()
    answer.status_code = 200
    answer._content = json.dumps(body).encode()
    answer.headers["Content-Type"] = "application/json"
    answer.url = url
    return answer


def entity(*props: EdmProperty) -> EntityType:
    return EntityType("ns", "T", ("Id",), {p.name: p for p in (EdmProperty("Id", "Edm.String"), *props)}, {})


def test_v4_literals_have_no_prefixes() -> None:
    moment = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    assert literal(moment, "Edm.DateTimeOffset", version=4) == "2026-01-05T09:00:00Z"
    assert literal("2026-01-05T09:00:00Z", "Edm.Date", version=4) == "2026-01-05"
    assert literal(Decimal("12.50"), "Edm.Decimal", version=4) == "12.50"
    assert literal(7, "Edm.Int64", version=4) == "7"
    assert literal("O'Brien", version=4) == "'O''Brien'"
    assert str(compare("LastChangeDateTime", "ge", moment, "Edm.DateTimeOffset")) == (
        "LastChangeDateTime ge datetimeoffset'2026-01-05T09:00:00Z'"
    )


def test_change_keys_in_order_of_preference() -> None:
    day = EdmProperty("LastChangeDate", "Edm.DateTime", sap={"display-format": "Date"})
    stamp = EdmProperty("LastChangeDateTime", "Edm.DateTimeOffset")
    created = EdmProperty("CreationDate", "Edm.DateTime", sap={"display-format": "Date"})
    unfilterable = EdmProperty("ChangedOn", "Edm.DateTime", sap={"filterable": "false"})
    assert change_key(entity(day, stamp, created)).name == "LastChangeDateTime"  # type: ignore[union-attr]
    assert change_key(entity(created, day)).name == "LastChangeDate"  # type: ignore[union-attr]
    assert change_key(entity(unfilterable, created)) is None  # a creation stamp misses changes: read in full
    assert change_key(entity(unfilterable)) is None
    v4_day = change_key(entity(EdmProperty("ChangedOn", "Edm.Date")))
    assert v4_day is not None
    assert str(v4_day.since("2026-01-05T10:00:00Z", version=4)) == "ChangedOn ge 2026-01-05"


def test_v4_values_decode_exactly() -> None:
    assert decode_value(EdmProperty("D", "Edm.Date"), "2026-01-05") == "2026-01-05"
    assert decode_value(EdmProperty("T", "Edm.TimeOfDay"), "09:30:05") == "09:30:05"
    assert decode_value(EdmProperty("A", "Edm.Decimal", scale=3), Decimal("0.100")) == Decimal("0.100")
    assert decode_value(EdmProperty("S", "Edm.DateTimeOffset"), "2026-01-05T09:00:00.1234567Z").startswith(
        "2026-01-05T09:00:00.123"
    )


def pager(pages: list[dict[str, Any]]) -> tuple[list[tuple[str, Mapping[str, Any] | None]], Any]:
    asked: list[tuple[str, Mapping[str, Any] | None]] = []

    def fetch(url: str, params: Mapping[str, Any] | None) -> requests.Response:
        asked.append((url, params))
        return response(pages[len(asked) - 1], url)

    return asked, fetch


def test_client_windows_with_server_links_inside() -> None:
    pages = [
        {"d": {"results": [{"Id": "1"}, {"Id": "2"}], "__count": "5", "__next": "Set?$skiptoken=2"}},
        {"d": {"results": [{"Id": "3"}]}},
        {"d": {"results": [{"Id": "4"}, {"Id": "5"}]}},
    ]
    asked, fetch = pager(pages)
    rows = [r["Id"] for page in iter_pages(fetch, "https://s4.example.com/svc/Set", {}, page_size=3) for r in page]
    assert rows == ["1", "2", "3", "4", "5"]
    assert asked[0][1] == {"$top": "3", "$inlinecount": "allpages"}
    assert asked[1] == ("https://s4.example.com/svc/Set?$skiptoken=2", None)  # relative link resolved
    assert asked[2][1] == {"$top": "3", "$skip": "3"}
    assert len(asked) == 3  # the short second window is the end


def test_v4_numbers_are_decimals_and_count_is_asked() -> None:
    asked, fetch = pager([{"value": [{"Id": "1", "Amount": 0.1}], "@odata.count": 1}])
    pages = list(iter_pages(fetch, "https://s4.example.com/svc/Set", {}, page_size=10, version=4))
    assert pages == [[{"Id": "1", "Amount": Decimal("0.1")}]]
    assert asked[0][1] == {"$top": "10", "$count": "true"}


def test_a_repeated_next_link_stops_the_read() -> None:
    page = {"value": [{"Id": "1"}], "@odata.nextLink": "Set?$skiptoken=X"}
    asked, fetch = pager([page, page, page, page])
    with pytest.raises(ODataPagingError, match="same next link twice"):
        list(iter_pages(fetch, "https://s4.example.com/svc/Set", {}, page_size=None, version=4))
    assert len(asked) == 2


def test_an_ignored_skip_stops_the_read() -> None:
    full = {"d": {"results": [{"Id": "1"}, {"Id": "2"}]}}
    asked, fetch = pager([full, full, full])
    with pytest.raises(ODataPagingError, match=r"\$skip=2"):
        list(iter_pages(fetch, "https://s4.example.com/svc/Set", {}, page_size=2))
    assert len(asked) == 2


def test_a_server_ignoring_top_is_read_once_through_its_links() -> None:
    pages = [
        {"d": {"results": [{"Id": "1"}, {"Id": "2"}, {"Id": "3"}], "__next": "Set?$skiptoken=3"}},
        {"d": {"results": [{"Id": "4"}, {"Id": "5"}]}},
    ]
    asked, fetch = pager(pages)
    rows = [r["Id"] for page in iter_pages(fetch, "https://s4.example.com/svc/Set", {}, page_size=2) for r in page]
    assert rows == ["1", "2", "3", "4", "5"]
    assert len(asked) == 2  # no second window: it would read rows 3-5 again


def test_rows_created_while_paging_move_the_end_past_the_first_total() -> None:
    pages = [
        {"d": {"results": [{"Id": "1"}, {"Id": "2"}], "__count": "4"}},
        {"d": {"results": [{"Id": "2"}, {"Id": "3"}]}},  # one row created ahead: row 2 shifts into this window
        {"d": {"results": [{"Id": "4"}, {"Id": "5"}]}},
        {"d": {"results": []}},
    ]
    asked, fetch = pager(pages)
    rows = [r["Id"] for page in iter_pages(fetch, "https://s4.example.com/svc/Set", {}, page_size=2) for r in page]
    assert set(rows) == {"1", "2", "3", "4", "5"}  # a row may come twice, none is lost
    assert len(asked) == 4


def test_a_full_change_stamp_is_paired_with_a_creation_day() -> None:
    """s4aud28 F4: ``A_PurchaseOrder`` has ``LastChangeDateTime`` but only the day ``CreationDate``; an order whose
    stamp stays initial after creation is read by its creation day, from the bookmark's UTC day less one (the day
    is in the system's calendar), and the day never stands in for the stamp in the bookmark."""
    stamp = EdmProperty("LastChangeDateTime", "Edm.DateTimeOffset")
    day = EdmProperty("CreationDate", "Edm.DateTime", sap={"display-format": "Date"})
    key = change_key(entity(stamp, day))
    assert key is not None
    assert (key.created, key.created_day) == (None, "CreationDate")
    assert str(key.since("2026-01-05T00:30:00+02:00")) == (
        "(LastChangeDateTime ge datetimeoffset'2026-01-04T22:30:00Z' or CreationDate ge datetime'2026-01-03T00:00:00')"
    )
    assert key.stamp({"LastChangeDateTime": None, "CreationDate": datetime(2026, 1, 5, tzinfo=UTC)}) is None
    moment = EdmProperty("CreationDate", "Edm.DateTime")  # a full timestamp, not a day: not this pairing
    assert change_key(entity(stamp, moment)).created_day is None  # type: ignore[union-attr]
    v4 = change_key(entity(stamp, EdmProperty("CreationDate", "Edm.Date")))
    assert v4 is not None
    assert str(v4.since("2026-01-05T09:00:00Z", version=4)).endswith("or CreationDate ge 2026-01-04)")
