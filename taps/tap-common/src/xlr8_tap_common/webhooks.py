"""``xlr8-common-webhooks``: the receiver for Common's webhooks, a small ASGI app with a durable event store.

Each delivery is checked before anything else happens, on the raw bytes:

- size (at most ``max_body_bytes``, else 413) and a ``Common-Event-Id``;
- ``Common-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]``: HMAC-SHA256 of ``"<t>." + body`` with any of the
  configured secrets (several during a rotation), compared in constant time; missing or malformed headers get 400,
  a wrong signature 401;
- the timestamp within ``tolerance_s`` of now, in the past *and* the future (a replay outside the window: 401);
- the body within ``read_timeout_s`` (a slow client gets 408).

A rejected delivery writes one audit line (JSON: time, reason, claimed event id, client address; never the body
or the signature) and nothing else. An accepted one is committed to the SQLite store (WAL, ``synchronous=FULL``)
before the 200 goes out; the event id is unique, so a retried or replayed delivery is answered 200 and stored
once. Killed before the commit: no 200, the sender retries. Killed after it: the retry is a duplicate.

tap-common reads the store as the ``webhook_events`` stream (``seq`` is the incremental key).

Run: ``XLR8_COMMON_WEBHOOK_SECRETS=<secret>[,<previous>] xlr8-common-webhooks --store events.db --port 8787``
(``pip install xlr8-tap-common[webhooks]`` for the server).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SIGNATURE_HEADER = b"common-signature"
EVENT_ID_HEADER = b"common-event-id"
EVENT_TYPE_HEADER = b"common-event-type"
SECRETS_ENV = "XLR8_COMMON_WEBHOOK_SECRETS"
#: Test seam: ``<marker path>`` makes the next accepted delivery write the marker and wait inside its transaction.
HOLD_ENV = "XLR8_COMMON_WEBHOOKS_HOLD_BEFORE_COMMIT"

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT,
    signed_at INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    payload TEXT NOT NULL
)
"""
#: ``store_id``: a random id the store gets when it is created (or first opened by a receiver that knows it), so a
#: reader's bookmark (a ``seq``) can tell this store from a recreated or replaced one, whose ``seq`` starts again at
#: 1. ``origin``: ``created`` when the store was made with its id, ``adopted`` when an existing store got it (a
#: bookmark written before store ids can only be this store's when it was adopted; absent: adopted).
META_SCHEMA = "CREATE TABLE IF NOT EXISTS store_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


#: Bytes the receiver's WAL is truncated to after a checkpoint (SQLite's ``journal_size_limit``).
JOURNAL_SIZE_LIMIT = 16 * 1024 * 1024


class EventStore:
    """The durable side: one SQLite file, written by the receiver, read by tap-common."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        # a WAL that grew while a reader held it back shrinks to this at the next checkpoint, instead of staying
        self._conn.execute(f"PRAGMA journal_size_limit={JOURNAL_SIZE_LIMIT}")
        self._conn.execute("BEGIN IMMEDIATE")  # a store made by two receivers at once is made once
        try:
            existed = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'webhook_events'").fetchone()
            had_meta = self._conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'store_meta'").fetchone()
            self._conn.execute(SCHEMA)
            self._conn.execute(META_SCHEMA)
            meta = "INSERT OR IGNORE INTO store_meta (name, value) VALUES (?, ?)"
            self._conn.execute(meta, ("store_id", uuid.uuid4().hex))
            if not had_meta:  # a store made by the receiver before origins says nothing: adopted
                self._conn.execute(meta, ("origin", "adopted" if existed else "created"))
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def add(self, event_id: str, event_type: str | None, signed_at: int, payload: bytes) -> bool:
        """Store one event (committed when this returns); False when the id was already stored."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._conn.execute(
                    "INSERT OR IGNORE INTO webhook_events (event_id, event_type, signed_at, received_at, payload) "
                    "VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), ?)",
                    (event_id, event_type, signed_at, payload.decode("utf-8")),
                )
                _hold_if_asked()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return cursor.rowcount == 1

    def close(self) -> None:
        self._conn.close()


