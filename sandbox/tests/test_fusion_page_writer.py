"""Oracle Fusion collection pages written straight from the source rows (``FusionEmulator._page_text``, issue 14
goal 1, cold reads) are byte for byte the pages of the reference renderer (``_page``: a shaped dict per node, then
``json.dumps``).

Over real HTTP, every HCM and ERP resource on a fixed seed, read once with ``page_writer`` off and once on (the row
cache off, so both are rendered): ``fields`` (this level and its children's, a name twice), ``expand`` (named,
nested, ``all``), ``q``, ``orderBy``, paging (``limit``/``offset``, the last page, past the end),
``totalResults``, ``onlyData`` true and false (links with their ``href``), framework versions 1, 2 and 4, HCM
workers with 30 emails (cut at 25) as well as one. Rows
changed as clients' tenants have them (a flexfield of Decimals, stored floats, datetimes, odd strings) take the
same path. The writer must have served every non-empty page (``_page`` not called), and errors are still
``_page``'s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import requests

from xlr8_sandbox.platform import wirejson
from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.oracle_fusion.framework import Attr, ChildDef, FusionEmulator, ResourceDef

APIS = {"oracle_hcm": "/hcmRestApi/resources/11.13.18.05", "oracle_erp": "/fscmRestApi/resources/11.13.18.05"}
ODD = 'Zoë Ñ 😀 \x7f\x01 "quoted" back\\slash, a: b % %s'


@pytest.fixture(params=sorted(APIS))
def fusion(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Sandbox]]:
    monkeypatch.setenv("XLR8_SANDBOX_FUSION_UNLISTED", "1")  # every resource built, listed or not
    with run_sandbox([request.param], seed=42, scale=60) as sandbox:
        emulator: Any = sandbox.emulator(request.param)
        emulator.row_cache.enabled = False
        yield request.param, sandbox


def _fields(node: ChildDef, path: str = "") -> list[str]:
    """``fields`` naming a few attributes of ``node`` and of every child below it."""
    names = [a.name for a in node.attrs[:3]]
    if not path and node.attrs:
        names.append(node.attrs[0].name)  # a name twice: sent once
    parts = [(f"{path}:" if path else "") + ",".join(names)]
    for name, child in node.children.items():
        parts += _fields(child, f"{path}.{name}".lstrip("."))
    return parts


def _expand(node: ChildDef, path: str = "") -> list[str]:
    out: list[str] = []
    for name, child in node.children.items():
        out += [f"{path}{name}", *_expand(child, f"{path}{name}.")]
    return out


def _shapes(resource: ResourceDef) -> list[dict[str, str]]:
    first = resource.keys[0]
    shapes: list[dict[str, str]] = [
        {},
        {"limit": "7", "offset": "5", "totalResults": "true"},
        {"limit": "500", "offset": "3"},
        {"offset": "100000"},
        {"expand": "all", "limit": "9"},
        {"fields": ";".join(_fields(resource)), "limit": "11", "offset": "2"},
        {"orderBy": f"{first}:desc", "limit": "6", "offset": "4"},
        {"q": f"{first} > 3", "expand": ",".join(_expand(resource)), "limit": "8"},
    ]
    if any(a.name == "LastUpdateDate" for a in resource.attrs):
        shapes.append({"orderBy": f"LastUpdateDate:asc,{first}:asc", "limit": "13", "offset": "10"})
    if resource.children:
        shapes.append({"expand": next(iter(resource.children)), "onlyData": "true", "limit": "5"})
    return shapes


def _read(sandbox: Sandbox, product: str, resource: str, params: dict[str, str], framework: str) -> requests.Response:
    credentials = sandbox.emulator(product).test_credentials()
    return requests.get(
        f"{sandbox.url(product)}{APIS[product]}/{resource}",
        params=params,
        auth=(credentials["username"], credentials["password"]),
        headers={"REST-Framework-Version": framework},
        timeout=60,
    )


def _compare_every_shape(product: str, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> int:
    """Reads every resource in every shape both ways; answers how many pages the writer served."""
    emulator: Any = sandbox.emulator(product)
    reference = FusionEmulator._page
    calls: list[str] = []

    def counted(self: Any, resource: ResourceDef, *args: Any) -> dict[str, Any]:
        calls.append(resource.name)
        return reference(self, resource, *args)

    monkeypatch.setattr(FusionEmulator, "_page", counted)
    written = 0
    for name, resource in emulator.resources.items():
        for shape in _shapes(resource):
            for framework in ("1", "2", "4"):
                for only_data in ("true", "false"):
                    params = {"onlyData": only_data, **shape}
                    emulator.page_writer = False
                    old = _read(sandbox, product, name, params, framework)
                    emulator.page_writer = True
                    calls.clear()
                    new = _read(sandbox, product, name, params, framework)
                    where = (name, params, framework)
                    assert (new.status_code, new.headers["content-type"]) == (
                        old.status_code,
                        old.headers["content-type"],
                    ), where
                    assert new.content == old.content, where
                    if old.status_code == 200 and json.loads(old.content)["items"]:
                        assert calls == [], where  # the writer, not ``_page``, wrote it
                        written += 1
    return written


def test_every_resource_and_shape_is_the_reference_renderers_bytes(
    fusion: tuple[str, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    product, sandbox = fusion
    emulator: Any = sandbox.emulator(product)
    if product == "oracle_hcm":  # children of many rows, cut at 25 under framework 4 (``hasMore``)
        emulator.set_cut_children_every(7)
    assert _compare_every_shape(product, sandbox, monkeypatch) > 100


def test_changed_rows_and_a_flexfield_are_the_reference_renderers_bytes(
    fusion: tuple[str, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Values a tenant's rows can hold beyond the generator's: Decimals (``float(d)``, NaN and infinities as
    ``json.dumps`` writes them), floats past 1e16, datetimes and dates (``str``), strings needing escapes."""
    product, sandbox = fusion
    emulator: Any = sandbox.emulator(product)
    odd: list[Any] = [
        Decimal("12.50"),
        Decimal("NaN"),
        Decimal("-Infinity"),
        1e17,
        float("inf"),
        -0.0,
        datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        datetime(2026, 12, 7).date(),
        ODD,
        "\ud800",
        True,
        False,
        None,
        2**70,
        ["x", 1, {"k": Decimal("1.5")}],
    ]
    for name, resource in list(emulator.resources.items()):
        emulator.add_attribute(name, Attr("XLR8_Flex", "number"), lambda row: Decimal("3.25"))
        text = next(a.name for a in resource.attrs if a.type == "string" and a.name not in resource.keys)
        emulator.change_rows(name, lambda i, row, text=text: {**row, text: odd[i % len(odd)]})
    assert _compare_every_shape(product, sandbox, monkeypatch) > 100


