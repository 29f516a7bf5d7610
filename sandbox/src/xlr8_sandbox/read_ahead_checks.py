"""Checks for a tap stream that reads one page ahead (``xlr8_kit.http.readahead``) or a window of pages
(``xlr8_kit.http.window``), against its product's emulator.

Read-ahead must not change what a tap writes: the pages come out in order and once each, a 429's Retry-After is
still waited out (on the worker thread, through the same session), and a page that fails stops the stream after the
pages before it were emitted, with no bookmark past them and no request for the page after it (with a window of N
requests in flight: none past page 3 + N - 1). A tap's test builds a ``ReadAheadCase`` for one paged stream and
calls its checks; a stream read with a window gives ``page_query`` so faults hit one page whatever order the
concurrent requests arrive in, and also calls the window checks.
"""

from __future__ import annotations

import contextlib
import fnmatch
import io
import threading
import typing as t
from dataclasses import dataclass, field, replace
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
    #: For a stream read with a window of requests: the query parameters of page k's request (k from 1), e.g.
    #: ``lambda k: {"offset": str((k - 1) * 10)}``. None: the stream reads one page ahead (faults by arrival).
    page_query: t.Callable[[int], dict[str, str]] | None = None
    #: Whether the stream is read with a window (default: when ``page_query`` is given). A windowed stream whose
    #: pages cannot be told apart by query (SOAP bodies) runs the fault checks on ``with_window(1)``.
    windowed: bool | None = None
    #: What of a run's STATE messages two runs must agree on (default: all of them); e.g. the Oracle kit's
    #: ``unstamped`` blanks the whole-read stamp, a wall-clock reading.
    state_view: t.Callable[[t.Any], t.Any] = lambda states: states
    #: Most page requests in flight at once during the last ``run``.
    max_in_flight: int = 0

    @property
    def window(self) -> int:
        """Page requests in flight at once for this config (1: one page read ahead)."""
        if not (self.page_query is not None if self.windowed is None else self.windowed):
            return 1
        value = self.config.get("max_concurrent_requests")
        return int(getattr(self.tap_class, "default_concurrent_requests", 1)) if value is None else int(value)

    def with_window(self, size: int) -> ReadAheadCase:
        """The same case with ``max_concurrent_requests`` set to ``size``."""
        return replace(self, config={**self.config, "max_concurrent_requests": size}, max_in_flight=0)

    def page_fault(self, page: int, spec: FaultSpec) -> None:
        """``spec`` on the request for ``page`` (k from 1): by its query with a window, else by arrival order."""
        if self.page_query is not None:
            spec = replace(spec, after=0, query=self.page_query(page))
        else:
            assert self.window == 1, "a fault on one page of a window needs page_query (requests arrive in any order)"
            spec = replace(spec, after=page - 1)
        self.sandbox.faults.add(self.product, self.path, spec)

    def run(self, fake: FakeTime) -> tuple[SingerOutput, BaseException | None]:
        """One sync of the stream; every page request is checked to have been sent by a read-ahead worker."""
        catalog = select_streams(self.tap_class(config=self.config, parse_env_config=False).catalog_dict, {self.stream})
        tap = with_fake_time(self.tap_class, fake)(config=self.config, catalog=catalog, parse_env_config=False)
        senders: list[str] = []
        send = requests.adapters.HTTPAdapter.send
        lock = threading.Lock()
        in_flight = 0
        self.max_in_flight = 0

        def recording_send(adapter: t.Any, request: requests.PreparedRequest, **kwargs: t.Any) -> t.Any:
            nonlocal in_flight
            if not fnmatch.fnmatchcase(urlsplit(request.url or "").path, self.path):
                return send(adapter, request, **kwargs)
            with lock:
                senders.append(threading.current_thread().name)
                in_flight += 1
                self.max_in_flight = max(self.max_in_flight, in_flight)
            try:
                return send(adapter, request, **kwargs)
            finally:
                with lock:
                    in_flight -= 1

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
        self.page_fault(2, FaultSpec("rate_limit", retry_after=30, times=1, **self.fault_fields))
        before = self.page_requests()
        fake = FakeTime()
        output, error = self.run(fake)
        assert error is None, error
        assert self.identities(output.records(self.stream)) == self.identities(expected)
        assert output.records(self.stream) == expected
        assert [s for s in fake.sleeps if s >= 30], f"Retry-After not honoured: waits {fake.sleeps}"
        assert self.page_requests() - before == requests + 1  # page 2 asked twice, nothing else repeated

    def check_error_on_page_3(self, error_type: type[BaseException] = Exception, match: str = "400") -> None:
        """HTTP 400 on page 3: pages 1-2 emitted, then the error; no bookmark past page 2; page 4 never asked
        (with a window of N requests in flight: nothing past page 3 + N - 1 asked)."""
        expected, _ = self.baseline()
        self.page_fault(3, FaultSpec("status", status=400, times=1, **self.fault_fields))
        before = self.page_requests()
        output, error = self.run(FakeTime())
        assert isinstance(error, error_type), error
        assert match in str(error), error
        emitted = output.records(self.stream)
        assert emitted == expected[: 2 * self.page_rows]
        asked = self.page_requests() - before
        if self.window == 1:
            assert asked == 3
        else:
            assert 3 <= asked <= 3 + self.window - 1, f"{asked} page requests with a window of {self.window}"
        self._check_bookmark(output, emitted)

    # -- a window of requests (``xlr8_kit.http.window``) ----------------------------------------------------------

    def check_window_matches_one_page_ahead(self) -> None:
        """The same records, in the same order, and the same STATE messages with the window as with one page
        read ahead (``max_concurrent_requests`` 1)."""
        assert self.window > 1, "the case reads with a window of 1"
        windowed, error = self.run(FakeTime())
        assert error is None, error
        single, error = self.with_window(1).run(FakeTime())
        assert error is None, error
        assert len(windowed.records(self.stream)) > 3 * self.page_rows
        assert windowed.records(self.stream) == single.records(self.stream)
        assert self.state_view(windowed.of_type("STATE")) == self.state_view(single.of_type("STATE"))

    def check_requests_overlap(self, latency_ms: float = 50) -> None:
        """With latency on the page path, the window has more than one page request in flight at once; one page
        read ahead (window 1) never has."""
        self.sandbox.faults.set_latency(self.product, latency_ms, self.path)
        try:
            _, error = self.run(FakeTime())
            assert error is None, error
            assert self.max_in_flight > 1, f"at most {self.max_in_flight} page request in flight with a window"
            assert self.max_in_flight <= self.window
            single = self.with_window(1)
            _, error = single.run(FakeTime())
            assert error is None, error
            assert single.max_in_flight == 1
        finally:
            self.sandbox.faults.set_latency(self.product, 0, self.path)

    def check_default_window(self, expected: int, latency_ms: float = 50) -> None:
        """With ``max_concurrent_requests`` unset, the tap keeps ``expected`` page requests in flight at most (1: one
        page read ahead), and its setting declares that default."""
        assert "max_concurrent_requests" not in self.config
        declared = self.tap_class.config_jsonschema["properties"]["max_concurrent_requests"]["default"]
        assert declared == expected == self.window
        self.sandbox.faults.set_latency(self.product, latency_ms, self.path)
        try:
            _, error = self.run(FakeTime())
        finally:
            self.sandbox.faults.set_latency(self.product, 0, self.path)
        assert error is None, error
        assert (self.max_in_flight == 1) if expected == 1 else (1 < self.max_in_flight <= expected), self.max_in_flight

    def check_window(self) -> None:
        """Every window check: one page ahead (window 1) as before, the same output with the window, requests
        that really overlap, an error in the middle of the window (a window of 4 where the tap's default is 1)."""
        if self.window == 1 and "max_concurrent_requests" not in self.config:
            self.with_window(4).check_window()
            return
        single = self.with_window(1)
        single.check_retry_after_on_page_2()
        single.check_error_on_page_3()
        self.check_window_matches_one_page_ahead()
        self.check_requests_overlap()
        if self.page_query is not None:
            self.check_error_mid_window()

    def check_error_mid_window(self) -> None:
        """HTTP 400 on page 2 while pages 3.. are in flight: page 1 emitted, then the error; nothing past page
        2 + N - 1 asked; no bookmark past page 1."""
        expected, _ = self.baseline()
        self.page_fault(2, FaultSpec("status", status=400, times=1, **self.fault_fields))
        before = self.page_requests()
        output, error = self.run(FakeTime())
        assert error is not None
        assert "400" in str(error), error
        emitted = output.records(self.stream)
        assert emitted == expected[: self.page_rows]
        asked = self.page_requests() - before
        assert 2 <= asked <= 2 + self.window - 1, f"{asked} page requests with a window of {self.window}"
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
