"""Shared fixtures: one UKG WFM emulator per test module (ephemeral port), configs for both auth paths, and an
in-process tap runner returning what the tap wrote."""

from __future__ import annotations

import contextlib
import json
import typing as t
from functools import partial
from pathlib import Path

import requests

from xlr8_kit.testing.faultserver import FaultServer, RecordedRequest, Reply
from xlr8_kit.testing.singer_cli import sync_tap
from xlr8_sandbox.products.ukg_wfm import APPKEY, CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME
from xlr8_sandbox.testing import emulator_fixtures
from xlr8_tap_ukg_wfm.tap import TapUkgWfm

SCALE = 100
#: Sandbox time starts on Monday 2026-01-05 09:00 UTC; these windows lie before it (all punches in).
START, END = "2025-12-22", "2026-01-02"

sandbox, emulator, url = emulator_fixtures("ukg_wfm", scale=SCALE)


def wfm_config(url: str, **extra: t.Any) -> dict[str, t.Any]:
    return {
        "base_url": url,
        "appkey": APPKEY,
        "username": USERNAME,
        "password": PASSWORD,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "timezone": "America/New_York",
        "start_date": START,
        "end_date": END,
        "persons_per_request": 40,
        **extra,
    }


#: ``run_tap(config, streams=..., state=..., fake=...)``: a sync in-process over real HTTP; what the tap wrote.
run_tap = partial(sync_tap, TapUkgWfm)


_HOP_HEADERS = frozenset({"content-length", "content-encoding", "transfer-encoding", "connection"})


def in_batches(tmp_path: Path, settings: dict[str, t.Any], target: dict[str, t.Any]) -> None:
    """Adds to a tap's ``settings`` and a target's ``target`` settings a BATCH run of 7-row jsonl files under
    ``tmp_path / "batches"`` (the tests that land both ways, RECORD and BATCH)."""
    (tmp_path / "batches").mkdir()
    storage = {"root": (tmp_path / "batches").as_uri(), "prefix": "wfm-"}
    encoding = {"format": "jsonl", "compression": "none"}
    settings["batch_config"] = {"encoding": encoding, "storage": storage, "batch_size": 7}
    target["batch_locations"] = [str(tmp_path / "batches")]


@contextlib.contextmanager
def rewriting_proxy(upstream: str, rewrite: t.Callable[[str, t.Any, t.Any], t.Any]) -> t.Iterator[FaultServer]:
    """A server on 127.0.0.1 in front of the emulator: every request forwarded as sent, each JSON answer passed
    through ``rewrite(path, request JSON or None, answer JSON)`` first (a tenant's shape the emulator does not
    serve: an id left out, a page total named differently); a ``Reply`` it returns is answered instead (a
    refusal)."""
    server = FaultServer()

    def forward(request: RecordedRequest) -> Reply:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length")}
        query = f"?{request.raw_query}" if request.raw_query else ""
        answer = requests.request(
            request.method, upstream + request.path + query, headers=headers, data=request.body, timeout=60
        )
        if not answer.headers.get("Content-Type", "").startswith("application/json"):
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
            return Reply(answer.status_code, body=answer.content, headers=kept)
        sent = json.loads(request.body) if request.headers.get("Content-Type") == "application/json" else None
        body = rewrite(request.path, sent, answer.json())
        return body if isinstance(body, Reply) else Reply(answer.status_code, body=body)

    server.route("*", forward)
    with server:
        yield server
