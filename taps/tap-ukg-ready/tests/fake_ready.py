"""A small UKG Ready for tests that need a report's body to change between runs: the v1 login, saved report 1002's
metadata (``columns``) and its CSV body (``body``), and v2 answers a test sets (``v2``), on 127.0.0.1."""

from __future__ import annotations

import json
import typing as t
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl

from xlr8_kit.testing.singer_cli import parse_singer_messages, run_tap_cli, select_streams, write_json

COLUMNS = [
    {"name": "EntryId", "type": "STRING"},
    {"name": "EmployeeId", "type": "STRING"},
    {"name": "WorkDate", "type": "DATE"},
    {"name": "Hours", "type": "DECIMAL"},
]


class FakeReady:
    """The v1 login, one saved report's metadata and its CSV body (``body``, set by the test)."""

    def __init__(self) -> None:
        self.body = ""
        self.columns = list(COLUMNS)
        #: v2 answers by path (query string left off): a JSON body, or a function of the query giving one.
        self.v2: dict[str, t.Any] = {}
        #: Every GET path asked, with its query.
        self.asked: list[str] = []
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
                owner.asked.append(self.path)
                path, _, query = self.path.partition("?")
                if self.headers.get("Authentication") != "Bearer tok-abc":
                    self._send(401, "application/json", "{}")
                elif path in owner.v2:
                    answer = owner.v2[path]
                    answer = answer(dict(parse_qsl(query))) if callable(answer) else answer
                    status, body = answer if isinstance(answer, tuple) else (200, answer)
                    self._send(status, "application/json", json.dumps(body))
                elif self.path == "/ta/rest/v1/report/saved/1002/metadata":
                    self._send(200, "application/json", json.dumps({"name": "Timesheets", "columns": owner.columns}))
                elif self.path == "/ta/rest/v1/report/saved/1002":
                    self._send(200, "text/csv", owner.body)
                else:
                    self._send(404, "application/json", "{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


def report_config(url: str, settings: dict[str, t.Any] | None = None, **report: t.Any) -> dict[str, t.Any]:
    """A config reading report 1002 as ``timesheets`` (``report`` laid over its entry, ``settings`` over the rest)."""
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
        **(settings or {}),
    }


def run_report_cli(
    tmp: Path, config: dict[str, t.Any], state: dict[str, t.Any] | None, returncode: int = 0
) -> tuple[list[dict[str, t.Any]], t.Any, str]:
    """Discover, select ``timesheets``, sync (with ``state``) through the console script: the records, the last
    STATE and stderr (the exit code must be ``returncode``)."""
    write_json(tmp / "config.json", config)
    found = run_tap_cli("tap-ukg-ready", ["--config", "config.json", "--discover"], tmp)
    assert found.returncode == 0, found.stderr
    write_json(tmp / "catalog.json", select_streams(json.loads(found.stdout), {"timesheets"}))
    args = ["--config", "config.json", "--catalog", "catalog.json"]
    if state is not None:
        args += ["--state", write_json(tmp / "state.json", state)]
    synced = run_tap_cli("tap-ukg-ready", args, tmp)
    assert synced.returncode == returncode, synced.stderr
    messages = parse_singer_messages(synced.stdout)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return records, states[-1] if states else None, synced.stderr