#: Rows ``read_events`` takes from SQLite at a time: its memory is this many events, not the whole store.
READ_BATCH = 1000


def read_events(path: str | Path, after_seq: int = 0) -> Iterator[dict[str, Any]]:
    """Events stored after ``after_seq`` and up to the largest ``seq`` stored when the read starts, in order: each
    ``READ_BATCH`` rows is a short query of its own, so no read snapshot is held while the caller works (a held one
    keeps the receiver's checkpoints from resetting its WAL, which then grows with every delivery). Events stored
    meanwhile are the next run's: ``seq`` is AUTOINCREMENT and writes are serialised, so every ``seq`` up to that
    largest one was committed when it was read, and the records and STATE are those of one snapshot."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        last = conn.execute("SELECT max(seq) FROM webhook_events").fetchone()[0]
        seq = after_seq
        while last is not None and seq < last:
            rows = conn.execute(
                "SELECT seq, event_id, event_type, signed_at, received_at, payload FROM webhook_events "
                "WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?",
                (seq, last, READ_BATCH),
            ).fetchall()
            if not rows:
                break
            for seq, event_id, event_type, signed_at, received_at, payload in rows:
                yield {
                    "seq": seq,
                    "event_id": event_id,
                    "event_type": event_type,
                    "signed_at": signed_at,
                    "received_at": received_at,
                    "payload": json.loads(payload),
                }
    finally:
        conn.close()


def store_created_with_id(path: str | Path) -> bool:
    """Whether the store was made with its id (``origin`` ``created``), not given one later."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'store_meta'").fetchone():
            return False
        row = conn.execute("SELECT value FROM store_meta WHERE name = 'origin'").fetchone()
        return bool(row) and row[0] == "created"
    finally:
        conn.close()


def store_position(path: str | Path) -> tuple[str | None, int]:
    """(the store's id, None for a store no receiver of this version opened yet; the largest ``seq`` it ever issued,
    0 when none). ``seq`` is AUTOINCREMENT, so that largest one (``sqlite_sequence``) never goes back in one store,
    also when events are pruned: a bookmark beyond it, or a different id, was read from another store."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        tables = {name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        found = None
        if "store_meta" in tables:
            row = conn.execute("SELECT value FROM store_meta WHERE name = 'store_id'").fetchone()
            found = row[0] if row else None
        issued = None
        if "sqlite_sequence" in tables:
            row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'webhook_events'").fetchone()
            issued = row[0] if row else None
        return found, int(issued or 0)
    finally:
        conn.close()


def event_id_at(path: str | Path, seq: int) -> str | None:
    """The ``event_id`` stored at ``seq``, None when no event is there (never stored, or pruned)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        row = conn.execute("SELECT event_id FROM webhook_events WHERE seq = ?", (seq,)).fetchone()
        return str(row[0]) if row else None
    finally:
        conn.close()


def _hold_if_asked() -> None:
    marker = os.environ.get(HOLD_ENV)
    if marker and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        time.sleep(120)


