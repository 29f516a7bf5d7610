"""REST paging against servers that page otherwise than the emulator (review24b #2, #3), each a small HTTP server
on 127.0.0.1 in the test: every row must be read, whatever the server's paging rule.

- ``asked``: caps a page at 100 rows but counts pages by the ``per_Page`` asked (``(page-1) * per_Page``): a tap
  that keeps asking 1,000 after a first page of 100 reads rows 0-99, 1,000-1,099, ... and skips the rest.
- ``trimmed``: caps at 100 and counts by the capped size (the emulator's rule), but one row of page 3 is left out
  after the slice (row-level security, a row deleted meanwhile): a tap that ends at a short page stops there.
- ``repeats``: answers a page past the end with its last page again (review24g #5): only an empty page ends a read,
  so the tap must stop on the repeat with a named error, not page forever."""

from __future__ import annotations

import json
import threading
import typing as t
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from xlr8_tap_ukg_pro.client import RepeatedPageError

from .conftest import run_tap, ukg_config

ROWS = 2_500
CAP = 100
TRIMMED_PAGE = 3
#: Requests after which the ``repeats`` server answers ``[]``: far more than the 26 pages of a read.
REPEATS_CUT = 60


def _row(i: int) -> dict[str, t.Any]:
    return {"employeeId": f"E{i:06d}", "personId": f"P{i}", "companyId": "C1", "employeeNumber": str(100_000 + i),
            "firstName": "A", "lastName": "B", "employeeStatus": "A", "isActive": True,
            "hireDate": "2020-01-01T00:00:00", "terminationDate": None}  # fmt: skip


class _Server:
    def __init__(self, rule: str) -> None:
        self.rule = rule
        self.asked: list[tuple[int, int]] = []
        self.rows = [json.dumps(_row(i)) for i in range(ROWS)]

    def page(self, path: str, page: int, asked: int) -> list[str]:
        if not path.endswith("/employee-changes"):
            return []
        self.asked.append((page, asked))
        size = min(asked, CAP)
        start = (page - 1) * (asked if self.rule == "asked" else size)
        if self.rule == "repeats":
            if len(self.asked) > REPEATS_CUT:
                return []  # so a tap that pages on ends (and the test fails) instead of hanging
            start = min(start, ROWS - size)  # past the end: the last page again
        rows = self.rows[start : start + size]
        if self.rule == "trimmed" and page == TRIMMED_PAGE:
            rows = rows[1:]
        return rows


@pytest.fixture(params=["asked", "trimmed"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, _Server]]:
    yield from _serve(_Server(request.param))


def _serve(fake: _Server) -> Iterator[tuple[str, _Server]]:

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: t.Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            rows = fake.page(url.path, int(query.get("page", 1)), int(query.get("per_Page", 100)))
            body = f"[{','.join(rows)}]".encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", fake
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


@pytest.mark.parametrize("window", [1, 3])
def test_every_row_is_read_whatever_the_paging_rule(server: tuple[str, _Server], window: int) -> None:
    """The default ``per_Page`` (1,000) against a 100-row cap: every later page (read-ahead and a window of 3
    included) asked at 100, and the read goes on past a short page to the empty one."""
    url, fake = server
    config = ukg_config(url, start_date="2026-11-01T00:00:00Z", end_date="2026-11-08T00:00:00Z",
                        employee_changes_window_days=7, max_concurrent_requests=window)  # fmt: skip
    got = run_tap(config, streams={"employee_changes"}).records("employee_changes")
    expected = {f"E{i:06d}" for i in range(ROWS)}
    if fake.rule == "trimmed":
        expected.discard(f"E{(TRIMMED_PAGE - 1) * CAP:06d}")  # the row the server left out
    assert len(got) == len(expected)
    assert {r["employeeId"] for r in got} == expected
    assert fake.asked[0] == (1, 1000)
    assert {asked for page, asked in fake.asked if page > 1} == {CAP}  # every later page at the learned size


@pytest.mark.parametrize("window", [1, 3])
def test_a_server_repeating_its_last_page_stops_the_read(window: int) -> None:
    """review24g #5: past the end the server sends its last page again, not ``[]``. The read stops at the first
    second repeat (review24i #2: one repeat may be two identical rows) with ``RepeatedPageError``, having asked
    only about the pages there are."""
    serving = _serve(_Server("repeats"))
    url, fake = next(serving)
    try:
        config = ukg_config(url, start_date="2026-11-01T00:00:00Z", end_date="2026-11-08T00:00:00Z",
                            employee_changes_window_days=7, max_concurrent_requests=window)  # fmt: skip
        with pytest.raises(RepeatedPageError, match="page 27 repeats the two pages before it"):
            run_tap(config, streams={"employee_changes"})
        assert len(fake.asked) < ROWS // CAP + 3 + window  # the 25 pages, two repeats and those read ahead
    finally:
        serving.close()


class _TwoIdenticalRows:
    """Two byte-identical rows in a row at ``per_page`` 1: two identical pages from a correct server, then []."""

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []
        same = json.dumps(_row(1))
        self.rows = [json.dumps(_row(0)), same, same, json.dumps(_row(2))]

    def page(self, path: str, page: int, asked: int) -> list[str]:
        if not path.endswith("/employee-changes"):
            return []
        self.asked.append((page, asked))
        size = min(asked, 100)
        return self.rows[(page - 1) * size : page * size]


@pytest.mark.parametrize("per_page", [1, 1000])
def test_two_identical_pages_from_a_correct_server_end_normally(per_page: int) -> None:
    """review24i #2: one repeat asks one more page (here the next row, then []); only a third identical page is a
    server answering past the end."""
    serving = _serve(_TwoIdenticalRows())
    url, _fake = next(serving)
    try:
        config = ukg_config(url, start_date="2026-11-01T00:00:00Z", end_date="2026-11-08T00:00:00Z",
                            employee_changes_window_days=7, max_concurrent_requests=1, per_page=per_page)  # fmt: skip
        got = run_tap(config, streams={"employee_changes"})
    finally:
        serving.close()
    assert len(got.records("employee_changes")) == 4
