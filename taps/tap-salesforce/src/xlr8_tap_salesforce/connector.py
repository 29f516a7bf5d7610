"""Python surface for the live-data gatherer: SOQL, an entity's rows, Bulk API 2.0 queries and a connection check,
all through the tap's own client (same authenticator, resilient session, quota guard and error types)."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.redaction import Redactor
from xlr8_tap_salesforce import discovery
from xlr8_tap_salesforce.client import SalesforceClient, csv_value, soql_datetime
from xlr8_tap_salesforce.tap import TapSalesforce

_FROM = re.compile(r"\bFROM\s+([A-Za-z0-9_]+)", re.IGNORECASE)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    objects: int = 0


def soql_literal(value: t.Any, sf_type: str) -> str:
    """A typed SOQL literal: quoted and escaped strings, bare dates, datetimes, numbers, booleans and null."""
    if value is None:
        return "null"
    if sf_type == "boolean":
        return "true" if value in (True, "true", "True", 1) else "false"
    if sf_type in ("int", "long", "double", "currency", "percent"):
        return str(Decimal(str(value)))
    if sf_type == "datetime":
        return soql_datetime(value) if isinstance(value, datetime) else str(value)
    if sf_type == "date":
        return value.isoformat() if isinstance(value, date) else str(value)
    escaped = str(value).replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


class SalesforceConnector:
    """One org (one credential). ``config`` takes the tap's settings."""

    product_id = "salesforce"

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        self._config = {**config, "objects": list(config.get("objects") or ["User"])}

    @cached_property
    def tap(self) -> TapSalesforce:
        return TapSalesforce(config=self._config, parse_env_config=False, validate_config=True)

    @property
    def client(self) -> SalesforceClient:
        return self.tap.client

    def _sobject(self, entity: str) -> str:
        names = {o["name"] for o in self.client.global_describe().get("sobjects", [])}
        if entity in names:
            return entity
        from xlr8_kit.vocabulary import product_mapping
        from xlr8_kit.vocabulary.model import VocabularyError

        try:
            return product_mapping(self.product_id, entity).stream
        except VocabularyError as exc:
            raise KeyError(f"{entity!r} is neither an sObject of this org nor a canonical entity") from exc

    def execute_soql(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, t.Any]]:
        """Every row of a SOQL query (``nextRecordsUrl`` followed), numbers as ``Decimal``."""
        return [row for page in self.client.query_pages(soql, include_deleted=include_deleted) for row in page]

    def get_entity(self, entity: str, filters: Mapping[str, t.Any] | str | None = None) -> list[dict[str, t.Any]]:
        """Rows of an sObject (or of the canonical entity's object), every field.

        ``filters``: ``{"Field": value}`` (equality, ANDed, literals typed from describe) or a SOQL WHERE clause.
        """
        sobject = self._sobject(entity)
        describe = self.client.describe_many([sobject])[sobject]
        types = {f["name"]: f["type"] for f in describe["fields"]}
        soql = f"SELECT {', '.join(types)} FROM {sobject}"  # noqa: S608 - SOQL from describe names
        if isinstance(filters, str) and filters.strip():
            soql += f" WHERE {filters}"
        elif isinstance(filters, Mapping) and filters:
            clauses = []
            for name, value in filters.items():
                if name not in types or not _NAME.match(name):
                    raise KeyError(f"{sobject} has no field {name!r}")
                clauses.append(f"{name} = {soql_literal(value, types[name])}")
            soql += " WHERE " + " AND ".join(clauses)
        return self.execute_soql(soql + " ORDER BY Id")

    def bulk_query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, t.Any]]:
        """Rows of a Bulk API 2.0 query job, typed from the queried object's describe."""
        found = _FROM.search(soql)
        types: dict[str, str] = {}
        if found:
            describe = self.client.describe_many([found.group(1)])[found.group(1)]
            types = discovery.ObjectInfo.from_describe(describe).field_types
        for page in self.client.bulk_query(soql, include_deleted=include_deleted):
            for row in page:
                yield {name: csv_value(raw, types.get(name)) for name, raw in row.items()}

    def test_connection(self) -> ConnectionCheck:
        """Authenticate and read the org's limits; never raises for a reachable-but-refusing org."""
        try:
            limits = self.client.limits().get("DailyApiRequests", {})
            objects = len(self.client.global_describe().get("sobjects", []))
        except (KitHTTPError, OSError, ValueError) as exc:
            return ConnectionCheck(False, Redactor.default().redact(str(exc)))
        used = int(limits.get("Max", 0)) - int(limits.get("Remaining", 0))
        return ConnectionCheck(
            True, f"connected to {self.client.instance_url}; API usage {used}/{limits.get('Max')} today", objects
        )
