"""``KitRESTStream._prepare_request`` copies singer-sdk's ``RESTStream._prepare_request`` (pinned) with the kit's
parameter encoding, for speed. For real streams of the taps, first page and next pages, both build the same request
(method, URL, headers, body) on the same stream object: a singer-sdk upgrade that changes the SDK's way fails here.

Neither way applies auth (the kit's ``build_prepared_request``, which both call, leaves it to the session), so no
request is sent; the taps are built against their emulators because their discovery reads the vendor's metadata.
"""

from __future__ import annotations

import importlib
import sys
import typing as t
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType, SimpleNamespace
from urllib.parse import urlparse

import pytest
import requests
from singer_sdk import RESTStream

from xlr8_kit.rest import KitRESTStream
from xlr8_sandbox.platform.server import run_sandbox

ROOT = Path(__file__).resolve().parents[1]
PRODUCTS = ["common", "ukg_pro", "successfactors", "workday", "oracle_erp"]


def _ceiling(product: str) -> ModuleType:
    """The bench's per-product module: it configures each tap against its emulator."""
    bench = str(ROOT / "bench")
    if bench not in sys.path:
        sys.path.append(bench)
    return importlib.import_module(f"ceilings.{product}")


def _tap_class(product: str) -> t.Any:
    from xlr8_tap_common.tap import TapCommon
    from xlr8_tap_oracle_erp.tap import TapOracleErp
    from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors
    from xlr8_tap_ukg_pro.tap import TapUkgPro
    from xlr8_tap_workday.tap import TapWorkday

    return {
        "common": TapCommon,
        "ukg_pro": TapUkgPro,
        "successfactors": TapSapSuccessFactors,
        "workday": TapWorkday,
        "oracle_erp": TapOracleErp,
    }[product]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[t.Any]:
    with run_sandbox(PRODUCTS, seed=42, scale=20) as running:
        yield running


def _stream(sandbox: t.Any, product: str, stream: str) -> KitRESTStream:
    url = sandbox.url(product)
    config = _ceiling(product).tap_config(url, sandbox.emulator(product).test_credentials(), stream)
    tap = _tap_class(product)(config=config, parse_env_config=False)
    found = tap.streams[stream]
    assert isinstance(found, KitRESTStream)
    return found


def _next_link(sandbox: t.Any, product: str, stream: KitRESTStream) -> t.Any:
    return urlparse(f"{sandbox.url(product)}/odata/v2/User?$skiptoken=abc%3D&customPageSize=5")


#: (product, stream, next-page tokens besides None); a token is a callable of (sandbox, product, stream) when it
#: depends on the running emulator.
CASES: list[tuple[str, str, list[t.Any]]] = [
    ("common", "purchase_orders", ["c2Vjb25kIHBhZ2U=", "a b&c"]),  # GET, cursor in the query, Accept header
    ("ukg_pro", "employment_details", [2, 17]),  # GET, page numbers, the Accept header its get_http_request sets
    ("successfactors", "User", [_next_link]),  # GET, the query in the URL, the server's next link as is
    ("workday", "soap_workers", [(2, "2024-01-02T03:04:05.000Z")]),  # POST, a SOAP envelope body
    ("oracle_erp", "invoices", [500, 1000]),  # GET, REST-Framework-Version header, q/orderBy/fields parameters
]


def _as_sent(prepared: requests.PreparedRequest) -> tuple[t.Any, ...]:
    return prepared.method, prepared.url, dict(prepared.headers), prepared.body


@pytest.mark.parametrize(("product", "name", "tokens"), CASES, ids=[case[0] for case in CASES])
def test_the_kit_prepares_the_request_the_sdk_prepares(
    sandbox: t.Any, product: str, name: str, tokens: list[t.Any]
) -> None:
    stream = _stream(sandbox, product, name)
    for token in [None, *tokens]:
        value = token(sandbox, product, stream) if callable(token) else token
        page = t.cast("t.Any", SimpleNamespace(current_value=value))
        kit = stream._prepare_request(context=None, page=page)
        sdk = RESTStream._prepare_request(stream, context=None, page=page)
        assert _as_sent(kit) == _as_sent(sdk), (product, name, token)
        assert kit.url is not None
        assert kit.url.startswith(sandbox.url(product))
    # the streams were chosen for what they send: a query string on every one, headers of the product's own, and
    # a body on the POST
    first = stream._prepare_request(context=None, page=t.cast("t.Any", SimpleNamespace(current_value=None)))
    assert "?" in (first.url or "") or first.body, (product, name)
    assert "User-Agent" in first.headers
    if stream.http_method == "POST":
        assert first.method == "POST"
        assert first.body
