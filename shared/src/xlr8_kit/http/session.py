"""Resilient HTTP for every tap: one ``requests.Session`` subclass that owns retries, Retry-After, circuit
breaking, rate limiting, redirect and TLS safety, explicit timeouts and the audit log.

Taps never retry on their own: ``KitRESTStream`` turns the SDK's backoff off (one try) so the total number of
attempts per request is bounded by ``HttpPolicy.max_attempts`` alone (RELIABILITY A14).

CONTRACT (helpers build against this; keep the names):
- ``HttpPolicy``: frozen dataclass of the knobs, built once from the tap's ``http`` config block.
- ``ResilientSession(policy, *, product, credential_id, redactor, audit, clock, sleep)``: ``send()`` applies the
  whole policy and returns the final response (2xx/3xx, or a non-retriable 4xx for the stream to classify), or
  raises one of ``xlr8_kit.http.errors``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from xlr8_kit.redaction import Redactor


@dataclass(frozen=True)
class HttpPolicy:
    """Retry, timeout and protection knobs. Defaults suit a SaaS HR/ERP API over a WAN."""

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 600.0
    max_elapsed: float = 1800.0
    requests_per_second: float | None = None
    breaker_fail_max: int = 5
    breaker_reset_timeout: float = 30.0
    allow_loopback_http: bool = True
    audit_path: str | None = None


class ResilientSession(requests.Session):
    """See module docstring. Minimal pass-through until the resilient layer lands."""

    def __init__(
        self,
        policy: HttpPolicy | None = None,
        *,
        product: str = "unknown",
        credential_id: str | None = None,
        redactor: Redactor | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__()
        self.policy = policy or HttpPolicy()
        self.product = product
        self.credential_id = credential_id
        self.redactor = redactor or Redactor()
        self.clock = clock
        self.sleep = sleep

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", (self.policy.connect_timeout, self.policy.read_timeout))
        return super().send(request, **kwargs)
