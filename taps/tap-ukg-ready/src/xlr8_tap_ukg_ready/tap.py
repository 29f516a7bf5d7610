"""tap-ukg-ready: UKG Ready's v2 employee and configuration resources, and saved/global reports as streams."""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import quote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import Catalog, Metadata, Schema

from xlr8_kit.columns import json_schema_for
from xlr8_kit.declared import declaration_properties, declared_truths
from xlr8_kit.filtering import filters_setting
from xlr8_kit.rest import KitRuntime, KitTap, kit_config_schema
from xlr8_tap_ukg_ready import reports
from xlr8_tap_ukg_ready.auth import ReadyClientCredentials, ReadyLogin
from xlr8_tap_ukg_ready.client import ReportStream
from xlr8_tap_ukg_ready.streams import REST_STREAMS

if t.TYPE_CHECKING:
    from singer_sdk import Stream

logger = logging.getLogger("tap-ukg-ready")

MAX_PAGE_SIZE = 1000
#: UKG Ready's cost-center trees (lists) are numbered from 0; a company has at most nine.
COST_CENTER_TREES = tuple(range(9))
MAX_LOOKBACK_DAYS = 3660
REPORT_FORMATS = ("csv", "json")

PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "base_url", th.StringType, required=True, description="The tenant's host, e.g. https://secure.saashr.com."
    ),
    th.Property(
        "company_short_name",
        th.StringType,
        description="Company short name (logs in; addresses the company in paths when company_id is not set).",
    ),
    th.Property("company_id", th.StringType, description="Numeric company id (addresses the company when set)."),
    th.Property("api_key", th.StringType, secret=True, description="REST API key (v1 login, Api-Key header)."),
    th.Property("username", th.StringType, description="API user name (v1 login)."),
    th.Property("password", th.StringType, secret=True, description="API user password (v1 login)."),
    th.Property("client_id", th.StringType, description="OAuth client id (v2 client credentials, instead of login)."),
    th.Property("client_secret", th.StringType, secret=True, description="OAuth client secret (v2)."),
    th.Property(
        "oauth_token_url",
        th.StringType,
        description="OAuth token endpoint (default <base_url>/ta/rest/v2/companies/<company>/oauth2/token).",
    ),
    th.Property("page_size", th.IntegerType, default=100, description=f"Employees per page (1-{MAX_PAGE_SIZE})."),
    th.Property(
        "employee_details",
        th.BooleanType,
        default=False,
        description="Give employees the columns only each employee's full record has (primary_email, "
        "manager_account_id, manager_employee_id, cost_center_<tree>_id per cost_center_trees): one more call per "
        "employee (GET .../employees/{id}) against the tenant's rate limit, so off by default.",
    ),
    th.Property(
        "cost_center_trees",
        th.ArrayType(th.IntegerType),
        description="The cost-center trees (tree_index, 0-8) the cost_centers stream reads, one call each. Default: "
        "all nine, so no tree (departments, locations, unions...) is left out; a tree the tenant refuses stops the "
        "run with an error naming this setting: then list only the trees the tenant has.",
    ),
    th.Property(
        "reports",
        th.ArrayType(
            th.ObjectType(
                th.Property("id", th.IntegerType, required=True, description="Report (settings) id."),
                th.Property(
                    "kind", th.StringType, allowed_values=list(reports.REPORT_KINDS), description="saved/global"
                ),
                th.Property("name", th.StringType, description="Stream name (default report_<report name>)."),
                th.Property(
                    "primary_keys",
                    th.ArrayType(th.StringType),
                    description="Key columns the target upserts by; required with replication_key. Without "
                    "them every run appends the whole report again (a warning says so).",
                ),
                th.Property(
                    "replication_key",
                    th.StringType,
                    description="A date column the bookmark follows. Every row the report returns is still "
                    "emitted unless lookback_days is set (the report is read whole; the target upserts by "
                    "primary_keys).",
                ),
                th.Property(
                    "lookback_days",
                    th.IntegerType,
                    description="With replication_key: emit only rows dated on or after the bookmark less this "
                    f"many days (0-{MAX_LOOKBACK_DAYS}); rows with an empty date are always emitted. Corrections "
                    "to older rows are then not emitted (their count is logged).",
                ),
                *declaration_properties("pay_statement", "EmployeeId"),
            )
        ),
        description="Saved and global reports to offer as streams (columns from each report's metadata).",
    ),
    th.Property(
        "report_format",
        th.StringType,
        default="csv",
        allowed_values=list(REPORT_FORMATS),
        description="How reports are read: csv (streamed row by row) or json.",
    ),
    th.Property(
        "report_time_zone",
        th.StringType,
        description="The IANA time zone (e.g. America/Chicago) the tenant writes report date-times in (they carry "
        "no offset): each such value is emitted with this zone's offset. Required when a report has a date-time "
        "column. A wall time the clock skipped stops the run; one it shows twice is taken as the first.",
    ),
    th.Property(
        "report_date_format",
        th.StringType,
        default=reports.DEFAULT_DATE_FORMAT,
        allowed_values=list(reports.DATE_FORMATS),
        description="How CSV report dates are written: the API user's date format in UKG Ready (MM/DD/YYYY, or "
        "DD/MM/YYYY for day-first regional settings). A date that only fits the other order stops the run. A report "
        "bookmark written under the other format is ignored (every row is emitted once).",
    ),
)


