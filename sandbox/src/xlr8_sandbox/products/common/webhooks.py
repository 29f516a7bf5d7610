"""Common's outgoing webhooks: signed deliveries with retries (what a customer's receiver must verify).

Each delivery is a JSON POST with ``Common-Event-Id``, ``Common-Event-Type`` and
``Common-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`` (the secret is the endpoint's
signing secret). A delivery that does not get a 2xx is retried up to ``max_attempts`` times with doubling waits,
and each retry is signed afresh (new ``t``) with the same event id, so the receiver dedupes by that id.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests

SIGNATURE_HEADER = "Common-Signature"
EVENT_ID_HEADER = "Common-Event-Id"
EVENT_TYPE_HEADER = "Common-Event-Type"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The header value Common sends: ``t=<timestamp>,v1=<hex digest>``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@dataclass
class WebhookEvent:
    id: str
    type: str
    data: dict[str, Any]
    created_at: str

    def body(self) -> bytes:
        return json.dumps(
            {"id": self.id, "type": self.type, "created_at": self.created_at, "data": self.data}, sort_keys=True
        ).encode()


@dataclass
class Delivery:
    event_id: str
    attempt: int
    status: int | None
    error: str | None = None


@dataclass
class WebhookSender:
    """Delivers queued events to one endpoint; ``now`` and ``sleep`` are injectable (tests need no waiting)."""

    url: str | None = None
    secret: str = ""
    max_attempts: int = 5
    first_wait: float = 0.5
    timeout: float = 5.0
    now: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    outbox: list[WebhookEvent] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    failed: list[WebhookEvent] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def enqueue(self, event_type: str, data: dict[str, Any], created_at: str) -> WebhookEvent:
        event = WebhookEvent(f"evt_{uuid.uuid4().hex}", event_type, data, created_at)
        with self._lock:
            self.outbox.append(event)
        return event

    def flush(self) -> list[Delivery]:
        """Send every queued event (oldest first); events that exhaust their attempts go to ``failed``."""
        with self._lock:
            events, self.outbox = self.outbox, []
        results: list[Delivery] = []
        for event in events:
            results.extend(self.deliver(event))
        return results

    def deliver(self, event: WebhookEvent) -> list[Delivery]:
        if not self.url:
            with self._lock:
                self.failed.append(event)
            return []
        body = event.body()
        attempts: list[Delivery] = []
        wait = self.first_wait
        for attempt in range(1, self.max_attempts + 1):
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(self.secret, int(self.now()), body),
                EVENT_ID_HEADER: event.id,
                EVENT_TYPE_HEADER: event.type,
            }
            try:
                response = requests.post(self.url, data=body, headers=headers, timeout=self.timeout)
                delivery = Delivery(event.id, attempt, response.status_code)
            except requests.RequestException as exc:
                delivery = Delivery(event.id, attempt, None, type(exc).__name__)
            attempts.append(delivery)
            with self._lock:
                self.deliveries.append(delivery)
            if delivery.status is not None and 200 <= delivery.status < 300:
                return attempts
            if attempt < self.max_attempts:
                self.sleep(wait)
                wait *= 2
        with self._lock:
            self.failed.append(event)
        return attempts

    def reset(self) -> None:
        with self._lock:
            self.url = None
            self.secret = ""
            self.outbox.clear()
            self.deliveries.clear()
            self.failed.clear()
