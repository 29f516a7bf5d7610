"""The contract between the sandbox platform and each product's emulator.

A product emulator is a class in ``xlr8_sandbox/products/<product>.py`` (or a package of that name) that
subclasses ``ProductEmulator`` and is listed in ``xlr8_sandbox.products.EMULATORS``. The platform serves each
product on its own 127.0.0.1 port (its "instance URL"), wraps it with request logging and fault/latency
injection, and hands it a ``SandboxContext``: the shared fictional company, a token store, and a clock.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute

from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.clock import SandboxClock
from xlr8_sandbox.platform.tokens import TokenStore


@dataclass
class SandboxContext:
    """Shared by every emulator of one sandbox process."""

    company: Company
    clock: SandboxClock = field(default_factory=SandboxClock)
    tokens: TokenStore = field(default_factory=TokenStore)
    options: dict[str, Any] = field(default_factory=dict)


class ProductEmulator(abc.ABC):
    """One vendor product speaking its real wire protocol."""

    #: Registry product id, e.g. ``salesforce``.
    product_id: str = ""
    #: Human title for the sandbox banner.
    title: str = ""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx

    @abc.abstractmethod
    def routes(self) -> list[BaseRoute]:
        """Starlette routes on the vendor's real base paths (e.g. ``/services/data/v60.0/query``)."""

    @abc.abstractmethod
    def test_credentials(self) -> dict[str, str]:
        """The credentials this emulator accepts (printed by ``xlr8-sandbox``, used by the sandbox env)."""
