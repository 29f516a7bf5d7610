"""Python surface for the gatherer (``xlr8.connectors`` entry point ``salesforce``): the kit's ``TapConnector`` over
this tap, so ``get_entity`` sends the SOQL a sync sends (REST or Bulk, quota guard, deletes) and returns the rows a
sync emits, lazily, with universal filters pushed into the WHERE clause. Salesforce's own calls go through the same
client: ``execute_soql``, ``bulk_query`` and ``execute_query`` with a SOQL ``SELECT``.

Objects are described when first asked for, not all at connect time: an org has hundreds of sObjects.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal

from xlr8_kit.connectors import BulkJob, ConnectionStatus, ConnectorError, TapConnector
from xlr8_kit.connectors.base import EntityFilters
from xlr8_kit.query import Translation, format_filter
from xlr8_kit.vocabulary import find_entity, stream_mappings
from xlr8_tap_salesforce import discovery
from xlr8_tap_salesforce.client import SalesforceClient, SalesforceStream, csv_value, soql_datetime
from xlr8_tap_salesforce.streams import stream_class
from xlr8_tap_salesforce.tap import TapSalesforce

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.catalog import CatalogEntry
    from singer_sdk.streams import Stream

_FROM = re.compile(r"\bFROM\s+([A-Za-z0-9_]+)", re.IGNORECASE)
_SOQL = re.compile(r"^\s*SELECT\s", re.IGNORECASE)


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


@dataclasses.dataclass(frozen=True)
class SalesforceConnectionStatus(ConnectionStatus):
    """The kit's status plus what the probe learnt about the org."""

    #: Number of sObjects the org's global describe lists.
    objects: int = 0
    #: ``used/max`` daily API requests when the probe ran.
    api_usage: str | None = None

    @property
    def message(self) -> str:
        text = super().message
        if self.ok and self.api_usage is not None:
            text += f"; {self.objects} sObjects, API usage {self.api_usage} today"
        return text


class ConnectorTap(TapSalesforce):
    """The tap as the connector builds it: only the configured ``objects`` are described up front (none when
    unset), others on demand; no Bulk job is started ahead, since a connector reads one object at a time."""

    def discover_streams(self) -> list[SalesforceStream]:
        if self.input_catalog is None and not self.settings.objects:
            return []
        return super().discover_streams()

    def add_object(self, name: str) -> SalesforceStream:
        """The stream of one more sObject, described now and built as discovery builds it."""
        describe = self.client.describe_many([name])[name]
        stream = stream_class(name)(
            self, info=discovery.ObjectInfo.from_describe(describe), schema=discovery.object_schema(describe)
        )
        self.streams[name] = stream
        self.mapper.register_raw_stream_schema(name, stream.schema, stream.primary_keys)
        return stream

    def start_bulk_jobs_ahead(self) -> None:
        """Jobs started for objects nobody asked for would be orphaned."""

    def _send_first_query_early(self, entry: CatalogEntry) -> None:
        """A connector reads the object a call names, with that call's filter: no query is sent ahead of it."""