def parse_signature(header: str) -> tuple[int, list[str]]:
    """``t=<int>,v1=<hex>...`` -> (timestamp, signatures); ValueError when malformed."""
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep or not value:
            raise ValueError("malformed signature header")
        if key == "t":
            if not value.isdigit():
                raise ValueError("non-numeric timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value)
    if timestamp is None or not signatures:
        raise ValueError("signature header needs t= and v1=")
    return timestamp, signatures


def expected_signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


@dataclass
class WebhookReceiver:
    """The ASGI app. ``now`` is injectable; ``audit_path`` receives one JSON line per rejected delivery."""

    store: EventStore
    secrets: Sequence[str]
    tolerance_s: float = 300.0
    max_body_bytes: int = 1_000_000
    #: Seconds a client may take to send its body (a slow client gets 408, RELIABILITY H7).
    read_timeout_s: float = 10.0
    audit_path: str | None = None
    now: Callable[[], float] = time.time
    _audit_lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not self.secrets or not all(self.secrets):
            raise ValueError(f"xlr8-common-webhooks: no signing secret configured (set {SECRETS_ENV})")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST":
            await _answer(send, 405, {"error": "method not allowed"})
            return
        headers = dict(scope.get("headers") or ())
        client = (scope.get("client") or ("?", 0))[0]
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await _answer(send, 413, {"error": "payload too large"})
            return
        body = b""
        deadline = time.monotonic() + self.read_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                self.audit("body not received in time", None, client)
                await _answer(send, 408, {"error": "request body timeout"})
                return
            body += message.get("body", b"")
            if len(body) > self.max_body_bytes:
                await _answer(send, 413, {"error": "payload too large"})
                return
            if not message.get("more_body"):
                break
        status, reason, event_id, signed_at = self.verify(headers, body)
        if status != 200 or event_id is None or signed_at is None:
            self.audit(reason, event_id, client)
            await _answer(send, status, {"error": reason})
            return
        event_type = headers.get(EVENT_TYPE_HEADER, b"").decode("latin-1") or None
        stored = self.store.add(event_id, event_type, signed_at, body)
        await _answer(send, 200, {"received": True, "duplicate": not stored})

    def verify(self, headers: dict[bytes, bytes], body: bytes) -> tuple[int, str, str | None, int | None]:
        """(status, reason, event id, signed timestamp); 200 means store it."""
        event_id = headers.get(EVENT_ID_HEADER, b"").decode("latin-1").strip() or None
        raw = headers.get(SIGNATURE_HEADER, b"").decode("latin-1").strip()
        if not raw:
            return 400, "missing signature header", event_id, None
        if event_id is None:
            return 400, "missing event id header", event_id, None
        try:
            timestamp, signatures = parse_signature(raw)
        except ValueError as exc:
            return 400, str(exc), event_id, None
        if abs(self.now() - timestamp) > self.tolerance_s:
            return 401, "timestamp outside the replay window", event_id, None
        # bytes: ``compare_digest`` refuses a text with non-ASCII characters (TypeError: a 500, no audit line)
        expected = [expected_signature(secret, timestamp, body).encode() for secret in self.secrets]
        given = [sig.encode("latin-1") for sig in signatures]  # the header's own bytes (decoded as latin-1)
        if not any(hmac.compare_digest(sig, want) for sig in given for want in expected):
            return 401, "invalid signature", event_id, None
        try:
            payload = json.loads(body)
        except ValueError:
            return 400, "body is not JSON", event_id, None
        if not isinstance(payload, dict) or payload.get("id") not in (None, event_id):
            return 400, "event id header does not match the body", event_id, None
        return 200, "ok", event_id, timestamp

    def audit(self, reason: str, event_id: str | None, client: str) -> None:
        if self.audit_path is None:
            return
        line = json.dumps(
            {"time": time.time(), "event": "webhook_rejected", "reason": reason, "event_id": event_id, "client": client}
        )
        with self._audit_lock, open(self.audit_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    data = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": data})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="xlr8-common-webhooks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--store", required=True, help="SQLite file for received events (tap-common's webhook_store_path)"
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--tolerance", type=float, default=300.0, help="replay window in seconds (both directions)")
    parser.add_argument("--audit-log", default=None, help="JSON-lines file for rejected deliveries")
    parser.add_argument("--read-timeout", type=float, default=10.0, help="seconds a client may take to send its body")
    args = parser.parse_args(argv)
    secrets = [s for s in os.environ.get(SECRETS_ENV, "").split(",") if s]
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - the extra is missing
        parser.error("the server needs uvicorn: pip install 'xlr8-tap-common[webhooks]'")
    try:
        app = WebhookReceiver(
            EventStore(args.store),
            secrets,
            tolerance_s=args.tolerance,
            read_timeout_s=args.read_timeout,
            audit_path=args.audit_log,
        )
    except ValueError as exc:
        parser.error(str(exc))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False, lifespan="off")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
