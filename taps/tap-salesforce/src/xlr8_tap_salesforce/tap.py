"""tap-salesforce: every queryable sObject, discovered from describe, read through REST or Bulk API 2.0."""

from __future__ import annotations

import functools
import typing as t
from dataclasses import dataclass, field
from functools import cached_property

import requests
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.auth import TokenAuthenticator
from xlr8_kit.http.errors import QuotaExhaustedError
from xlr8_kit.rest import KitRuntime, KitTap, kit_config_schema
from xlr8_tap_salesforce import discovery, early
from xlr8_tap_salesforce.auth import (
    AUTH_FLOWS,
    AuthSettings,
    build_authenticator,
    flatten_legacy_auth,
    parse_auth_settings,
)
from xlr8_tap_salesforce.client import (
    MAX_REST_QUERY_URL,
    SalesforceAPIError,
    SalesforceClient,
    SalesforceStream,
    rest_query_url_length,
    select_soql,
)
from xlr8_tap_salesforce.streams import stream_class

if t.TYPE_CHECKING:
    from singer_sdk.singerlib.catalog import CatalogEntry

API_TYPES = ("auto", "rest", "bulk")


#: One flat setting per credential field (Meltano keeps each secret in .env, never in meltano.yml); which ones a
#: flow needs is ``auth.REQUIRED_FIELDS`` (and meltano.yml's ``settings_group_validation``).
AUTH_SETTINGS = (
    th.Property(
        "auth_type",
        th.StringType,
        allowed_values=list(AUTH_FLOWS),
        description="OAuth flow: jwt_bearer (client_id, username, private_key), refresh_token (client_id, "
        "refresh_token), client_credentials (client_id, client_secret) or password (client_id, client_secret, "
        "username, password, security_token).",
    ),
    th.Property("client_id", th.StringType, description="Consumer key of the connected app."),
    th.Property("client_secret", th.StringType, secret=True, description="Consumer secret of the connected app."),
    th.Property("username", th.StringType, description="jwt_bearer, password: the integration user's username."),
    th.Property("password", th.StringType, secret=True, description="password: the integration user's password."),
    th.Property(
        "security_token",
        th.StringType,
        secret=True,
        description="password: the user's security token (appended to the password; not needed from trusted IPs).",
    ),
    th.Property(
        "refresh_token",
        th.StringType,
        secret=True,
        description="refresh_token: the refresh token (rotations are stored via credential_id).",
    ),
    th.Property("private_key", th.StringType, secret=True, description="jwt_bearer: PEM RSA private key."),
    th.Property("private_key_passphrase", th.StringType, secret=True, description="jwt_bearer: key passphrase."),
)

#: REST query cursors one stream reads at once (``ranges.py``): under the 10 Salesforce kept open per user before
#: API version 56.0 (shared by every stream, run and tool of the user), and few requests at once per org. 6, not 4:
#: at 100 ms a request, 4 read 50,000 Accounts at 0.66 of the 0 ms rate, 6 at 0.72, the same CPU and the same
#: requests (ranges are sized in pages, not by the width).
DEFAULT_REST_CONCURRENT_QUERIES = 6
MAX_REST_CONCURRENT_QUERIES = 8
#: How far before the bookmark each incremental read starts (``lookback_seconds``): rows committed late land.
DEFAULT_LOOKBACK_SECONDS = 300

PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "login_url",
        th.StringType,
        default="https://login.salesforce.com",
        description="Login host: https://login.salesforce.com, https://test.salesforce.com for sandboxes, or the "
        "org's My Domain URL. Data calls go to the instance_url the token response names.",
    ),
    th.Property("api_version", th.StringType, default="60.0", description="REST API version, e.g. 60.0."),
    *AUTH_SETTINGS,
    th.Property(
        "objects",
        th.ArrayType(th.StringType),
        description="sObject API names to replicate; default: every queryable, replicateable object.",
    ),
    th.Property("start_date", th.DateTimeType, description="Earliest SystemModstamp to read on a first sync."),
    th.Property(
        "include_deleted",
        th.BooleanType,
        default=True,
        description="Read through queryAll and emit deleted rows with _sdc_deleted_at.",
    ),
    th.Property(
        "api_type",
        th.StringType,
        default="auto",
        allowed_values=list(API_TYPES),
        description="rest, bulk (Bulk API 2.0) or auto (bulk from bulk_threshold rows).",
    ),
    th.Property(
        "api_type_overrides",
        th.ObjectType(additional_properties=th.StringType),
        description='Per-object API choice, e.g. {"Account": "bulk"}.',
    ),
    th.Property("bulk_threshold", th.IntegerType, default=200_000, description="Rows from which auto uses Bulk."),
    th.Property("batch_size", th.IntegerType, default=2000, description="REST page size (200-2000)."),
    th.Property(
        "rest_concurrent_queries",
        th.IntegerType(minimum=1, maximum=MAX_REST_CONCURRENT_QUERIES),
        default=DEFAULT_REST_CONCURRENT_QUERIES,
        description="REST reads of an incremental object longer than a page are split into ranges of its "
        "replication key, up to this many read at once, each its own query cursor (before API version 56.0 "
        "Salesforce keeps 10 open per user and releases the oldest past that); records are still emitted in order. "
        "Planning costs two small "
        "queries per read longer than a page, and per first read of an object (no bookmark, no start_date), which "
        f"asks them with its first page. 1 reads one cursor page after page (1-{MAX_REST_CONCURRENT_QUERIES}).",
    ),
    th.Property("bulk_max_records", th.IntegerType, default=50_000, description="Rows per Bulk result page."),
    th.Property(
        "bulk_poll_interval",
        th.NumberType,
        default=5.0,
        description="Longest wait between Bulk job polls, seconds: the first poll waits 0.5 s, then the wait doubles"
        " up to this.",
    ),
    th.Property("bulk_max_wait", th.NumberType, default=3600.0, description="Longest wait for a Bulk job (s)."),
    th.Property(
        "reread_formula_fields",
        th.BooleanType,
        default=False,
        description="Objects with formula fields are re-read in full each run: formulas change without "
        "touching SystemModstamp.",
    ),
    th.Property(
        "api_quota_share",
        th.NumberType,
        description="Stop (state safe) once this share of the daily API limit is used, e.g. 0.8 "
        "(read from Sforce-Limit-Info). Default: the kit's http.max_quota_share (0.9).",
    ),
    th.Property(
        "min_window_seconds",
        th.NumberType,
        default=60.0,
        description="Smallest date window when QUERY_TIMEOUT splits a query; below it the error is fatal.",
    ),
    th.Property(
        "lookback_seconds",
        th.IntegerType(minimum=0),
        default=DEFAULT_LOOKBACK_SECONDS,
        description="Each incremental read starts this many seconds before the bookmark, so rows committed late "
        "(a long transaction, Bulk load or Apex batch stamps SystemModstamp when it writes, not when it commits) "
        "still land. Cost: the rows changed in that window are read and emitted again each run (the target upserts "
        "them by Id); the bookmark never moves back. 0 turns it off.",
    ),
)


def settings_schema() -> dict[str, t.Any]:
    return kit_config_schema(PRODUCT_SETTINGS)


@dataclass(frozen=True)
class SalesforceSettings:
    """The tap's settings, validated once."""

    login_url: str
    api_version: str
    auth: AuthSettings
    objects: tuple[str, ...] | None
    start_date: str | None
    include_deleted: bool
    api_type: str
    api_type_overrides: dict[str, str] = field(default_factory=dict)
    bulk_threshold: int = 200_000
    batch_size: int = 2000
    rest_concurrent_queries: int = 4
    bulk_max_records: int = 50_000
    bulk_poll_interval: float = 5.0
    bulk_max_wait: float = 3600.0
    reread_formula_fields: bool = False
    min_window_seconds: float = 60.0
    lookback_seconds: int = DEFAULT_LOOKBACK_SECONDS
    filters: str | None = None

    @classmethod
    def parse(cls, config: t.Mapping[str, t.Any]) -> SalesforceSettings:
        api_type = config.get("api_type") or "auto"
        overrides = dict(config.get("api_type_overrides") or {})
        for name, value in {
            "api_type": api_type,
            **{f"api_type_overrides.{k}": v for k, v in overrides.items()},
        }.items():
            if value not in API_TYPES:
                raise ValueError(f"setting '{name}' must be one of {', '.join(API_TYPES)}; got {value!r}")
        batch_size = int(config.get("batch_size") or 2000)
        if not 200 <= batch_size <= 2000:
            raise ValueError(f"setting 'batch_size' must be between 200 and 2000; got {batch_size}")
        width = int(config.get("rest_concurrent_queries") or DEFAULT_REST_CONCURRENT_QUERIES)
        if not 1 <= width <= MAX_REST_CONCURRENT_QUERIES:
            raise ValueError(
                f"setting 'rest_concurrent_queries' must be between 1 and {MAX_REST_CONCURRENT_QUERIES}; got {width}"
            )
        share = config.get("api_quota_share")
        if share is not None and not 0 < float(share) <= 1:
            raise ValueError(f"setting 'api_quota_share' must be in (0, 1]; got {share}")
        objects = config.get("objects")
        lookback = int(config.get("lookback_seconds", DEFAULT_LOOKBACK_SECONDS))
        if lookback < 0:
            raise ValueError(f"setting 'lookback_seconds' must be 0 or more; got {lookback}")
        return cls(
            login_url=str(config.get("login_url") or "https://login.salesforce.com"),
            api_version=str(config.get("api_version") or "60.0"),
            auth=parse_auth_settings(config),
            objects=tuple(objects) if objects else None,
            start_date=config.get("start_date"),
            include_deleted=bool(config.get("include_deleted", True)),
            api_type=api_type,
            api_type_overrides=overrides,
            bulk_threshold=int(config.get("bulk_threshold") or 200_000),
            batch_size=batch_size,
            rest_concurrent_queries=width,
            bulk_max_records=int(config.get("bulk_max_records") or 50_000),
            bulk_poll_interval=float(config.get("bulk_poll_interval", 5.0)),
            bulk_max_wait=float(config.get("bulk_max_wait") or 3600.0),
            reread_formula_fields=bool(config.get("reread_formula_fields", False)),
            min_window_seconds=float(config.get("min_window_seconds") or 60.0),
            lookback_seconds=lookback,
            filters=config.get("filters") or None,
        )