@dataclass(frozen=True)
class ReportSpec:
    ref: reports.ReportRef
    #: ``reports[n]``, for messages naming the setting.
    where: str = "reports[?]"
    name: str | None = None
    primary_keys: tuple[str, ...] = ()
    replication_key: str | None = None
    #: None: every row is emitted; else rows dated before ``bookmark - lookback_days`` are held back (and counted).
    lookback_days: int | None = None
    entity: str | None = None
    truth_type: str = "reality"
    references: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UkgReadySettings:
    base_url: str
    company_short_name: str | None
    company_id: str | None
    flow: str  # login | oauth
    api_key: str | None = field(repr=False)
    username: str | None
    password: str | None = field(repr=False)
    client_id: str | None
    client_secret: str | None = field(repr=False)
    oauth_token_url: str | None
    page_size: int
    reports: tuple[ReportSpec, ...]
    report_format: str
    report_date_format: str = "MM/DD/YYYY"  # reports.DEFAULT_DATE_FORMAT (the field above hides the module)
    cost_center_trees: tuple[int, ...] = COST_CENTER_TREES
    #: ``employee_details``: employees read each employee's full record too (one call each).
    employee_details: bool = False
    #: ``report_time_zone``: the zone of report date-times (None: not set; a report with one is refused).
    report_time_zone: ZoneInfo | None = None

    @property
    def company_ref(self) -> str:
        """How v2 paths name the company: the numeric id, else ``|<short name>``."""
        return self.company_id or f"|{self.company_short_name}"

    @property
    def token_url(self) -> str:
        company = quote(self.company_ref, safe="")
        return self.oauth_token_url or f"{self.base_url}/ta/rest/v2/companies/{company}/oauth2/token"

    @classmethod
    def from_config(cls, config: dict[str, t.Any]) -> UkgReadySettings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        base_url = str(config.get("base_url") or "").rstrip("/")
        parsed = urlparse(base_url)
        if not base_url:
            errors.append("setting 'base_url' is required (e.g. https://secure.saashr.com)")
        elif parsed.scheme not in ("https", "http") or not parsed.netloc:
            errors.append("setting 'base_url' must be an https:// URL such as https://secure.saashr.com")
        elif parsed.path not in ("", "/"):
            errors.append(f"setting 'base_url' must be the host only, without a path ({parsed.path!r})")
        short = str(config.get("company_short_name") or "").strip() or None
        company_id = str(config.get("company_id") or "").strip() or None
        if company_id is not None and not company_id.isdigit():
            errors.append(f"setting 'company_id' must be the numeric company id, not {company_id!r}")
        oauth = bool(config.get("client_id") or config.get("client_secret"))
        if oauth:
            missing = [n for n in ("client_id", "client_secret") if not config.get(n)]
        else:
            missing = [n for n in ("api_key", "username", "password", "company_short_name") if not config.get(n)]
        for name in missing:
            flow = "OAuth client credentials" if oauth else "the v1 login (or set client_id/client_secret)"
            errors.append(f"setting {name!r} is required for {flow}")
        if oauth and not (short or company_id):
            errors.append("setting 'company_id' or 'company_short_name' is required to address the company")
        page_size = int(config["page_size"]) if config.get("page_size") is not None else 100
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            errors.append(f"setting 'page_size' must be between 1 and {MAX_PAGE_SIZE}, not {page_size}")
        specs = tuple(_report(i, raw, errors) for i, raw in enumerate(config.get("reports") or ()))
        fmt = str(config.get("report_format") or "csv")
        if fmt not in REPORT_FORMATS:
            errors.append(f"setting 'report_format' must be 'csv' or 'json', not {fmt!r}")
        date_format = str(config.get("report_date_format") or reports.DEFAULT_DATE_FORMAT)
        if date_format not in reports.DATE_FORMATS:
            errors.append(f"setting 'report_date_format' must be one of {', '.join(reports.DATE_FORMATS)}")
        trees = config.get("cost_center_trees")
        trees = COST_CENTER_TREES if trees is None else trees
        if (
            not isinstance(trees, list | tuple)
            or not trees
            or any(isinstance(i, bool) or i not in COST_CENTER_TREES for i in trees)
        ):
            errors.append("setting 'cost_center_trees' must be a non-empty list of tree indexes 0-8")
            trees = COST_CENTER_TREES
        details = config.get("employee_details", False)
        if details is None:
            details = False
        if not isinstance(details, bool):
            errors.append(f"setting 'employee_details' must be true or false, not {details!r}")
            details = False
        zone_name = str(config.get("report_time_zone") or "").strip() or None
        zone = None
        if zone_name is not None:
            try:
                zone = ZoneInfo(zone_name)
            except (ZoneInfoNotFoundError, ValueError):
                errors.append(
                    f"setting 'report_time_zone' must be an IANA time zone such as America/Chicago, not {zone_name!r}"
                )
        filters_setting(config, errors)  # checked with the others; the streams read it (UniversalFilterMixin)
        if errors:
            raise ConfigValidationError("tap-ukg-ready: invalid configuration: " + "; ".join(errors), errors=errors)
        return cls(
            base_url=base_url, company_short_name=short, company_id=company_id, flow="oauth" if oauth else "login",
            api_key=config.get("api_key"), username=config.get("username"), password=config.get("password"),
            client_id=config.get("client_id"), client_secret=config.get("client_secret"),
            oauth_token_url=config.get("oauth_token_url") or None, page_size=page_size, reports=specs,
            report_format=fmt, report_date_format=date_format, cost_center_trees=tuple(dict.fromkeys(trees)),
            report_time_zone=zone, employee_details=details,
        )  # fmt: skip


