"""A small HashiCorp Vault stand-in on 127.0.0.1 for tests: the subset of Vault's HTTP API the credential
backend uses, with Vault's own paths, status codes and ``{"errors": [...]}`` shapes.

KV v2 (``/v1/<mount>/data|metadata/<path>``): read (optionally ``?version=``), write with ``options.cas``
(0 = create only; mismatch = 400 "check-and-set parameter did not match the current version"), LIST, metadata read,
``custom_metadata`` update, delete. Transit (``/v1/<mount>/keys|encrypt|decrypt|rewrap/<name>``): aes256-gcm96 keys
with versions, ``derived`` keys (HKDF of the key with the request ``context``), rotate, ``min_decryption_version``,
ciphertexts ``vault:v<N>:<base64(nonce|ciphertext|tag)>``. Auth: ``X-Vault-Token`` must match, else 403
"permission denied". ``fail_next`` injects 5xx/429 answers; ``lose_answer_next`` applies a request and then drops
the connection without answering (a write that landed whose answer was lost); ``requests`` counts every request
served.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CAS_MISMATCH = "check-and-set parameter did not match the current version"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class VaultError(Exception):
    def __init__(self, status: int, *errors: str) -> None:
        super().__init__(status, errors)
        self.status = status
        self.errors = list(errors)


@dataclass
class _KvEntry:
    versions: dict[int, dict[str, Any]] = field(default_factory=dict)
    created: dict[int, str] = field(default_factory=dict)
    custom_metadata: dict[str, str] | None = None

    @property
    def current(self) -> int:
        return max(self.versions, default=0)


@dataclass
class _TransitKey:
    derived: bool
    keys: dict[int, bytes] = field(default_factory=dict)
    min_decryption_version: int = 1

    @property
    def latest(self) -> int:
        return max(self.keys)

    def key_for(self, version: int, context: bytes | None) -> bytes:
        key = self.keys[version]
        if not self.derived:
            return key
        if not context:
            raise VaultError(400, "missing 'context' for key derivation; the key was created using a derived key")
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=context).derive(key)


class VaultState:
    def __init__(self, token: str) -> None:
        self.token = token
        self.kv: dict[tuple[str, str], _KvEntry] = {}
        self.transit: dict[tuple[str, str], _TransitKey] = {}
        self.requests: list[tuple[str, str]] = []
        self.injected: list[tuple[int, str]] = []
        #: (method, path fragment) of requests to apply and then leave unanswered, each once, in order.
        self.lose: list[tuple[str, str, int]] = []
        self.lock = threading.Lock()

    # -- KV v2 ------------------------------------------------------------------------------------------------
    def kv_read(self, mount: str, path: str, version: int | None) -> dict[str, Any]:
        entry = self.kv.get((mount, path))
        if entry is None or not entry.versions:
            raise VaultError(404)
        number = version or entry.current
        if number not in entry.versions:
            raise VaultError(404)
        return {
            "data": entry.versions[number],
            "metadata": {
                "created_time": entry.created[number],
                "custom_metadata": entry.custom_metadata,
                "deletion_time": "",
                "destroyed": False,
                "version": number,
            },
        }

    def kv_write(self, mount: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = body.get("data")
        if not isinstance(data, dict):
            raise VaultError(400, "no data provided")
        entry = self.kv.setdefault((mount, path), _KvEntry())
        cas = (body.get("options") or {}).get("cas")
        if cas is not None and int(cas) != entry.current:
            raise VaultError(400, CAS_MISMATCH)
        number = entry.current + 1
        entry.versions[number] = data
        entry.created[number] = _now()
        return {"created_time": entry.created[number], "custom_metadata": entry.custom_metadata,
                "deletion_time": "", "destroyed": False, "version": number}  # fmt: skip

    def kv_metadata(self, mount: str, path: str) -> dict[str, Any]:
        entry = self.kv.get((mount, path))
        if entry is None:
            raise VaultError(404)
        return {
            "current_version": entry.current,
            "custom_metadata": entry.custom_metadata,
            "versions": {
                str(n): {"created_time": entry.created[n], "deletion_time": "", "destroyed": False}
                for n in entry.versions
            },
        }

    def kv_list(self, mount: str, path: str) -> dict[str, Any]:
        prefix = path.rstrip("/") + "/" if path else ""
        keys: set[str] = set()
        for m, p in self.kv:
            if m == mount and p.startswith(prefix):
                rest = p[len(prefix) :]
                keys.add(rest.split("/", 1)[0] + ("/" if "/" in rest else ""))
        if not keys:
            raise VaultError(404)
        return {"keys": sorted(keys)}

    # -- transit ----------------------------------------------------------------------------------------------
    def transit_key(self, mount: str, name: str) -> _TransitKey:
        key = self.transit.get((mount, name))
        if key is None:
            raise VaultError(400, "encryption key not found")
        return key

    def seal(self, key: _TransitKey, plaintext_b64: str, context: bytes | None) -> dict[str, Any]:
        plaintext = _b64(plaintext_b64, "plaintext")
        version = key.latest
        nonce = os.urandom(12)
        sealed = AESGCM(key.key_for(version, context)).encrypt(nonce, plaintext, None)
        return {"ciphertext": f"vault:v{version}:" + base64.b64encode(nonce + sealed).decode(), "key_version": version}

    def unseal(self, key: _TransitKey, ciphertext: str, context: bytes | None) -> bytes:
        match = re.fullmatch(r"vault:v(\d+):([A-Za-z0-9+/=]+)", ciphertext or "")
        if not match:
            raise VaultError(400, "invalid ciphertext: no prefix")
        version = int(match.group(1))
        if version < key.min_decryption_version:
            raise VaultError(400, "ciphertext or signature version is disallowed by policy (too old)")
        if version not in key.keys:
            raise VaultError(400, "invalid key version")
        raw = base64.b64decode(match.group(2))
        try:
            return AESGCM(key.key_for(version, context)).decrypt(raw[:12], raw[12:], None)
        except (InvalidTag, ValueError):
            raise VaultError(400, "cipher: message authentication failed") from None


def _b64(value: Any, name: str) -> bytes:
    try:
        return base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        raise VaultError(400, f"failed to base64-decode {name}") from None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read state, not logs
        return

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_LIST(self) -> None:
        self._dispatch("LIST")

    def _dispatch(self, method: str) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if method == "GET" and query.get("list") == ["true"]:
            method = "LIST"
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        with state.lock:
            state.requests.append((method, url.path))
            injected = state.injected.pop(0) if state.injected else None
        try:
            if injected is not None:
                raise VaultError(*injected)
            if self.headers.get("X-Vault-Token") != state.token:
                raise VaultError(403, "permission denied")
            body = json.loads(raw) if raw else {}
            with state.lock:
                status, payload = self._route(state, method, url.path, body, query)
                lost = next((x for x in state.lose[:1] if x[0] == method and x[1] in url.path), None)
                if lost is not None:
                    state.lose.pop(0)
                    state.injected[:0] = [(503, "Vault is sealed")] * lost[2]
            if lost is not None:  # applied; the answer never reaches the client
                self.close_connection = True
                return
        except VaultError as exc:
            status, payload = exc.status, {"errors": exc.errors}
        except json.JSONDecodeError:
            status, payload = 400, {"errors": ["failed to parse JSON input"]}
        self._send(status, payload)

    def _route(
        self, state: VaultState, method: str, path: str, body: dict[str, Any], query: dict[str, list[str]]
    ) -> tuple[int, dict[str, Any] | None]:
        parts = path.split("/")
        if len(parts) < 4 or parts[1] != "v1":
            raise VaultError(404)
        mount, kind, rest = parts[2], parts[3], "/".join(parts[4:])
        if (mount, "transit") in self.server.mounts:
            return self._transit(state, method, mount, kind, rest, body)
        if (mount, "kv") not in self.server.mounts:
            raise VaultError(403, "permission denied")  # Vault answers unknown mounts like missing policy
        if kind == "data" and method == "GET":
            version = int(query["version"][0]) if "version" in query else None
            return 200, _wrap(state.kv_read(mount, rest, version))
        if kind == "data" and method == "POST":
            return 200, _wrap(state.kv_write(mount, rest, body))
        if kind == "metadata" and method == "LIST":
            return 200, _wrap(state.kv_list(mount, rest))
        if kind == "metadata" and method == "GET":
            return 200, _wrap(state.kv_metadata(mount, rest))
        if kind == "metadata" and method == "POST":
            entry = state.kv.setdefault((mount, rest), _KvEntry())
            if "custom_metadata" in body:
                entry.custom_metadata = {str(k): str(v) for k, v in (body["custom_metadata"] or {}).items()}
            return 204, None
        if kind == "metadata" and method == "DELETE":
            state.kv.pop((mount, rest), None)
            return 204, None
        raise VaultError(405, "unsupported operation")

    def _transit(
        self, state: VaultState, method: str, mount: str, kind: str, rest: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any] | None]:
        name, _, action = rest.partition("/")
        context = _b64(body["context"], "context") if body.get("context") else None
        if kind == "keys" and not action and method == "POST":
            if body.get("type", "aes256-gcm96") != "aes256-gcm96":
                raise VaultError(400, "this stand-in supports only aes256-gcm96 keys")
            key = state.transit.setdefault((mount, name), _TransitKey(derived=bool(body.get("derived"))))
            if not key.keys:
                key.keys[1] = os.urandom(32)
            return 204, None
        key = state.transit_key(mount, name)
        if kind == "keys" and not action and method == "GET":
            return 200, _wrap({
                "name": name, "type": "aes256-gcm96", "derived": key.derived, "latest_version": key.latest,
                "min_decryption_version": key.min_decryption_version, "supports_encryption": True,
                "keys": {str(v): 0 for v in key.keys},
            })  # fmt: skip
        if kind == "keys" and action == "rotate" and method == "POST":
            key.keys[key.latest + 1] = os.urandom(32)
            return 200, _wrap({"latest_version": key.latest})
        if kind == "keys" and action == "config" and method == "POST":
            if "min_decryption_version" in body:
                key.min_decryption_version = int(body["min_decryption_version"])
            return 200, _wrap({"min_decryption_version": key.min_decryption_version})
        if kind == "encrypt" and method == "POST":
            return 200, _wrap(state.seal(key, body.get("plaintext", ""), context))
        if kind == "decrypt" and method == "POST":
            plain = state.unseal(key, body.get("ciphertext", ""), context)
            return 200, _wrap({"plaintext": base64.b64encode(plain).decode()})
        if kind == "rewrap" and method == "POST":
            plain = state.unseal(key, body.get("ciphertext", ""), context)
            return 200, _wrap(state.seal(key, base64.b64encode(plain).decode(), context))
        raise VaultError(405, "unsupported operation")

    def _send(self, status: int, payload: dict[str, Any] | None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _wrap(data: dict[str, Any]) -> dict[str, Any]:
    return {"request_id": os.urandom(8).hex(), "lease_id": "", "renewable": False, "lease_duration": 0,
            "data": data, "wrap_info": None, "warnings": None, "auth": None}  # fmt: skip


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    state: VaultState
    mounts: set[tuple[str, str]]


class VaultStandIn:
    """``with VaultStandIn() as vault:`` then point hvac at ``vault.url`` with ``vault.token``."""

    def __init__(self, token: str | None = None, *, kv_mount: str = "secret", transit_mount: str = "transit") -> None:
        self.token = token or "hvs." + os.urandom(12).hex()
        self.state = VaultState(self.token)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._server.mounts = {(kv_mount, "kv"), (transit_mount, "transit")}
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="vault-standin", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def requests(self) -> list[tuple[str, str]]:
        return list(self.state.requests)

    def create_transit_key(self, name: str, *, derived: bool = True, mount: str = "transit") -> None:
        """What ``vault write transit/keys/<name> derived=true`` does."""
        with self.state.lock:
            self.state.transit[(mount, name)] = _TransitKey(derived=derived, keys={1: os.urandom(32)})

    def rotate_transit_key(self, name: str, *, mount: str = "transit") -> int:
        """What ``vault write -f transit/keys/<name>/rotate`` does; returns the new latest version."""
        with self.state.lock:
            key = self.state.transit_key(mount, name)
            key.keys[key.latest + 1] = os.urandom(32)
            return key.latest

    def set_min_decryption_version(self, name: str, version: int, *, mount: str = "transit") -> None:
        with self.state.lock:
            self.state.transit_key(mount, name).min_decryption_version = version

    def kv_latest(self, path: str, *, mount: str = "secret") -> dict[str, Any]:
        """The newest KV v2 data at ``path`` as stored (mutable: tests tamper with it)."""
        entry = self.state.kv[(mount, path)]
        return entry.versions[entry.current]

    def kv_dump(self) -> str:
        """Everything the KV mounts hold, as text, for residue scans."""
        with self.state.lock:
            return json.dumps({"/".join(k): v.versions for k, v in self.state.kv.items()}, default=str)

    def fail_next(self, status: int, error: str, times: int = 1) -> None:
        with self.state.lock:
            self.state.injected.extend([(status, error)] * times)

    def lose_answer_next(self, method: str, path_fragment: str, *, then_sealed: int = 0) -> None:
        """Apply the next ``method`` request whose path contains ``path_fragment``, then close the connection
        unanswered: what a client sees when a write landed but its answer was cut (a reset, a proxy timeout).
        ``then_sealed``: the next that many requests are answered 503 "Vault is sealed" (the client's re-sends)."""
        with self.state.lock:
            self.state.lose.append((method, path_fragment, then_sealed))

    def start(self) -> VaultStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> VaultStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def running_vault(token: str | None = None) -> Iterator[VaultStandIn]:
    with VaultStandIn(token) as vault:
        yield vault