class SalesforceConnector(TapConnector):
    """One org (one credential). ``config`` takes the tap's settings."""

    product_id = "salesforce"
    tap_class = ConnectorTap

    def __init__(self, config: Mapping[str, t.Any]) -> None:
        super().__init__(config)
        #: What the last ``probe`` read: the daily API request limits and the number of sObjects.
        self._limits: dict[str, t.Any] = {}
        self._objects = 0

    @property
    def sf_tap(self) -> ConnectorTap:
        return t.cast("ConnectorTap", self.tap)

    @property
    def client(self) -> SalesforceClient:
        return self.sf_tap.client

    # -- streams -------------------------------------------------------------------------------------------------

    def org_objects(self) -> set[str]:
        """Names of the org's queryable sObjects (global describe, cached by the client)."""
        sobjects = self.client.global_describe()["sobjects"]
        return {o["name"] for o in sobjects if o.get("queryable", True)}

    def resolve_stream(
        self,
        entity: str,
        filters: EntityFilters = None,
        *,
        fields: Iterable[str] = (),
        limit: int | None = None,
    ) -> tuple[Stream, Translation | None]:
        self._ensure_streams(entity)
        return super().resolve_stream(entity, filters, fields=fields, limit=limit)

    def _ensure_streams(self, entity: str) -> None:
        tap = self.sf_tap
        if entity in tap.streams:
            return
        names = self.org_objects()
        if entity in names:
            tap.add_object(entity)
            return
        canonical = find_entity(entity)
        if canonical is None:
            raise ConnectorError(
                f"{self.product_id}: {entity!r} is neither an sObject of this org nor a canonical entity"
            )
        for mapping in stream_mappings(self.product_id, canonical.name):
            if mapping.stream in names and mapping.stream not in tap.streams:
                tap.add_object(mapping.stream)

    # -- Salesforce's own dialect --------------------------------------------------------------------------------

    def execute_query(self, query: str) -> Iterator[dict[str, t.Any]]:
        """A SOQL ``SELECT`` (rows as the REST API returns them), else a universal query."""
        if _SOQL.match(query):
            return self.iter_soql(query)
        return super().execute_query(query)

    def iter_soql(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, t.Any]]:
        """Rows of a SOQL query, page by page (``nextRecordsUrl`` followed), numbers as ``Decimal``."""
        for page in self.client.query_pages(soql, include_deleted=include_deleted):
            yield from page

    def execute_soql(self, soql: str, *, include_deleted: bool = False) -> list[dict[str, t.Any]]:
        """Every row of a SOQL query, as a list."""
        return list(self.iter_soql(soql, include_deleted=include_deleted))

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

    # -- the plan's convenience methods (thin wrappers over get_entity) ------------------------------------------

    def get_accounts(self, filters: EntityFilters = None) -> Iterator[dict[str, t.Any]]:
        return self.get_entity("crm_account", filters)

    def get_contacts(self, filters: EntityFilters = None) -> Iterator[dict[str, t.Any]]:
        return self.get_entity("contact", filters)

    def get_opportunities(self, filters: EntityFilters = None) -> Iterator[dict[str, t.Any]]:
        return self.get_entity("opportunity", filters)

    # -- Bulk API 2.0 ----------------------------------------------------------------------------------------------

    def bulk_export(self, entity: str, filters: EntityFilters = None) -> str:
        """Start a Bulk API 2.0 query job for an entity or sObject (the filter goes into its WHERE clause); returns
        the job id for ``get_bulk_status``. A filter SOQL cannot express is refused, not silently dropped."""
        stream, translation = self.resolve_stream(entity, filters)
        if translation is not None and translation.residual is not None and translation.residual != translation.pushed:
            raise ConnectorError(
                f"{self.product_id}: a bulk export filters only in SOQL; this part cannot be: "
                f"{format_filter(translation.residual)}"
            )
        columns = [name for name in stream.schema.get("properties", {}) if not name.startswith("_sdc")]
        if isinstance(stream, SalesforceStream):
            columns = stream._bulk_fields(columns)  # compound and base64 fields cannot be bulk-selected
        soql = f"SELECT {', '.join(columns)} FROM {stream.name}"  # noqa: S608 - names from describe, WHERE from the escaping compiler
        if translation is not None and translation.where:
            soql += f" WHERE {translation.where}"
        return self.client.start_bulk_job(soql)

    def get_bulk_status(self, job_id: str) -> BulkJob:
        """The job's state as Salesforce reports it (``jobs/query/{id}``), rows processed so far."""
        info = self.client.get_json(self.client.data_url(f"jobs/query/{job_id}"))
        state = {
            "UploadComplete": "queued",
            "InProgress": "running",
            "JobComplete": "complete",
            "Failed": "failed",
            "Aborted": "aborted",
        }.get(str(info.get("state")), "running")
        rows = info.get("numberRecordsProcessed")
        return BulkJob(
            job_id=job_id,
            state=t.cast("t.Any", state),
            rows=int(rows) if rows is not None else None,
            error=info.get("errorMessage") or None,
            details={k: v for k, v in info.items() if k in ("object", "operation", "state", "createdDate")},
        )

    def read_bulk_export(self, job_id: str) -> Iterator[dict[str, t.Any]]:
        """Rows of a finished (or still running: this waits) bulk export, typed from the object's describe."""
        info = self.client.get_json(self.client.data_url(f"jobs/query/{job_id}"))
        describe = self.client.describe_many([str(info["object"])])[str(info["object"])]
        types = discovery.ObjectInfo.from_describe(describe).field_types
        for page in self.client.read_bulk_job(job_id):
            for row in page:
                yield {name: csv_value(raw, types.get(name)) for name, raw in row.items()}

    # -- connection test -----------------------------------------------------------------------------------------

    def probe(self) -> None:
        """The org's limits (authenticated, counts against nothing) and its object list."""
        self._limits = self.client.limits().get("DailyApiRequests", {})
        self._objects = len(self.client.global_describe()["sobjects"])

    def api_version(self) -> str | None:
        return self.sf_tap.settings.api_version

    def test_connection(self) -> SalesforceConnectionStatus:
        self._limits, self._objects = {}, 0
        status = super().test_connection()
        usage = None
        if status.ok and self._limits:
            used = int(self._limits.get("Max", 0)) - int(self._limits.get("Remaining", 0))
            usage = f"{used}/{self._limits.get('Max')}"
        fields = {f.name: getattr(status, f.name) for f in dataclasses.fields(ConnectionStatus)}
        return SalesforceConnectionStatus(**fields, objects=self._objects, api_usage=usage)
