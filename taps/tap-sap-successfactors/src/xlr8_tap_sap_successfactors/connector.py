"""Python surface for the gatherer: read an entity set, run an OData path, check a connection, through the same
client, authenticator, resilient session and value decoding the tap uses."""

from __future__ import annotations

import typing as t
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.odata import all_of, compare, decode_entry
from xlr8_kit.odata.edmx import EntitySet
from xlr8_kit.odata.filters import Filter
from xlr8_kit.redaction import Redactor
from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors


@dataclass(frozen=True)
class ConnectionCheck:
    ok: bool
    message: str
    entity_sets: int = 0


class SuccessFactorsConnector:
    """One tenant (one credential). ``config`` takes the tap's settings."""

    product_id = "successfactors"

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        self._config = dict(config)

    @cached_property
    def tap(self) -> TapSapSuccessFactors:
        """Built on first use: the SDK reads the tenant's $metadata while constructing a tap."""
        return TapSapSuccessFactors(config=self._config, parse_env_config=False, validate_config=True)

    @property
    def client(self) -> t.Any:
        return self.tap.client

    def _entity_set(self, name: str) -> EntitySet:
        metadata = self.client.metadata
        if name in metadata.entity_sets:
            return t.cast("EntitySet", metadata.entity_sets[name])
        from xlr8_kit.vocabulary import product_mapping
        from xlr8_kit.vocabulary.model import VocabularyError

        try:
            mapped = product_mapping(self.product_id, name).stream
        except VocabularyError as exc:
            raise KeyError(f"{name!r} is neither an entity set of this tenant nor a canonical entity") from exc
        return t.cast("EntitySet", metadata.entity_set(mapped))

    def get_entity(
        self, entity: str, filters: Mapping[str, t.Any] | str | None = None, *, history: bool = False
    ) -> list[dict[str, t.Any]]:
        """Rows of an entity set (or of the canonical entity's main set), decoded like the tap's records.

        ``filters``: ``{"property": value}`` (equality, ANDed, literals typed from $metadata) or a ``$filter``
        string. ``history``: every effective-dated row instead of today's.
        """
        entity_set = self._entity_set(entity)
        entity_type = entity_set.entity_type
        params: dict[str, t.Any] = {"$format": "json"}
        if isinstance(filters, str) and filters.strip():
            params["$filter"] = filters
        elif isinstance(filters, Mapping) and filters:
            parts: list[Filter | None] = []
            for name, value in filters.items():
                if name not in entity_type.properties:
                    raise KeyError(f"{entity_set.name} has no property {name!r}")
                parts.append(compare(name, "eq", value, entity_type.properties[name].edm_type))
            params["$filter"] = str(all_of(*parts))
        if history:
            params.update(fromDate="1900-01-01", toDate="9999-12-31")
        url = f"{self.client.service_url}/{entity_set.name}"
        return [decode_entry(entity_type, row) for row in self.client.iter_rows(url, params)]

    def execute_query(self, odata_path: str) -> list[dict[str, t.Any]]:
        """Run ``EntitySet?$filter=...`` (relative to ``/odata/v2``), following ``__next``; rows of a known entity
        set are decoded, others returned as sent without ``__metadata``."""
        parts = urlsplit(odata_path.lstrip("/"))
        name = parts.path.removeprefix("odata/v2/").strip("/")
        if not name or "://" in odata_path:
            raise ValueError("odata_path must be an entity set path such as \"EmpJob?$filter=userId eq 'E1'\"")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params.setdefault("$format", "json")
        rows = self.client.iter_rows(f"{self.client.service_url}/{name}", params)
        entity_set = self.client.metadata.entity_sets.get(name)
        if entity_set is None:
            return [{k: v for k, v in row.items() if k != "__metadata"} for row in rows]
        expanded = {n for n in entity_set.entity_type.navigation}
        return [decode_entry(entity_set.entity_type, row, keep=expanded) for row in rows]

    def test_connection(self) -> ConnectionCheck:
        """Authenticate and read $metadata; never raises for a reachable-but-refusing tenant."""
        try:
            count = len(self.client.metadata.entity_sets)
        except (KitHTTPError, OSError, ValueError) as exc:
            return ConnectionCheck(False, Redactor.default().redact(str(exc)))
        return ConnectionCheck(True, f"connected to company {self.tap.settings.company_id}", count)
