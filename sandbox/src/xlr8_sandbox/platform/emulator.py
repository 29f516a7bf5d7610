"""The contract between the sandbox platform and each product's emulator.

A product emulator is a class in ``xlr8_sandbox/products/<product>.py`` (or a package of that name) that
subclasses ``ProductEmulator`` and is listed in ``xlr8_sandbox.products.EMULATORS``. The platform serves each
product on its own 127.0.0.1 port (its "instance URL"), wraps it with request logging and fault/latency
injection, and hands it a ``SandboxContext``: the shared fictional company, a token store, and a clock.

Optional hooks an emulator overrides to speak its vendor's shape under injected faults: ``quota_error_response``
(fault kind ``quota``), ``error_body_response`` (``error_body``) and ``insert_records`` (``insert_records``);
and ``reset``, which ``Sandbox.reset()`` and ``POST /__sandbox/reset`` call on every emulator of the sandbox.
"""

from __future__ import annotations

import abc
import json
import weakref
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute

from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.clock import SandboxClock
from xlr8_sandbox.platform.faults import FaultRegistry
from xlr8_sandbox.platform.requestlog import RequestLog
from xlr8_sandbox.platform.tokens import TokenStore


@dataclass(frozen=True)
class FaultResponse:
    """A canned response the platform sends instead of the emulator's (vendor-shaped error bodies)."""

    status: int
    body: str
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SandboxContext:
    """Shared by every emulator of one sandbox process."""

    company: Company
    clock: SandboxClock = field(default_factory=SandboxClock)
    tokens: TokenStore = field(default_factory=TokenStore)
    options: dict[str, Any] = field(default_factory=dict)
    faults: FaultRegistry = field(default_factory=FaultRegistry)
    requests: RequestLog = field(default_factory=RequestLog)
    #: The emulators serving this context (each registers itself), so a reset reaches every product's own state.
    emulators: weakref.WeakSet[ProductEmulator] = field(default_factory=weakref.WeakSet, repr=False, compare=False)

    def __post_init__(self) -> None:
        # The company's data changes with sandbox time: give it this sandbox's clock unless it has one.
        if self.company.clock is None:
            self.company.clock = self.clock


class ProductEmulator(abc.ABC):
    """One vendor product speaking its real wire protocol."""

    #: Registry product id, e.g. ``salesforce``.
    product_id: str = ""
    #: Human title for the sandbox banner.
    title: str = ""
    #: Seconds an idle keep-alive connection stays open before the server closes it (the vendor's, where known;
    #: uvicorn's default of 5 s resets pooled connections far sooner than most vendors' load balancers do).
    keep_alive_seconds: float = 5.0
    #: Send the ``Date`` header in sandbox time (the clock the emulator's change stamps follow), not uvicorn's
    #: wall clock: a client that reads the server's time (a bookmark capped at the read's start) sees one clock.
    sandbox_date_header: bool = False

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        ctx.emulators.add(self)

    @abc.abstractmethod
    def routes(self) -> list[BaseRoute]:
        """Starlette routes on the vendor's real base paths (e.g. ``/services/data/v60.0/query``)."""

    @abc.abstractmethod
    def test_credentials(self) -> dict[str, str]:
        """The credentials this emulator accepts (printed by ``xlr8-sandbox``, used by the sandbox env)."""

    def quota_error_response(self) -> FaultResponse:
        """The vendor's "quota exhausted" answer (override for the vendor's real shape)."""
        return FaultResponse(
            429, json.dumps({"error": "quota_exceeded", "message": "API request quota exhausted for this tenant"})
        )

    def error_body_response(self) -> FaultResponse:
        """A 200 OK carrying an error, in the vendor's shape (override: SOAP fault, HTML login page, ...)."""
        return FaultResponse(200, json.dumps({"status": "ERROR", "message": "internal processing error"}))

    def insert_records(self, count: int) -> None:
        """Records created by someone else while a client pages (override to insert where the vendor sorts).

        The default hires ``count`` employees at the current sandbox time.
        """
        self.ctx.company.insert_employees(count)

    def reset(self) -> None:  # noqa: B027 - optional hook; emulators without own state keep the default
        """Forget this emulator's own state (test switches, rows changed at run time, open cursors and jobs).

        Faults, latency, the request log, the clock and the company's inserted employees are the platform's to
        reset; this runs after them."""
