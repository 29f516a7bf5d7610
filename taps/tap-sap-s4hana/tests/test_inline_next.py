"""review27e H1: an expanded item list's own ``__next`` is checked and resolved as a collection's is: a link to
another host is refused naming the order before any request goes there (the credentials would follow it), a
relative link is read against the service URL."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from xlr8_kit.http.errors import InsecureTransportError
from xlr8_kit.testing.faultserver import FaultServer
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.s4hana import S4HanaEmulator

from .conftest import basic_config, run_tap

EXPAND = {"A_PurchaseOrder": ["to_PurchaseOrderItem", "to_PurchaseOrderItem/to_ScheduleLine"]}
SERVICE = "/sap/opu/odata/sap/API_PURCHASEORDER_PROCESS_SRV/"


def _items_by_order(url: str) -> dict[str, list[dict[str, object]]]:
    output = run_tap(basic_config(url, entity_sets=["A_PurchaseOrder"], page_size=40, expand=EXPAND))
    return {o["PurchaseOrder"]: o["to_PurchaseOrderItem"] for o in output.records("A_PurchaseOrder")}


def test_an_inline_next_link_to_another_host_is_refused_naming_the_order(url: str, emulator: S4HanaEmulator) -> None:
    with FaultServer() as other:

        def elsewhere(link: str) -> str:
            parts = urlsplit(link)
            return f"{other.url}{parts.path}?{parts.query}"

        emulator.expand_page_size = 2
        emulator.inline_next_link = elsewhere
        try:
            with pytest.raises(InsecureTransportError) as raised:
                _items_by_order(url)
        finally:
            emulator.reset()
        sent = [(r.path, r.headers.get("Authorization") or r.headers.get("authorization")) for r in other.requests]
        assert sent == []  # no request, so no Authorization header, reached the other host
    message = str(raised.value)
    assert "A_PurchaseOrder: row PurchaseOrder='PO" in message
    assert "expanded to_PurchaseOrderItem points to another host; refusing to send credentials there" in message
    assert "127.0.0.1" not in message
    assert "?" not in (raised.value.path or "")


def test_a_relative_inline_next_link_is_read_against_the_service_url(
    url: str, emulator: S4HanaEmulator, sandbox: Sandbox
) -> None:
    whole = _items_by_order(url)
    paged = [number for number, items in whole.items() if len(items) > 2]
    assert paged  # orders whose items come in pages of 2
    emulator.expand_page_size = 2
    # The inline link of the first page, relative to the service root as OData v2 writes them (Atom's xml:base):
    # A_PurchaseOrder('PO…')/to_PurchaseOrderItem?$skiptoken=2…; the navigation reads' own __next stay absolute.
    emulator.inline_next_link = lambda link: link.split(SERVICE, 1)[1] if "$skiptoken=2&" in link else link
    try:
        relative = _items_by_order(url)
        followed = {
            match[0]
            for r in sandbox.requests("s4hana")
            if r.path.endswith("/to_PurchaseOrderItem") and (match := re.search(r"PO\d+", r.path))
        }
    finally:
        emulator.reset()
    assert relative == whole  # every item of every order, with its schedule lines, once
    assert followed == set(paged)  # each paged order's rest read from its relative link
