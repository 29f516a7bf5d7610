"""Checks for a tap stream that reads one page ahead (``xlr8_kit.http.readahead``), against its product's emulator.

Read-ahead must not change what a tap writes: the pages come out in order and once each, a 429's Retry-After is
still waited out (on the worker thread, through the same session), and a page that fails stops the stream after the
pages before it were emitted, with no bookmark past them and no request for the page after it. A tap's test builds
a ``ReadAheadCase`` for one paged stream and calls its two checks.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import threading
import typing as t
from dataclasses import dataclass, field
from unittest import mock
from urllib.parse import urlsplit

import requests
import requests.adapters

from xlr8_kit.rest import KitTap
from xlr8_kit.testing.fake_time import FakeTime, with_fake_time
from xlr8_kit.testing.singer_cli import SingerOutput, select_streams
from xlr8_sandbox.platform.faults import FaultSpec


def sync_until_error(tap: t.Any) -> tuple[SingerOutput, BaseException | None]:
    """``tap.sync_all()``: what it wrote before it stopped, and the exception that stopped it (None: it ended)."""
    buffer = io.StringIO()
    error: BaseException | None = None
    with contextlib.redirect_stdout(buffer):
        try:
            tap.sync_all()
        except Exception as exc:  # noqa: BLE001 - handed back to the test, which names what it expects
            error = exc
    return SingerOutput.parse(buffer.getvalue(), exact_decimals=True, tap=tap), error


@dataclass
class ReadAheadCase:
    """One paged stream of a tap, read against its emulator with faults on the page requests (``path``)."""

    tap_class: type[KitTap]
    config: dict[str, t.Any]
    stream: str
    sandbox: t.Any
    product: str
    #: The path (a glob) every page request of the stream goes to: faults are set and requests counted on it.
    path: str
    #: Records in each of the first two pages.
    page_rows: int
    #: Fields that identify a record (default: the stream's primary keys).
    keys: tuple[str, ...] = ()
    #: Extra fault-spec fields (e.g. ``{"method": "POST"}``).
    fault_fields: dict[str, t.Any] = field(default_factory=dict)

    def run(self, fake: FakeTime) -> tuple[SingerOutput, BaseException | None]:
        """One sync of the stream; every page request is checked to have been sent by a read-ahead worker."""
        catalog = select_streams(self.tap_class(config=self.config, parse_env_config=False).catalog_dict, {self.stream})
        tap = with_fake_time(self.tap_class, fake)(config=self.config, catalog=catalog, parse_env_config=False)
        senders: list[str] = []
        send = requests.adapters.HTTPAdapter.send

        def recording_send(adapter: t.Any, request: requests.PreparedRequest, **kwargs: t.Any) -> t.Any:
            if fnmatch.fnmatchcase(urlsplit(request.url or "").path, self.path):
                senders.append(threading.current_thread().name)
            return send(adapter, request, **kwargs)

        with mock.patch.object(requests.adapters.HTTPAdapter, "send", recording_send):
            result = sync_until_error(tap)
        assert senders, f"no request to {self.path}"
        assert all(name.startswith("xlr8-") for name in senders), f"pages not read ahead (sent by {set(senders)})"
        return result

    def page_requests(self) -> int:
        return sum(1 for r in self.sandbox.requests(self.product) if fnmatch.fnmatchcase(r.path, self.path))

    def identities(self, records: list[dict[str, t.Any]]) -> list[tuple[t.Any, ...]]:
        keys = self.keys or tuple(self._stream.primary_keys)
        assert keys, f"{self.stream}: no keys to tell records apart"
        return [tuple(r.get(k) for k in keys) for r in records]

    @property
    def _stream(self) -> t.Any:
        return self.tap_class(config=self.config, parse_env_config=False).streams[self.stream]

    def baseline(self) -> tuple[list[dict[str, t.Any]], int]:
        """The records of a run without faults and its page requests."""
        before = self.page_requests()
        output, error = self.run(FakeTime())
        assert error is None, error
        records = output.records(self.stream)
        assert len(records) > 3 * self.page_rows, "the case needs at least four pages"
        ids = self.identities(records)
        assert len(set(ids)) == len(ids), "a record was emitted twice"
        requests = self.page_requests() - before
        assert requests >= 4, f"{requests} requests to {self.path}: not the stream's page path"
        return records, requests

    def check_retry_after_on_page_2(self) -> None:
        """429 with Retry-After 30 on page 2 (fetched ahead): waited out, then every page once and in order."""
        expected, requests = self.baseline()
        spec = FaultSpec("rate_limit", retry_after=30, after=1, times=1, **self.fault_fields)
        self.sandbox.faults.add(self.product, self.path, spec)
        before = self.page_requests()
        fake = FakeTime()
        output, error = self.run(fake)
        assert error is None, error
        assert self.identities(output.records(self.stream)) == self.identities(expected)
        assert output.records(self.stream) == expected
        assert [s for s in fake.sleeps if s >= 30], f"Retry-After not honoured: waits {fake.sleeps}"
        assert self.page_requests() - before == requests + 1  # page 2 asked twice, nothing else repeated

    def check_error_on_page_3(self, error_type: type[BaseException] = Exception, match: str = "400") -> None:
        """HTTP 400 on page 3: pages 1-2 emitted, then the error; no bookmark past page 2; page 4 never asked."""
        expected, _ = self.baseline()
        spec = FaultSpec("status", status=400, after=2, times=1, **self.fault_fields)
        self.sandbox.faults.add(self.product, self.path, spec)
        before = self.page_requests()
        output, error = self.run(FakeTime())
        assert isinstance(error, error_type), error
        assert match in str(error), error
        emitted = output.records(self.stream)
        assert emitted == expected[: 2 * self.page_rows]
        assert self.page_requests() - before == 3
        self._check_bookmark(output, emitted)

    def _check_bookmark(self, output: SingerOutput, emitted: list[dict[str, t.Any]]) -> None:
        key = self._stream.replication_key
        states = output.of_type("STATE")
        if not key or not states:
            return
        bookmark = (states[-1]["value"].get("bookmarks") or {}).get(self.stream) or {}
        value = bookmark.get("replication_key_value")
        if value is not None:
            assert str(value) <= max(str(r[key]) for r in emitted), f"bookmark {value} is past the emitted records"