def _report(index: int, raw: t.Any, errors: list[str]) -> ReportSpec:
    where = f"reports[{index}]"
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), int) or isinstance(raw.get("id"), bool):
        errors.append(f"setting '{where}.id' is required (the report's numeric id)")
        return ReportSpec(reports.ReportRef("saved", 0))
    kind = raw.get("kind") or "saved"
    if kind not in reports.REPORT_KINDS:
        errors.append(f"setting '{where}.kind' must be 'saved' or 'global', not {kind!r}")
    truth, references = declared_truths(raw, where, errors)
    replication_key = raw.get("replication_key") or None
    lookback = raw.get("lookback_days")
    if lookback is not None:
        if isinstance(lookback, bool) or not isinstance(lookback, int) or not 0 <= lookback <= MAX_LOOKBACK_DAYS:
            errors.append(f"setting '{where}.lookback_days' must be a whole number of days, 0-{MAX_LOOKBACK_DAYS}")
            lookback = None
        elif replication_key is None:
            errors.append(
                f"setting '{where}.lookback_days' needs '{where}.replication_key' (the date it counts back from)"
            )
    if replication_key is not None and not raw.get("primary_keys"):
        # Every run reads the report whole (a bookmark only dates it): without a key each run appends it again.
        errors.append(
            f"setting '{where}.primary_keys' is required when '{where}.replication_key' is set (the report is read "
            "whole every run and its rows are upserted by these columns; without them every run lands them again)"
        )
    return ReportSpec(
        where=where,
        ref=reports.ReportRef(kind, raw["id"]),
        name=raw.get("name") or None,
        primary_keys=tuple(raw.get("primary_keys") or ()),
        replication_key=replication_key,
        lookback_days=lookback,
        entity=raw.get("entity") or None,
        truth_type=truth,
        references=references,
    )