def test_request_errors_are_the_reference_renderers(
    fusion: tuple[str, Sandbox], monkeypatch: pytest.MonkeyPatch
) -> None:
    product, sandbox = fusion
    emulator: Any = sandbox.emulator(product)
    name, resource = next((n, r) for n, r in emulator.resources.items() if r.children)
    child = next(iter(resource.children))
    bad = [
        {"fields": "NoSuchAttribute"},
        {"fields": f"{resource.keys[0]};{child}:NoSuchAttribute"},
        {"expand": "noSuchChild"},
        {"orderBy": "NoSuchAttribute:asc"},
        {"q": "NoSuchAttribute = 1"},
        {"limit": "-1"},
        {"effectiveDate": "yesterday"},
    ]
    for params in bad:
        for framework in ("1", "4"):
            emulator.page_writer = False
            old = _read(sandbox, product, name, params, framework)
            emulator.page_writer = True
            new = _read(sandbox, product, name, params, framework)
            assert old.status_code == 400, (params, old.text)
            assert (new.status_code, new.content) == (old.status_code, old.content), params


def test_a_shapes_writers_are_compiled_once() -> None:
    """A page's node writers are compiled once per shape and kept (compiling one costs about as much as writing 25
    workers): the second page of a read compiles nothing."""
    with run_sandbox(["oracle_hcm"], seed=42, scale=60) as sandbox:
        emulator: Any = sandbox.emulator("oracle_hcm")
        emulator.row_cache.enabled = False
        params = {"expand": "all", "onlyData": "true", "limit": "10", "fields": "PersonId;emails:EmailAddress"}
        first = _read(sandbox, "oracle_hcm", "workers", {**params, "offset": "0"}, "4")
        compiled = wirejson.spaced_object_writer.cache_info().misses
        second = _read(sandbox, "oracle_hcm", "workers", {**params, "offset": "10"}, "4")
        assert (first.status_code, second.status_code) == (200, 200)
        assert len(json.loads(second.content)["items"]) == 10
        assert wirejson.spaced_object_writer.cache_info().misses == compiled
