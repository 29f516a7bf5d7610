"""REST worker pages marked conformed (``Conformer.vouches_records``: references are flat objects) reach the kit's
writer whole, with the messages the SDK's record loop writes; a page holding a reference the SDK's conformance
changes goes record by record and lands as the SDK lands it."""

from __future__ import annotations

import typing as t

import pytest

from xlr8_kit.testing.page_loop import count_whole_pages, without_clock
from xlr8_tap_workday import client as wd_client

from .conftest import base_config, run_tap


def _sync(url: str, monkeypatch: pytest.MonkeyPatch, *, sdk_loop: bool, **extra: t.Any) -> tuple[t.Any, list[int]]:
    """workers in-process, 10 rows a page; the sizes of the pages the writer took whole (0: a page it checks)."""
    whole = count_whole_pages(monkeypatch, sdk_loop=sdk_loop)
    return run_tap(base_config(url, streams=["workers"], rest_page_size=10, **extra)), whole


def test_the_plain_loop_writes_worker_pages_whole(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    by_page, whole = _sync(url, monkeypatch, sdk_loop=False)
    by_sdk, none = _sync(url, monkeypatch, sdk_loop=True)
    records = by_page.records("workers")
    assert len(records) > 20
    assert none == []
    assert sum(whole) == len(records)
    assert max(whole) == 10
    assert without_clock(by_page) == without_clock(by_sdk)
    assert any(type(r["workerType"]) is dict and r["workerType"]["id"] for r in records)


def test_a_reference_with_an_undeclared_key_goes_record_by_record(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reference with a key its schema does not declare, on the second page: the compiled walk does not vouch for
    it (the SDK decides: it keeps the key, the schema allowing additional properties), so that page is conformed
    record by record and lands as the SDK's loop lands it; the other pages are still written whole."""
    read = wd_client.response_json

    def with_odd_reference(response: t.Any, *args: t.Any, **kwargs: t.Any) -> t.Any:
        body = read(response, *args, **kwargs)
        if "offset=10&" in response.url + "&" and isinstance(body, dict) and body.get("data"):
            row = body["data"][3]
            if isinstance(row.get("workerType"), dict):
                row["workerType"]["extra"] = "x"
        return body

    monkeypatch.setattr(wd_client, "response_json", with_odd_reference)
    by_page, whole = _sync(url, monkeypatch, sdk_loop=False)
    by_sdk, _ = _sync(url, monkeypatch, sdk_loop=True)
    records = by_page.records("workers")
    assert len(records) == 100
    assert whole == [10] * 9  # every page but the second written whole
    assert records[13]["workerType"]["extra"] == "x"
    assert without_clock(by_page) == without_clock(by_sdk)


def test_a_filter_is_applied_to_every_record(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a ``filters`` setting the pages go record by record through ``post_process``, which drops rows."""
    everyone, _ = _sync(url, monkeypatch, sdk_loop=False)
    active = [r for r in everyone.records("workers") if r["workerStatus"] == "Active"]
    assert 0 < len(active) < len(everyone.records("workers"))
    filtered, whole = _sync(url, monkeypatch, sdk_loop=False, filters="workerStatus = 'Active'")
    assert filtered.records("workers") == active
    assert whole == []