class TapUkgReady(KitTap):
    """UKG Ready: employees and their resources (Reality), configuration lists, saved/global reports."""

    name = "tap-ukg-ready"
    product_id = "ukg_ready"
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)
    #: Ready's rate limit (error code 100, or a 429) names no wait: a minute per attempt, within http.max_attempts
    #: (a public Ready client backs off 2+4+8+16+32 s, about the same minute in all).
    http_defaults: t.ClassVar[dict[str, t.Any]] = {"rate_window": 60.0}

    @cached_property
    def settings(self) -> UkgReadySettings:
        return UkgReadySettings.from_config(self.resolved_config)

    def build_authenticator(self, runtime: KitRuntime) -> ReadyLogin | ReadyClientCredentials:
        s = self.settings
        if s.flow == "oauth":
            return ReadyClientCredentials(
                s.token_url,
                t.cast("str", s.client_id),
                t.cast("str", s.client_secret),
                session=runtime.session,
                redactor=runtime.redactor,
            )
        return ReadyLogin(
            base_url=s.base_url,
            api_key=t.cast("str", s.api_key),
            username=t.cast("str", s.username),
            password=t.cast("str", s.password),
            company_short_name=t.cast("str", s.company_short_name),
            session=runtime.session,
            redactor=runtime.redactor,
        )

    @cached_property
    def client(self) -> reports.ReportClient:
        kit = self.kit
        return reports.ReportClient(kit.session, kit.authenticator, self.settings.base_url, kit.redactor.redact)

    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = [cls(self) for cls in REST_STREAMS]
        streams.extend(cls(self) for cls in self.report_stream_classes())
        return streams

    def setup_mapper(self) -> None:
        """With an input catalog, report entries take the reports' current columns before the mapper reads them."""
        catalog = self.input_catalog
        if catalog is not None and self.settings.reports:
            for stream in self.streams.values():
                if isinstance(stream, ReportStream):
                    _refresh_report_entry(catalog, stream)
        super().setup_mapper()

    def report_stream_classes(self) -> list[type[ReportStream]]:
        classes: list[type[ReportStream]] = []
        seen: set[str] = set()
        for spec in self.settings.reports:
            meta = self.client.metadata(spec.ref)
            name = spec.name or reports.stream_name_for(meta.name)
            if name in seen:
                raise ConfigValidationError(f"tap-ukg-ready: two reports map to stream {name!r}; set 'name'")
            seen.add(name)
            unknown = [k for k in spec.primary_keys if k not in meta.columns]
            if unknown:
                raise ConfigValidationError(
                    f"tap-ukg-ready: setting 'reports' names key column(s) {', '.join(unknown)} that report "
                    f"{spec.ref.kind}/{spec.ref.id} ({meta.name!r}) does not have"
                )
            if not spec.primary_keys:
                logger.warning(
                    "report stream %r has no primary_keys: every run lands all of its rows again beside the earlier "
                    "runs' (a keyless stream is appended); set '%s.primary_keys' to the columns that identify a row",
                    name,
                    spec.where,
                )
            stamps = [c for c, kind in meta.columns.items() if kind == "date-time"]
            if stamps and self.settings.report_time_zone is None:
                raise ConfigValidationError(
                    f"tap-ukg-ready: report {spec.ref.kind}/{spec.ref.id} ({meta.name!r}) has date-time column(s) "
                    f"{', '.join(stamps)}, which UKG Ready writes in the tenant's time zone without an offset: set "
                    "'report_time_zone' (an IANA name such as America/Chicago)"
                )
            key = spec.replication_key
            if key is not None and meta.columns.get(key) not in ("date", "date-time"):
                raise ConfigValidationError(
                    f"tap-ukg-ready: setting 'reports' gives replication_key {key!r} for report {spec.ref.kind}/"
                    f"{spec.ref.id} ({meta.name!r}), which is not one of its date columns"
                )
            attrs: dict[str, t.Any] = {
                "name": name,
                "report": spec.ref,
                "report_title": meta.name,
                "column_types": dict(meta.columns),
                "primary_keys": list(spec.primary_keys),
                "replication_key": key,
                "lookback_days": spec.lookback_days,
                "xlr8_entity": spec.entity,
                "xlr8_truth_type": spec.truth_type,
                "xlr8_references": dict(spec.references),
                "schema": {
                    "type": "object",
                    "properties": {c: json_schema_for(k) for c, k in meta.columns.items()},
                },
                "__doc__": f"UKG Ready {spec.ref.kind} report {spec.ref.id} ({meta.name})",
            }
            classes.append(type(f"Report_{name}", (ReportStream,), attrs))
        return classes


def _refresh_report_entry(catalog: Catalog, stream: ReportStream) -> None:
    """Selection and keys from the catalog, columns from the report's metadata now: a column the tenant added
    since discovery is emitted (selected when its report is), one removed is no longer promised."""
    entry = catalog.get_stream(stream.name)
    if entry is None:
        return
    live = stream.schema
    known = set((entry.schema.to_dict().get("properties") or {}) if entry.schema is not None else ())
    root = entry.metadata.get(())
    selected = bool(root.selected) if root is not None and root.selected is not None else None
    added = [c for c in live["properties"] if c not in known]
    for column in added:
        entry.metadata[("properties", column)] = Metadata(inclusion=Metadata.InclusionType.AVAILABLE, selected=selected)
    if added:
        logger.info("report stream %r has new column(s) since discovery: %s", stream.name, ", ".join(added))
    entry.schema = Schema.from_dict(live)
    stream._metadata = None
    stream._mask = None
    stream.apply_catalog(catalog)


if __name__ == "__main__":
    TapUkgReady.cli()