def selected(entry: CatalogEntry) -> bool:
    """Whether a catalog entry's stream is selected, as ``singer_sdk.Stream.selected`` decides it."""
    return entry.metadata.resolve_selection().get((), True)


class TapSalesforce(KitTap):
    """Salesforce tap: discovery from describe, incremental with deletes, REST or Bulk API 2.0, quota-aware."""

    name = "tap-salesforce"
    product_id = "salesforce"
    instance_url_setting = "login_url"
    config_jsonschema = settings_schema()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        #: Set when the quota guard or REQUEST_LIMIT_EXCEEDED stopped a stream; later streams are skipped.
        self.quota_stopped = False
        self._bulk_jobs_started = False
        super().__init__(*args, **kwargs)
        try:
            self.settings  # noqa: B018  (parsed once, here: a bad setting is one clear line and exit 1)
        except ValueError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None

    @cached_property
    def settings(self) -> SalesforceSettings:
        return SalesforceSettings.parse(self.resolved_config)

    @cached_property
    def resolved_config(self) -> dict[str, t.Any]:
        """The kit's resolved config (a legacy ``auth`` object flattened into the top-level settings), with
        ``api_quota_share`` handed to the session's quota guard."""
        config = flatten_legacy_auth(super().resolved_config)
        share = config.get("api_quota_share")
        if share is not None:
            config["http"] = {**(config.get("http") or {}), "max_quota_share": float(share)}
        return config

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase | None:
        settings = self.settings
        return build_authenticator(
            settings.auth,
            login_url=settings.login_url,
            session=runtime.session,
            redactor=runtime.redactor,
            on_rotate=runtime.rotation_hook("refresh_token"),
            reload_refresh_token=runtime.reload_hook("refresh_token"),
            refresh_lease=runtime.lease_hook("refresh_token"),
        )

    @cached_property
    def client(self) -> SalesforceClient:
        settings = self.settings
        return SalesforceClient(
            self.kit.session,
            t.cast("TokenAuthenticator", self.kit.authenticator),
            api_version=settings.api_version,
            redactor=self.kit.redactor,
            batch_size=settings.batch_size,
            bulk_max_records=settings.bulk_max_records,
            bulk_poll_interval=settings.bulk_poll_interval,
            bulk_max_wait=settings.bulk_max_wait,
        )

    def start_bulk_jobs_ahead(self) -> None:
        """Once per run, when the first stream starts: start the Bulk jobs of every other selected Bulk stream,
        so Salesforce prepares independent objects in parallel (their results wait server-side)."""
        if self._bulk_jobs_started:
            return
        self._bulk_jobs_started = True
        for stream in self.streams.values():
            if not isinstance(stream, SalesforceStream):
                continue
            try:
                stream.start_bulk_ahead()
            except SalesforceAPIError as exc:  # the stream will try again, and report, on its own turn
                self.logger.warning("%s: could not start its Bulk job ahead: %s", stream.name, exc)

    def sync_all(self) -> None:  # type: ignore[misc]  # final in the SDK: the SDK's run, wrapped
        """The SDK's; a query sent early that no stream took by the end (a failure before the first stream read it,
        a broken pipe) is cut, not waited for at exit (review 19e: exit waited 20 s on a stalled COUNT()). Bulk jobs
        created early or ahead that no stream read (the quota stop, a failure, SIGTERM) are aborted, not left
        running against the org's daily query jobs."""
        try:
            super().sync_all()
        finally:
            self.client.give_up_early()
            for stream in (self._streams or {}).values():
                if isinstance(stream, SalesforceStream):
                    stream.give_up_bulk_ahead()

    def discover_streams(self) -> list[SalesforceStream]:
        """One stream per object: the catalog's selected objects and their schemas when a catalog is given, else
        the configured (or all replicable) objects. Describes are fetched either way (25 per call): they carry the
        field types, formula and compound facts the reader needs and the SDK's catalog model does not keep.

        A sync builds only the streams the catalog selects (the SDK's own rule, ``Stream.selected``): Meltano
        hands every discovered object to every run, and describing the others again (one serial call per 25 of an
        org's hundreds of objects) only to skip them cost round trips, and failed the run for one deleted since
        discovery. Their bookmarks in the input state pass through untouched (the SDK keeps every stream's state)."""
        catalog = self.input_catalog
        schemas: dict[str, dict[str, t.Any]] = {}
        if catalog is not None:
            schemas = {entry.tap_stream_id: entry.schema.to_dict() for entry in catalog.values()}
            names = list(schemas)
        else:
            names = list(self.settings.objects or discovery.replicable_objects(self.client.global_describe()))
        if self.settings.filters:
            from xlr8_kit.query import plan_filters

            plan_filters(self.settings.filters, self.product_id, names)  # refuses a filter no stream can apply
        if catalog is not None:
            names = [entry.tap_stream_id for entry in catalog.values() if selected(entry)]
            if names:
                self._send_first_query_early(catalog[min(names)])  # the SDK syncs streams in name order
        try:
            try:
                describes = self.client.describe_many(names)
            except QuotaExhaustedError as exc:
                if catalog is None:
                    raise  # discovery has nothing to hand on: it fails, naming the quota
                # a sync stopped by the quota before its first stream (an org past it, or the guard once an early
                # answer gave it a reading: review 19e): the quota stop every stream makes, state safe, exit 75
                self.quota_stopped = True
                self.note_partial_run(f"describe: {exc}")
                self.logger.warning("stopping with state safe before any stream: %s. Re-run after the reset.", exc)
                self.client.give_up_early()
                return []
            streams: list[SalesforceStream] = []
            for name in names:
                schema = schemas.get(name) or discovery.object_schema(describes[name])
                info = discovery.ObjectInfo.from_describe(describes[name])
                streams.append(stream_class(name)(self, info=info, schema=schema))
        except BaseException:
            self.client.give_up_early()  # no stream will read it: cut, not waited for at exit
            raise
        return streams

    def _send_first_query_early(self, entry: CatalogEntry) -> None:
        """The first stream's page 1, and its ranged read's plan, sent beside the describe when it is the
        object's first read by REST (``early.py``): a round trip less before its records flow. The stream reads
        them only if the query it builds once the describe is in is this one. With ``api_type: auto``, only the
        ``COUNT()`` that chooses the API, the same way; with ``bulk``, the query job's creation (the stream takes
        the job only if it is the one it would create; else it is aborted)."""
        settings = self.settings
        name = entry.tap_stream_id
        bookmark = (self.state.get("bookmarks") or {}).get(name) or {}
        api_type = settings.api_type_overrides.get(name) or settings.api_type
        if settings.start_date or settings.filters or bookmark.get("replication_key_value"):
            return
        guess = early.predicted(entry, include_deleted=settings.include_deleted, deleted_at=discovery.DELETED_AT)
        client, key = self.client, guess.replication_key
        if api_type == "bulk":  # the stream's ``_bulk_fields``, compounds read from the catalog's schema
            compounds = discovery.schema_compounds(entry.schema.to_dict().get("properties") or {})
            fields = [f for f in guess.fields if f not in compounds]
            for compound, parts in compounds.items():
                if compound in guess.fields:
                    fields += [part for part in parts if part not in fields]
            soql = select_soql(name, fields, key, None, ordered=False)
            client.send_early_bulk(soql, include_deleted=guess.include_deleted)
            return
        if api_type == "auto":  # the count that chooses the API (page 1 would be wasted on a Bulk read)
            if key is not None:
                client.send_early_count(name, include_deleted=guess.include_deleted)
            return
        plan = None
        if key is not None and settings.rest_concurrent_queries > 1:
            plan = functools.partial(client.plan, name, key, None, include_deleted=guess.include_deleted)
        soql = select_soql(name, guess.fields, key, None)
        url = client.data_url("queryAll" if guess.include_deleted else "query")
        if rest_query_url_length(url, soql) > MAX_REST_QUERY_URL:
            return  # too wide for REST: the stream says so, or reads it by Bulk (``choose_api``)
        client.send_early(soql, include_deleted=guess.include_deleted, plan=plan)


if __name__ == "__main__":
    TapSalesforce.cli()
