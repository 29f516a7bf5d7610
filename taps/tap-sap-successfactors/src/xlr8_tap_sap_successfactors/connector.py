"""Python surface for the gatherer (``xlr8.connectors`` entry point ``successfactors``): the kit's
``TapConnector`` over this tap, so ``get_entity`` sends the requests a sync sends and returns the rows a sync
emits, except that effective-dated sets are asked without dates: the connector answers about today, not next
month's future-dated rows. ``execute_query`` also takes SuccessFactors' own dialect, an OData path such as
``EmpJob?$filter=userId eq 'E000001'&fromDate=1900-01-01``, through the tap's client."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl, urlsplit

from xlr8_kit.connectors import ConnectorError, DeferredDiscovery, TapConnector
from xlr8_kit.odata import decode_entry
from xlr8_kit.query import Filter
from xlr8_tap_sap_successfactors.tap import TapSapSuccessFactors

ODATA_PREFIX = "/odata/v2/"


class ConnectorTap(DeferredDiscovery, TapSapSuccessFactors):
    """The tap as the connector builds it: a refused or unreachable tenant is raised by the first operation."""


class SuccessFactorsConnector(TapConnector):
    product_id = "successfactors"
    tap_class = ConnectorTap
    probe_stream = "User"

    @property
    def sf_tap(self) -> TapSapSuccessFactors:
        return t.cast("TapSapSuccessFactors", self.tap)

    def is_odata_path(self, query: str) -> bool:
        """An OData path names an entity set before any ``?``; a universal query has words (``employee where``)."""
        self.raise_deferred()
        text = query.strip()
        if text.startswith((ODATA_PREFIX, ODATA_PREFIX.lstrip("/"))):
            return True
        head = text.split("?", 1)[0].lstrip("/")  # "/User?..." as ``xlr8 translate`` prints it
        return bool(head) and " " not in head and head in self.sf_tap.client.metadata.entity_sets

    def get_employees(self, filters: str | Filter | Mapping[str, t.Any] | None = None) -> Iterator[dict[str, t.Any]]:
        """Employees from Employee Central (the vocabulary's employee streams, ``User`` first)."""
        return self.get_entity("employee", filters)

    def execute_query(self, query: str) -> Iterator[dict[str, t.Any]]:
        if self.is_odata_path(query):
            return self.execute_odata(query)
        return super().execute_query(query)

    def execute_odata(self, odata_path: str) -> Iterator[dict[str, t.Any]]:
        """Rows of ``EntitySet?<query options>`` (relative to ``/odata/v2``), following ``__next``. Rows of a known
        entity set are decoded like the tap's records (expanded navigation kept); others are returned as sent,
        without ``__metadata``."""
        parts = urlsplit(odata_path.strip().lstrip("/"))
        if parts.scheme or parts.netloc:
            raise ConnectorError(f"{self.product_id}: give a path relative to {ODATA_PREFIX}, not a URL")
        name = parts.path.removeprefix(ODATA_PREFIX.lstrip("/")).strip("/")
        if not name:
            raise ConnectorError(f"{self.product_id}: the OData path must start with an entity set name")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        params.setdefault("$format", "json")
        client = self.sf_tap.client
        rows = client.iter_rows(f"{client.service_url}/{name}", params)
        entity_set = client.metadata.entity_sets.get(name)
        if entity_set is None:
            return ({k: v for k, v in row.items() if k != "__metadata"} for row in rows)
        expanded = set(entity_set.entity_type.navigation)
        return (decode_entry(entity_set.entity_type, row, keep=expanded) for row in rows)
