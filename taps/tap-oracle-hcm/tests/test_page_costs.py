"""Both readers that ask for pages ahead of the paginator (Oracle's ranged keyset read, the kit's window of offset
pages) fetch, count and cost "the page at this token" through one helper (``KitRESTStream._token_pages``): every
request the emulator served is costed once, with the URL that was sent, and the request counter counts it once."""

from __future__ import annotations

import typing as t
from collections import Counter
from urllib.parse import parse_qsl, urlsplit

import pytest

from xlr8_kit.oracle.stream import FusionStream
from xlr8_sandbox.products.oracle_fusion.hcm import OracleHcmEmulator

from .conftest import hcm_config, run_tap

READS = {
    "ranged keyset": {"page_size": 3},  # 100 rows: page 1, bounds, ranges of 24 rows
    "window of offset pages": {"page_size": 10, "rest_framework_version": "1"},  # no keyset on framework 1
}


@pytest.fixture(autouse=True)
def ranges_from_page_1(monkeypatch: pytest.MonkeyPatch) -> None:
    """The ranged keyset read ranges its rows after page 1 whatever the round trips (else the machine's load decides
    whether this test reads ranges at all: 3 runs in 5, review 20b)."""
    monkeypatch.setattr("xlr8_kit.oracle.ranges.RANGES_AT", 0.0)


@pytest.mark.parametrize("read", READS)
def test_every_served_request_is_counted_and_costed_once(
    read: str, url: str, emulator: OracleHcmEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    costed: list[dict[str, str]] = []
    counted = 0
    update_sync_costs, request_counter = FusionStream.update_sync_costs, FusionStream.get_http_request_counter

    def cost(self: FusionStream, request: t.Any, response: t.Any, context: t.Any) -> t.Any:
        costed.append(dict(parse_qsl(urlsplit(request.url).query)))
        return update_sync_costs(self, request, response, context)

    def counter(self: FusionStream) -> t.Any:
        made = request_counter(self)
        increment = made.increment

        def count(value: int = 1) -> None:
            nonlocal counted
            counted += value
            increment(value)

        made.increment = count  # type: ignore[method-assign]
        return made

    monkeypatch.setattr(FusionStream, "update_sync_costs", cost)
    monkeypatch.setattr(FusionStream, "get_http_request_counter", counter)
    start = len(emulator.collection_queries)
    out = run_tap(hcm_config(url, resources=["workers"], max_concurrent_requests=4, **READS[read]),
                  streams={"workers"})  # fmt: skip
    served = emulator.collection_queries[start:]
    assert len(out.records("workers")) == 100
    assert len(served) >= 10
    assert counted == len(served)
    key = lambda q: tuple(sorted(q.items()))  # noqa: E731
    assert Counter(map(key, costed)) == Counter(map(key, served))
