"""A report's ``replication_key`` never drops a row silently (audit23a finding 4): the report is read whole, so
every row it returns is emitted (a corrected past day too, upserted by key), unless ``lookback_days`` is set; then
rows dated before the bookmark less the lookback are held back and counted in the log, and an undated row is
always emitted. Run through the console script against a small UKG Ready whose report the test rewrites."""

from __future__ import annotations

import json
import threading
import typing as t
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json

COLUMNS = [
    {"name": "EntryId", "type": "STRING"},
    {"name": "EmployeeId", "type": "STRING"},
    {"name": "WorkDate", "type": "DATE"},
    {"name": "Hours", "type": "DECIMAL"},
]
RUN_1 = "EntryId,EmployeeId,WorkDate,Hours\n1,E1,12/01/2026,8.00\n2,E2,12/02/2026,7.50\n3,E3,,4.00\n"
#: EntryId 1 corrected (a past day), 4 new without a date, 5 new after the bookmark.
RUN_2 = (
    "EntryId,EmployeeId,WorkDate,Hours\n1,E1,12/01/2026,6.00\n2,E2,12/02/2026,7.50\n3,E3,,4.00\n4,E4,,3.00\n"
    "5,E5,12/03/2026,8.00\n"
)


class FakeReady:
    """The v1 login, one saved report's metadata and its CSV body (``body``, set by the test)."""

    def __init__(self) -> None:
        self.body = RUN_1
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: t.Any) -> None:
                pass

            def _send(self, status: int, kind: str, text: str) -> None:
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/ta/rest/v1/login":
                    self._send(200, "application/json", json.dumps({"token": "tok-abc", "ttl": 3600000}))
                else:
                    self._send(404, "application/json", "{}")

            def do_GET(self) -> None:
                if self.headers.get("Authentication") != "Bearer tok-abc":
                    self._send(401, "application/json", "{}")
                elif self.path == "/ta/rest/v1/report/saved/1002/metadata":
                    self._send(200, "application/json", json.dumps({"name": "Timesheets", "columns": COLUMNS}))
                elif self.path == "/ta/rest/v1/report/saved/1002":
                    self._send(200, "text/csv", owner.body)
                else:
                    self._send(404, "application/json", "{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def ready() -> Iterator[FakeReady]:
    fake = FakeReady()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


def _config(url: str, **report: t.Any) -> dict[str, t.Any]:
    spec = {
        "id": 1002,
        "kind": "saved",
        "name": "timesheets",
        "primary_keys": ["EntryId"],
        "replication_key": "WorkDate",
    }
    return {
        "base_url": url,
        "api_key": "k",
        "username": "u",
        "password": "p",
        "company_short_name": "ACME",
        "reports": [{**spec, **report}],
    }


def _run(
    tmp: Path, config: dict[str, t.Any], state: dict[str, t.Any] | None
) -> tuple[list[dict[str, t.Any]], t.Any, str]:
    """Discover, select ``timesheets``, sync (with ``state``): the records, the last STATE, stderr."""
    write_json(tmp / "config.json", config)
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp)
    assert found.returncode == 0, found.stderr
    write_json(tmp / "catalog.json", select_streams(json.loads(found.stdout), {"timesheets"}))
    args = ["--config", "config.json", "--catalog", "catalog.json"]
    if state is not None:
        args += ["--state", write_json(tmp / "state.json", state)]
    synced = run_tap_cli("tap-ukg-ready", args, tmp)
    assert synced.returncode == 0, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states[-1], synced.stderr


def _bookmark(state: dict[str, t.Any]) -> t.Any:
    return state["bookmarks"]["timesheets"]["replication_key_value"]


def test_every_row_the_report_returns_is_emitted_by_default(ready: FakeReady, tmp_path: Path) -> None:
    """Run 2 emits all 5 rows: the corrected EntryId 1 (6.00 hours) and the new undated EntryId 4 too."""
    first, state, _ = _run(tmp_path, _config(ready.url), None)
    assert [r["EntryId"] for r in first] == ["1", "2", "3"]
    assert _bookmark(state) == "2026-12-02"
    ready.body = RUN_2
    second, state, _ = _run(tmp_path, _config(ready.url), state)
    assert [r["EntryId"] for r in second] == ["1", "2", "3", "4", "5"]
    assert {r["EntryId"]: str(r["Hours"]) for r in second}["1"] == "6.0"
    assert _bookmark(state) == "2026-12-03"


def test_lookback_holds_back_only_dated_rows_before_the_window_and_says_so(ready: FakeReady, tmp_path: Path) -> None:
    """``lookback_days: 0``: rows dated before the bookmark are held back and counted; undated rows go out."""
    config = _config(ready.url, lookback_days=0)
    _, state, _ = _run(tmp_path, config, None)
    ready.body = RUN_2
    second, state, err = _run(tmp_path, config, state)
    assert [r["EntryId"] for r in second] == ["2", "3", "4", "5"]
    assert "held back 1 row(s) dated before 2026-12-02" in err
    assert _bookmark(state) == "2026-12-03"
    # A day of lookback reaches the corrected row again.
    ready.body = RUN_2
    again, _, err = _run(
        tmp_path, _config(ready.url, lookback_days=2), {"bookmarks": {"timesheets": state["bookmarks"]["timesheets"]}}
    )
    assert [r["EntryId"] for r in again] == ["1", "2", "3", "4", "5"]
    assert "held back" not in err


def test_lookback_days_is_checked_with_the_settings(tmp_path: Path) -> None:
    from singer_sdk.exceptions import ConfigValidationError

    from xlr8_tap_ukg_ready.tap import UkgReadySettings

    for report, message in [
        ({"lookback_days": -1}, "setting 'reports[0].lookback_days' must be a whole number of days"),
        ({"lookback_days": 3, "replication_key": None}, "setting 'reports[0].lookback_days' needs"),
    ]:
        with pytest.raises(ConfigValidationError) as err:
            UkgReadySettings.from_config(_config("https://h.example", **report))
        assert any(message in e for e in err.value.errors), err.value.errors
