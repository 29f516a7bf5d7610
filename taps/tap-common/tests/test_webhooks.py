"""The ``xlr8-common-webhooks`` receiver as users run it (its console script on 127.0.0.1), fed by the Common
emulator's own signed sender: good deliveries stored once, replays deduped, bad signatures and stale or future
timestamps rejected with an audit line, a receiver SIGKILLed inside its write loses and doubles nothing, and
tap-common reads the store as the incremental ``webhook_events`` stream (RELIABILITY H2-H5)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from xlr8_sandbox.products.common import EMAIL, PASSWORD, CommonEmulator
from xlr8_sandbox.products.common.webhooks import WebhookSender, sign
from xlr8_tap_common.webhooks import HOLD_ENV, SECRETS_ENV, read_events

from .conftest import common_config, run_tap

BIN = Path(sys.executable).parent
SECRET = "whsec-CANARY-9f2c"
OLD_SECRET = "whsec-previous-1a7e"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    def __init__(self, tmp: Path) -> None:
        self.store = tmp / "events.db"
        self.audit = tmp / "rejected.jsonl"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks/common"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, **env: str) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "xlr8-common-webhooks"), "--store", str(self.store), "--port", str(self.port),
             "--audit-log", str(self.audit)],
            env={**os.environ, SECRETS_ENV: f"{SECRET},{OLD_SECRET}", **env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:  # this process answering (its 405 for GET), not a dying predecessor's socket
                if requests.get(self.url, timeout=1).status_code == 405:
                    return
            except requests.RequestException:
                assert self.proc.poll() is None, "receiver exited at start"
                assert time.monotonic() < deadline, "receiver never listened"
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    def events(self) -> list[dict[str, Any]]:
        return list(read_events(self.store)) if self.store.exists() else []

    def audit_lines(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.audit.read_text().splitlines()] if self.audit.exists() else []


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = Receiver(tmp_path)
    running.start()
    yield running
    running.stop()


def _sender(receiver: Receiver, **kwargs: Any) -> WebhookSender:
    options: dict[str, Any] = {"max_attempts": 3, **kwargs}
    return WebhookSender(url=receiver.url, secret=SECRET, sleep=lambda s: None, **options)


def test_h5_delivery_stored_once_and_replay_deduped(receiver: Receiver) -> None:
    sender = _sender(receiver)
    event = sender.enqueue("purchase_order.updated", {"id": "po-1"}, "2026-01-05T10:00:00Z")
    assert [d.status for d in sender.flush()] == [200]
    sender.deliver(event)  # the same event again (a retry after a lost 200, or a replay within the window)
    stored = receiver.events()
    assert [e["event_id"] for e in stored] == [event.id]
    assert stored[0]["payload"]["data"] == {"id": "po-1"}
    rotated = WebhookSender(url=receiver.url, secret=OLD_SECRET, sleep=lambda s: None)
    rotated.enqueue("purchase_order.created", {"id": "po-2"}, "2026-01-05T10:01:00Z")
    assert [d.status for d in rotated.flush()] == [200]  # H6: the previous secret still valid in the rotation
    assert len(receiver.events()) == 2


def test_h2_h3_bad_signature_401_with_audit_line_and_nothing_stored(receiver: Receiver) -> None:
    forged = WebhookSender(url=receiver.url, secret="not-the-secret", sleep=lambda s: None, max_attempts=1)
    forged.enqueue("purchase_order.updated", {"id": "po-1"}, "2026-01-05T10:00:00Z")
    assert [d.status for d in forged.flush()] == [401]
    body = json.dumps({"id": "evt_x", "type": "t", "data": {}}).encode()
    stamp = int(time.time())
    tampered = requests.post(
        receiver.url,
        data=body.replace(b"{}", b"{ }"),  # one byte changed after signing
        headers={"Common-Signature": sign(SECRET, stamp, body), "Common-Event-Id": "evt_x"},
        timeout=10,
    )
    assert tampered.status_code == 401
    missing = requests.post(receiver.url, data=body, headers={"Common-Event-Id": "evt_x"}, timeout=10)
    assert missing.status_code == 400
    garbled = requests.post(
        receiver.url, data=body, headers={"Common-Signature": "t=abc,v1=00", "Common-Event-Id": "evt_x"}, timeout=10
    )
    assert garbled.status_code == 400
    assert receiver.events() == []
    reasons = [line["reason"] for line in receiver.audit_lines()]
    assert reasons.count("invalid signature") == 2
    assert "missing signature header" in reasons
    text = receiver.audit.read_text()
    assert SECRET not in text
    assert "v1=" not in text  # no signature in the audit


def test_a_signature_with_non_ascii_bytes_is_a_401_with_its_audit_line(receiver: Receiver) -> None:
    """A forged signature holding non-ASCII bytes is refused as every wrong signature is (401, one audit line),
    not a 500 from the comparison (``compare_digest`` refuses such a text) with no audit line."""
    body = json.dumps({"id": "evt_y", "type": "t", "data": {}}).encode()
    forged = f"t={int(time.time())},v1=\u00e9{sign(SECRET, int(time.time()), body)[-63:]}"
    answer = requests.post(receiver.url, data=body, headers={"Common-Signature": forged, "Common-Event-Id": "evt_y"},
                           timeout=10)  # fmt: skip
    assert answer.status_code == 401
    assert receiver.events() == []
    assert [(line["reason"], line["event_id"]) for line in receiver.audit_lines()] == [("invalid signature", "evt_y")]


@pytest.mark.parametrize("skew", [-600, 600])
def test_h4_stale_or_future_timestamp_rejected(receiver: Receiver, skew: int) -> None:
    sender = _sender(receiver, now=lambda: time.time() + skew, max_attempts=1)
    sender.enqueue("purchase_order.updated", {"id": "po-1"}, "2026-01-05T10:00:00Z")
    assert [d.status for d in sender.flush()] == [401]
    assert receiver.events() == []
    assert [line["reason"] for line in receiver.audit_lines()] == ["timestamp outside the replay window"]


def test_receiver_killed_mid_write_loses_and_doubles_nothing(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path)
    marker = tmp_path / "holding"
    receiver.start(**{HOLD_ENV: str(marker)})
    restarted = threading.Event()

    def kill_when_holding() -> None:
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.proc is not None
        os.kill(receiver.proc.pid, signal.SIGKILL)  # inside the transaction, before the commit and the 200
        receiver.proc.wait()

    def restart_before_retry(seconds: float) -> None:
        del seconds
        if not restarted.is_set():
            restarted.set()
            killer.join(timeout=60)  # the killed receiver is gone before its successor starts
            receiver.start()  # the marker exists now: the restarted receiver does not hold

    killer = threading.Thread(target=kill_when_holding)
    killer.start()
    try:
        sender = WebhookSender(url=receiver.url, secret=SECRET, sleep=restart_before_retry, max_attempts=5, timeout=20)
        first = sender.enqueue("erp_sync.pending_update", {"id": "upd-1"}, "2026-01-05T10:00:00Z")
        second = sender.enqueue("erp_sync.pending_update", {"id": "upd-2"}, "2026-01-05T11:00:00Z")
        deliveries = sender.flush()
        killer.join(timeout=60)
        assert deliveries[0].status is None  # the killed attempt got no answer
        assert deliveries[-1].status == 200
        assert sender.failed == []
        assert [e["event_id"] for e in receiver.events()] == [first.id, second.id]  # once each, in order
    finally:
        receiver.stop()


def test_tap_reads_webhook_events_incrementally(receiver: Receiver, url: str) -> None:
    sender = _sender(receiver)
    for n in range(3):
        sender.enqueue("purchase_order.updated", {"id": f"po-{n}"}, "2026-01-05T10:00:00Z")
    sender.flush()
    config = common_config(url, webhook_store_path=str(receiver.store))
    first = run_tap(config, streams={"webhook_events"})
    assert [r["payload"]["data"]["id"] for r in first.records("webhook_events")] == ["po-0", "po-1", "po-2"]
    sender.enqueue("amendment.proposed", {"id": "am-1"}, "2026-01-05T11:00:00Z")
    sender.flush()
    second = run_tap(config, streams={"webhook_events"}, state=first.state)
    ids = [r["payload"]["data"]["id"] for r in second.records("webhook_events")]
    assert ids[-1] == "am-1"
    assert len(ids) <= 2  # the boundary event (seq >= bookmark) and the new one


def test_common_pushes_to_the_receiver_and_the_tap_reads_it(
    receiver: Receiver, url: str, emulator: CommonEmulator
) -> None:
    """The whole path: Common's own sender (configured through its API) -> xlr8-common-webhooks -> webhook_events."""
    session = requests.Session()
    token = session.post(url + "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=10).json()[
        "access_token"
    ]
    session.headers["Authorization"] = f"Bearer {token}"
    configured = session.post(
        url + "/api/v1/erp-sync/webhooks", json={"url": receiver.url, "secret": SECRET}, timeout=10
    )
    assert configured.status_code == 200
    tested = session.post(url + "/api/v1/erp-sync/webhook-test", timeout=30).json()
    assert tested["delivered"] is True
    emulator.deliver_webhooks()  # the pending ERP-sync updates that exist now
    events = receiver.events()
    assert events[0]["event_type"] == "webhook.test"
    pending = {u.id for u in emulator.data.pending_updates()}
    assert {e["payload"]["data"]["id"] for e in events if e["event_type"] == "erp_sync.pending_update"} == pending
    out = run_tap(common_config(url, webhook_store_path=str(receiver.store)), streams={"webhook_events"})
    assert [r["event_id"] for r in out.records("webhook_events")] == [e["event_id"] for e in events]


def test_h7_oversized_body_and_slow_client(tmp_path: Path) -> None:
    receiver = Receiver(tmp_path)
    receiver.start()
    try:
        huge = requests.post(receiver.url, data=b"x" * 1_000_001, headers={"Common-Event-Id": "e"}, timeout=10)
        assert huge.status_code == 413
        receiver.stop()
        receiver.proc = subprocess.Popen(
            [str(BIN / "xlr8-common-webhooks"), "--store", str(receiver.store), "--port", str(receiver.port),
             "--audit-log", str(receiver.audit), "--read-timeout", "0.5"],
            env={**os.environ, SECRETS_ENV: SECRET}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(receiver.url, timeout=1)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline
                time.sleep(0.05)
        with socket.create_connection(("127.0.0.1", receiver.port), timeout=10) as sock:
            sock.sendall(b'POST /hooks/common HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{"id":')  # then stall
            answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408")
        assert receiver.events() == []
        assert [line["reason"] for line in receiver.audit_lines()] == ["body not received in time"]
    finally:
        receiver.stop()
