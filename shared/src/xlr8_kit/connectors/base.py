"""``BaseConnector``: the one Python surface every product offers (the gatherer, ``xlr8-credentials test`` and
any caller use products the same way). Results are iterators so a large entity never sits in memory.

A product's connector is normally a ``TapConnector`` subclass (``xlr8_kit.connectors.tap``): it reads through the
tap's own streams, so requests, authentication, retries and schemas are those of a sync.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeAlias

if TYPE_CHECKING:
    from xlr8_kit.query import Filter

#: A universal filter as text, parsed, or as the plan's dict (``xlr8_kit.query.filter_from_mapping``).
EntityFilters: TypeAlias = "str | Filter | Mapping[str, Any] | None"

#: What ``test_connection`` looks at, in the order it looks.
CHECK_NAMES = ("configuration", "reachability", "authentication", "permissions", "api_version")


class ConnectorError(Exception):
    """A connector could not be found, built or used; the message is redacted and says what to do."""


class ConnectorNotFoundError(ConnectorError, LookupError):
    pass


class BulkNotSupportedError(ConnectorError):
    pass


@dataclass(frozen=True)
class Check:
    """One thing ``test_connection`` verified: ``ok`` None means it was not reached (an earlier check failed)."""

    name: str
    ok: bool | None
    detail: str = ""


@dataclass(frozen=True)
class ConnectionStatus:
    """The answer of ``test_connection``: never raises for a reachable-but-refusing product."""

    ok: bool
    product: str
    checks: tuple[Check, ...]
    #: Redacted error text of the first failed check, None when ``ok``.
    error: str | None = None
    api_version: str | None = None

    @property
    def message(self) -> str:
        """One line for humans: what was checked and how it went."""
        parts = [f"{c.name} {'ok' if c.ok else 'FAILED' if c.ok is False else 'not checked'}" for c in self.checks]
        text = f"{self.product}: " + ", ".join(parts)
        if self.api_version:
            text += f" (API {self.api_version})"
        return text + (f": {self.error}" if self.error else "")

    def check(self, name: str) -> Check:
        for item in self.checks:
            if item.name == name:
                return item
        raise KeyError(name)


@dataclass(frozen=True)
class BulkJob:
    job_id: str
    state: Literal["queued", "running", "complete", "failed", "aborted"]
    rows: int | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class BaseConnector(abc.ABC):
    """One product connection (one credential). ``config`` takes the product tap's settings."""

    #: Registry product id (``xlr8_kit.vocabulary``).
    product_id: ClassVar[str] = ""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = dict(config)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def connect(self) -> None:  # noqa: B027 - optional hook, most connectors connect lazily
        """Prepare the connection (build clients, read metadata); idempotent. Called by every operation."""

    def disconnect(self) -> None:  # noqa: B027 - optional hook
        """Release sessions and sockets; the connector may be connected again."""

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.disconnect()

    # -- operations ----------------------------------------------------------------------------------------------

    @abc.abstractmethod
    def test_connection(self) -> ConnectionStatus:
        """Check configuration, reachability, authentication, permissions and API version."""

    @abc.abstractmethod
    def get_entity(self, entity: str, filters: EntityFilters = None) -> Iterator[dict[str, Any]]:
        """Rows of a canonical entity (``employee``) or a product stream (``EmpJob``), with a universal filter
        (text, parsed, or the plan's dict: ``{"employment_status": "active", "hire_date >=": "2024-01-01"}``)."""

    @abc.abstractmethod
    def get_entity_schema(self, entity: str) -> dict[str, Any]:
        """The JSON schema a sync of the same stream announces (``x-xlr8`` annotation included)."""

    @abc.abstractmethod
    def execute_query(self, query: str) -> Iterator[dict[str, Any]]:
        """Rows of a query in the product's own dialect (SOQL, an OData path, a RaaS path ...)."""

    def bulk_export(self, entity: str, filters: EntityFilters = None) -> str:
        """Start a bulk export where the product has a bulk API; returns the job id."""
        del entity, filters
        raise BulkNotSupportedError(f"{self.product_id}: this connector has no bulk API; use get_entity")

    def get_bulk_status(self, job_id: str) -> BulkJob:
        del job_id
        raise BulkNotSupportedError(f"{self.product_id}: this connector has no bulk API; use get_entity")
