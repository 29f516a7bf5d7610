"""The Common write client: the kit's resilient session (retries, Retry-After, breaker, audit, redaction) and
tap-common's authenticators, plus the look-ups the sink needs (a PO by number, supplier companies by ERP id)."""

from __future__ import annotations

import json
import os
import typing as t
from dataclasses import dataclass
from functools import cached_property

import requests

from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.redaction import Redactor
from xlr8_tap_common.auth import build_authenticator
from xlr8_tap_common.settings import CommonSettings


@dataclass(frozen=True)
class CommonError(Exception):
    """A business answer from Common (4xx in its error format): goes to the dead letters, not a retry."""

    status: int
    error_code: str
    detail: str
    request_id: str | None

    def __str__(self) -> str:
        return f"HTTP {self.status} {self.error_code}: {self.detail} (request_id {self.request_id})"


class CommonRouteError(RuntimeError):
    """Common has no such method on the route (405): the tenant's API is not the one this target speaks, so every
    record of that kind would be refused; a configuration error that stops the run, never a dead letter."""


def _verdict(response: requests.Response) -> t.Any:
    status = response.status_code
    if status == 429 or status >= 500:
        return "retry" if status != 501 else "fatal"
    if status == 401:
        return "auth"
    return "ok"  # 2xx, and 4xx business answers the sink turns into dead letters


class CommonClient:
    def __init__(self, settings: CommonSettings, policy: HttpPolicy, redactor: Redactor) -> None:
        self.settings = settings
        self.redactor = redactor
        self.session = ResilientSession(
            policy,
            product="common",
            credential_id=None,
            redactor=redactor,
            run_id=os.environ.get("XLR8_RUN_ID") or os.environ.get("MELTANO_RUN_ID"),
        )
        self.auth = build_authenticator(settings, self.session, redactor)

    def call(self, method: str, path: str, body: dict[str, t.Any] | None = None, **params: t.Any) -> t.Any:
        """One logical request; Common's 4xx answers raise ``CommonError`` (with its request_id)."""
        response = self.session.request(
            method,
            self.settings.api_url + path,
            params={k: v for k, v in params.items() if v is not None} or None,
            data=json.dumps(body, default=str) if body is not None else None,
            headers={"Accept": "application/json", **({"Content-Type": "application/json"} if body else {})},
            classify=_verdict,
            authenticate=self.auth,
        )
        if response.status_code == 405:
            raise CommonRouteError(
                f"target-common: Common refuses {method} {path.split('?')[0]} (HTTP 405, allows "
                f"{response.headers.get('Allow') or 'nothing said'}); this tenant's API differs from the one "
                "target-common writes to, so the run stops before any state past this record"
            )
        if response.status_code >= 400:
            try:
                payload = response.json()
            except ValueError:
                payload = {}
            payload = payload if isinstance(payload, dict) else {}
            raise CommonError(
                response.status_code,
                str(payload.get("error_code") or f"HTTP_{response.status_code}"),
                self.redactor.redact(str(payload.get("detail") or response.text[:300])),
                payload.get("request_id") or response.headers.get("X-Request-ID"),
            )
        return response.json() if response.content else None

    def list_all(self, path: str, **params: t.Any) -> list[dict[str, t.Any]]:
        rows: list[dict[str, t.Any]] = []
        cursor = None
        while True:
            page = self.call("GET", path, limit=500, cursor=cursor, **params)
            rows.extend(page["data"])
            if not page.get("has_more"):
                return rows
            cursor = page["next_cursor"]

    def find_po(self, po_number: str) -> dict[str, t.Any] | None:
        found = self.call("GET", "/purchase-orders", po_number=po_number, limit=1)["data"]
        return found[0] if found else None

    @cached_property
    def suppliers_by_erp_id(self) -> dict[str, str]:
        """ERP supplier number -> Common supplier company id (read once per run)."""
        rows = self.list_all("/companies", company_type="supplier")
        return {str(r["erp_supplier_id"]): r["id"] for r in rows if r.get("erp_supplier_id")}

    def close(self) -> None:
        self.session.close()
