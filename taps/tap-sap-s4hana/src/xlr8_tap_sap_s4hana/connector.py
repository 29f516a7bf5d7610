"""Python surface for the gatherer (``xlr8.connectors`` entry point ``s4hana``): the kit's ``TapConnector`` over
this tap, so ``get_entity`` sends the requests a sync sends and returns the rows a sync emits. ``execute_query``
also takes S/4's own dialect, an OData path relative to a configured service (``A_PurchaseOrder?$filter=Supplier eq
'S0000001'``, or ``API_PURCHASEORDER_PROCESS_SRV/A_PurchaseOrder?...``), and ``execute_bapi`` calls a read-only BAPI
over SOAP-RFC."""

from __future__ import annotations

import re
import typing as t
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl, urlsplit

from xlr8_kit.connectors import ConnectorError, DeferredDiscovery, TapConnector
from xlr8_kit.odata import EntityType, decode_entry
from xlr8_kit.soap.rfc import Value
from xlr8_tap_sap_s4hana.client import is_aggregate, order_keys
from xlr8_tap_sap_s4hana.discovery import ServiceRef, dimensions
from xlr8_tap_sap_s4hana.tap import TapSapS4Hana

#: BAPIs that change data: refused (the connector reads; a write would also need BAPI_TRANSACTION_COMMIT).
WRITE_BAPI = re.compile(
    r"(?:^|_)(?:CREATE|CHANGE|DELETE|POST|SAVE|COMMIT|ROLLBACK|RELEASE|CANCEL|UPDATE|INSERT|MODIFY|SET)\d*(?:$|_)"
)


def analytical_order(entity: EntityType, chosen: set[str]) -> tuple[str, ...]:
    """What an analytical answer to ``$select`` = ``chosen`` is grouped by, so what its windows must be ordered by:
    the selected dimensions, then the ``sap:unit`` of each selected measure (the engine adds it to the answer)."""
    props = entity.properties
    units = [
        unit
        for name in props
        if name in chosen and props[name].sap.get("aggregation-role") == "measure"
        if (unit := props[name].sap.get("unit")) and unit in props
    ]
    return tuple(dict.fromkeys([*(d for d in dimensions(entity) if d in chosen), *units]))


class ConnectorTap(DeferredDiscovery, TapSapS4Hana):
    """The tap as the connector builds it: a refused or unreachable system is raised by the first operation."""


class SapS4HanaConnector(TapConnector):
    product_id = "s4hana"
    tap_class = ConnectorTap
    probe_stream = None

    @property
    def s4_tap(self) -> TapSapS4Hana:
        return t.cast("TapSapS4Hana", self.tap)

    def _locate(self, head: str) -> tuple[ServiceRef, str] | None:
        """(service, entity set) for ``Set`` or ``SERVICE/Set`` among the configured services."""
        client = self.s4_tap.client
        service_name, _, set_name = head.rpartition("/")
        for service in self.s4_tap.settings.services:
            if service_name and service_name not in (service.name, service.path, service.configured):
                continue
            if set_name in client.metadata(service).entity_sets:
                return service, set_name
        return None

    def execute_query(self, query: str) -> Iterator[dict[str, t.Any]]:
        self.raise_deferred()
        text = query.strip()
        head = text.split("?", 1)[0].strip("/")
        if head and " " not in head and self._locate(head) is not None:
            return self.execute_odata(text)
        return super().execute_query(query)

    def execute_odata(self, odata_path: str) -> Iterator[dict[str, t.Any]]:
        """Rows of ``[SERVICE/]EntitySet?<query options>``, every page; decoded like the tap's records."""
        parts = urlsplit(odata_path.strip().lstrip("/"))
        if parts.scheme or parts.netloc:
            raise ConnectorError(f"{self.product_id}: give a path relative to a configured service, not a URL")
        found = self._locate(parts.path.strip("/"))
        if found is None:
            raise ConnectorError(f"{self.product_id}: {parts.path!r} is no entity set of the configured services")
        service, set_name = found
        client = self.s4_tap.client
        metadata = client.metadata(service)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        has_paging = "$top" in params or "$skip" in params
        entity = metadata.entity_sets[set_name].entity_type
        keys = order_keys(entity)
        chosen = {name.strip() for name in params.get("$select", "*").split(",")}
        if is_aggregate(entity) and "*" not in chosen:
            # an analytical read's rows are the combinations of the dimensions it selects and of each selected
            # measure's unit (SAP groups by it too): ordered by all of those, named in $select so they may be sorted
            # (``*`` selects every column, so every dimension: review28a M1; the units: review29d M1)
            keys = analytical_order(entity, chosen)
            props = entity.properties
            if not keys or not all(props[k].sortable for k in keys):
                raise ConnectorError(
                    f"{self.product_id}: {set_name} is an analytical set and $select={params['$select']} names no "
                    "sortable dimension (nor a measure with a unit): its rows cannot be ordered, so windows could "
                    "read a row twice and miss another. Select a dimension too (e.g. one of "
                    f"{', '.join(dimensions(entity)[:3])})"
                )
            params["$select"] = ",".join([params["$select"], *(k for k in keys if k not in chosen)])
        if is_aggregate(entity) and keys and params.get("$orderby"):
            # the query's own order, then the dimensions it leaves out: rows tied on it come in no promised order
            # between two requests (review28a M1)
            named = {term.split()[0] for term in params["$orderby"].split(",") if term.strip()}
            params["$orderby"] = ",".join([params["$orderby"], *(k for k in keys if k not in named)])
        rows = client.iter_rows(
            client.url(f"{service.path}/{set_name}"),
            params,
            version=metadata.odata_version,
            page_size=None if has_paging else self.s4_tap.settings.page_size,
            keys=keys,
        )
        return (decode_entry(entity, row) for row in rows)

    def execute_bapi(self, bapi_name: str, params: Mapping[str, t.Any] | None = None) -> dict[str, Value]:
        """A read-only BAPI over SOAP-RFC: scalars, structures (dicts) and tables (lists of row dicts). Pass the
        tables you want back as empty lists. A RETURN message of type E or A raises ``BapiError``."""
        name = bapi_name.strip().upper()
        if not re.fullmatch(r"[A-Z0-9_/]+", name):
            raise ConnectorError(f"{self.product_id}: {bapi_name!r} is not a function module name")
        if WRITE_BAPI.search(name):
            raise ConnectorError(f"{self.product_id}: {name} changes data; only read-only BAPIs are called")
        self.raise_deferred()
        return self.s4_tap.client.execute_bapi(name, dict(params or {}))
