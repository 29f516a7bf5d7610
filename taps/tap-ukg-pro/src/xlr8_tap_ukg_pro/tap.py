"""tap-ukg-pro: UKG Pro's REST personnel and configuration APIs, and RaaS reports as streams."""

from __future__ import annotations

import logging
import typing as t
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cached_property
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.declared import declaration_properties, declared_truths
from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.rest import MAX_CONCURRENT_REQUESTS, KitRuntime, KitTap, kit_config_schema
from xlr8_tap_ukg_pro import discovery
from xlr8_tap_ukg_pro.auth import RaasLogOn, UkgRestAuth
from xlr8_tap_ukg_pro.client import MAX_PER_PAGE, RaasReportStream
from xlr8_tap_ukg_pro.raas import RaasClient
from xlr8_tap_ukg_pro.streams import REST_STREAMS

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

logger = logging.getLogger("tap-ukg-pro")


PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "base_url",
        th.StringType,
        required=True,
        description="The tenant's service host, e.g. https://service5.ultipro.com (REST and RaaS).",
    ),
    th.Property("raas_url", th.StringType, description="RaaS host when it differs from base_url."),
    th.Property("username", th.StringType, required=True, description="Web service account user name."),
    th.Property("password", th.StringType, required=True, secret=True, description="Web service account password."),
    th.Property(
        "customer_api_key",
        th.StringType,
        required=True,
        secret=True,
        description="Customer API key (US-Customer-Api-Key header; RaaS ClientAccessKey).",
    ),
    th.Property(
        "user_access_key", th.StringType, secret=True, description="RaaS user access key (needed for RaaS reports)."
    ),
    th.Property(
        "per_page",
        th.IntegerType,
        default=1000,
        description=f"REST rows asked per page (1-{MAX_PER_PAGE}); UKG serves at most 100 on resources outside its "
        "10,000 list, and a short first page is then read as the page size: later pages are asked at that size. "
        "The read ends only at an empty page.",
    ),
    MAX_CONCURRENT_REQUESTS,
    th.Property("start_date", th.DateTimeType, description="employee_changes: first window start on a first run."),
    th.Property("end_date", th.DateTimeType, description="employee_changes: read changes up to here (default now)."),
    th.Property(
        "employee_changes_window_days", th.IntegerType, default=7, description="employee_changes window length."
    ),
    th.Property(
        "employee_changes_lag_hours",
        th.NumberType,
        default=3,
        description="employee_changes: the last window ends this many hours before now (0-72). UKG's change feed "
        "is batched (3 hours at least), so a change stamped just before now may reach it after the run.",
    ),
    th.Property(
        "employee_status_codes",
        th.ArrayType(th.StringType),
        description="Only employees with these status codes (A active, L leave, T terminated).",
    ),
    th.Property(
        "terminated_since",
        th.DateType,
        description="Drop people terminated before this date (others are kept).",
    ),
    th.Property(
        "raas_reports",
        th.ArrayType(
            th.ObjectType(
                th.Property("path", th.StringType, required=True, description="Report path from GetReportList."),
                th.Property("name", th.StringType, description="Stream name (default raas_<report name>)."),
                th.Property("parameters", th.ObjectType(additional_properties=True), description="Report prompts."),
                th.Property("primary_keys", th.ArrayType(th.StringType), description="Key columns."),
                *declaration_properties("employee", "EmployeeID"),
            )
        ),
        description="RaaS reports to offer as streams.",
    ),
    th.Property(
        "raas_all_reports",
        th.BooleanType,
        default=False,
        description="Offer every report GetReportList returns (besides raas_reports).",
    ),
    th.Property("raas_output", th.StringType, default="csv", allowed_values=["csv", "xml"], description="Format."),
    th.Property("raas_csv_encoding", th.StringType, default="cp1252", description="Encoding of RaaS CSV output."),
    th.Property(
        "raas_timezone",
        th.StringType,
        default="UTC",
        description="IANA time zone of report date-times that carry no offset (the tenant's local time).",
    ),
    th.Property("raas_poll_interval", th.NumberType, default=5, description="Seconds between RetrieveReport polls."),
    th.Property("raas_timeout", th.NumberType, default=1800, description="Longest wait for a report (s)."),
)


@dataclass(frozen=True)
class ReportSpec:
    path: str
    name: str | None = None
    parameters: dict[str, t.Any] = field(default_factory=dict)
    primary_keys: tuple[str, ...] | None = None
    entity: str | None = None
    truth_type: str = "reality"
    references: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class UkgProSettings:
    base_url: str
    raas_url: str
    username: str
    password: str = field(repr=False)
    customer_api_key: str = field(repr=False)
    user_access_key: str | None = field(repr=False)
    per_page: int
    start_date: datetime | None
    end_date: datetime | None
    employee_changes_window_days: int
    employee_status_codes: tuple[str, ...]
    terminated_since: date | None
    reports: tuple[ReportSpec, ...]
    all_reports: bool
    raas_output: str
    raas_csv_encoding: str
    raas_timezone: tzinfo
    raas_poll_interval: float
    raas_timeout: float
    filters: str | None = None
    #: How far behind now the last ``employee_changes`` window ends (``employee_changes_lag_hours``).
    employee_changes_lag: timedelta = timedelta(hours=3)

    @property
    def raas_enabled(self) -> bool:
        return bool(self.reports or self.all_reports)

    @classmethod
    def from_config(cls, config: dict[str, t.Any]) -> UkgProSettings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        base_url = _url(config, "base_url", errors, required=True)
        raas_url = _url(config, "raas_url", errors, required=False) or base_url
        for name in ("username", "password", "customer_api_key"):
            if not config.get(name):
                errors.append(f"setting {name!r} is required")
        per_page = int(_or_default(config.get("per_page"), 1000))
        if not 1 <= per_page <= MAX_PER_PAGE:
            errors.append(f"setting 'per_page' must be between 1 and {MAX_PER_PAGE}, not {per_page}")
        window = int(_or_default(config.get("employee_changes_window_days"), 7))
        if not 1 <= window <= 366:
            errors.append(f"setting 'employee_changes_window_days' must be between 1 and 366, not {window}")
        lag_hours = float(_or_default(config.get("employee_changes_lag_hours"), 3))
        if not 0 <= lag_hours <= 72:
            errors.append(f"setting 'employee_changes_lag_hours' must be between 0 and 72, not {lag_hours:g}")
        start_date = _instant(config, "start_date", errors)
        end_date = _instant(config, "end_date", errors)
        if start_date and end_date and end_date <= start_date:
            errors.append("setting 'end_date' must be after 'start_date'")
        statuses = tuple(str(s).strip().upper() for s in config.get("employee_status_codes") or ())
        if any(not s or len(s) > 3 for s in statuses):
            errors.append("setting 'employee_status_codes' must list status codes such as A, L, T")
        terminated_since = None
        if config.get("terminated_since"):
            try:
                terminated_since = date.fromisoformat(str(config["terminated_since"])[:10])
            except ValueError:
                errors.append(
                    f"setting 'terminated_since' must be a date (YYYY-MM-DD), not {config['terminated_since']!r}"
                )
        reports = tuple(_report(i, raw, errors) for i, raw in enumerate(config.get("raas_reports") or ()))
        all_reports = bool(config.get("raas_all_reports"))
        if (reports or all_reports) and not config.get("user_access_key"):
            errors.append("setting 'user_access_key' is required for RaaS reports (raas_reports / raas_all_reports)")
        output = str(config.get("raas_output") or "csv")
        if output not in ("csv", "xml"):
            errors.append(f"setting 'raas_output' must be 'csv' or 'xml', not {output!r}")
        encoding = str(config.get("raas_csv_encoding") or "cp1252")
        try:
            "".encode(encoding)
        except LookupError:
            errors.append(f"setting 'raas_csv_encoding' names an unknown encoding {encoding!r}")
        zone: tzinfo = UTC
        zone_name = str(config.get("raas_timezone") or "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(
                f"setting 'raas_timezone' must be an IANA time zone such as America/New_York, not {zone_name!r}"
            )
        raw_poll = config.get("raas_poll_interval")
        poll = float(raw_poll) if raw_poll is not None else 5.0
        timeout = float(_or_default(config.get("raas_timeout"), 1800))
        if poll < 0 or timeout <= 0:
            errors.append("settings 'raas_poll_interval' (>= 0) and 'raas_timeout' (> 0) must be positive")
        from xlr8_kit.filtering import filters_setting

        filters = filters_setting(config, errors)
        if errors:
            raise ConfigValidationError("tap-ukg-pro: invalid configuration: " + "; ".join(errors), errors=errors)
        return cls(
            base_url=base_url, raas_url=raas_url, username=config["username"], password=config["password"],
            customer_api_key=config["customer_api_key"], user_access_key=config.get("user_access_key"),
            per_page=per_page, start_date=start_date, end_date=end_date, employee_changes_window_days=window,
            employee_status_codes=statuses, terminated_since=terminated_since, reports=reports,
            all_reports=all_reports, raas_output=output, raas_csv_encoding=encoding, raas_timezone=zone,
            raas_poll_interval=poll, raas_timeout=timeout, filters=filters,
            employee_changes_lag=timedelta(hours=lag_hours),
        )  # fmt: skip


def _or_default(value: t.Any, default: t.Any) -> t.Any:
    """Only a missing setting takes the default: 0 is a value (and usually an error to report)."""
    return default if value is None else value


def _url(config: dict[str, t.Any], name: str, errors: list[str], *, required: bool) -> str:
    value = str(config.get(name) or "").rstrip("/")
    if not value:
        if required:
            errors.append(f"setting {name!r} is required (e.g. https://service5.ultipro.com)")
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        errors.append(f"setting {name!r} must be an https:// URL such as https://service5.ultipro.com")
    elif parsed.path not in ("", "/"):
        errors.append(f"setting {name!r} must be the host only, without a path ({parsed.path!r})")
    return value


def _instant(config: dict[str, t.Any], name: str, errors: list[str]) -> datetime | None:
    raw = config.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"setting {name!r} must be an ISO 8601 date-time, not {raw!r}")
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _report(index: int, raw: t.Any, errors: list[str]) -> ReportSpec:
    where = f"raas_reports[{index}]"
    if not isinstance(raw, dict) or not raw.get("path"):
        errors.append(f"setting '{where}.path' is required (a report path from GetReportList)")
        return ReportSpec(path="")
    parameters = raw.get("parameters") or {}
    if not isinstance(parameters, dict):
        errors.append(f"setting '{where}.parameters' must be an object of prompt name -> value")
        parameters = {}
    truth, references = declared_truths(raw, where, errors)
    keys = raw.get("primary_keys")
    return ReportSpec(
        path=str(raw["path"]),
        name=raw.get("name"),
        parameters=dict(parameters),
        primary_keys=tuple(keys) if keys is not None else None,
        entity=raw.get("entity"),
        truth_type=truth,
        references=references,
    )


class TapUkgPro(KitTap):
    """UKG Pro: REST personnel (Reality) and configuration streams, RaaS reports as streams."""

    name = "tap-ukg-pro"
    product_id = "ukg_pro"
    instance_url_setting = "base_url"
    #: UKG Pro's gateway quota window ("normally 1 minute", developer.ukg.com api-rate-limiting; no Retry-After):
    #: a 429 waits it out (audit25d F6).
    http_defaults: t.ClassVar[dict[str, t.Any]] = {"rate_window": 60.0}
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)

    @cached_property
    def settings(self) -> UkgProSettings:
        return UkgProSettings.from_config(self.resolved_config)

    def build_authenticator(self, runtime: KitRuntime) -> UkgRestAuth:
        s = self.settings
        return UkgRestAuth(s.username, s.password, s.customer_api_key, redactor=runtime.redactor)

    @cached_property
    def raas_authenticator(self) -> RaasLogOn:
        s = self.settings
        if not s.user_access_key:
            raise ConfigValidationError("tap-ukg-pro: setting 'user_access_key' is required for RaaS reports")
        return RaasLogOn(
            base_url=s.raas_url,
            username=s.username,
            password=s.password,
            client_access_key=s.customer_api_key,
            user_access_key=s.user_access_key,
            session=self.kit.session,
            redactor=self.kit.redactor,
            clock=self.kit.session.clock,
        )

    @cached_property
    def raas(self) -> RaasClient:
        s = self.settings
        return RaasClient(
            self.kit.session,
            self.raas_authenticator,
            base_url=s.raas_url,
            client_access_key=s.customer_api_key,
            redactor=self.kit.redactor,
            poll_interval=s.raas_poll_interval,
            timeout=s.raas_timeout,
            csv_delimiter="," if s.raas_output == "csv" else None,
        )

    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = [cls(self) for cls in REST_STREAMS]
        if self.settings.raas_enabled:
            try:
                streams.extend(cls(self) for cls in self.report_stream_classes())
            finally:
                self.log_off_raas()
        return streams

    def log_off_raas(self) -> None:
        """End the RaaS session if one was opened (best effort: a failed LogOff loses nothing)."""
        if "raas" not in self.__dict__:
            return
        try:
            self.raas.log_off()
        except (KitHTTPError, OSError) as exc:
            logger.warning("RaaS LogOff failed (nothing lost): %s", self.kit.redactor.redact(str(exc)))

    def report_specs(self) -> list[ReportSpec]:
        specs = list(self.settings.reports)
        if self.settings.all_reports:
            configured = {s.path for s in specs}
            specs.extend(
                ReportSpec(path=r.path, name=None) for r in self.raas.list_reports() if r.path not in configured
            )
        return specs

    def report_stream_classes(self) -> list[type[RaasReportStream]]:
        classes = []
        seen: set[str] = set()
        for spec in self.report_specs():
            name = spec.name or discovery.stream_name_for(discovery.report_name_from_path(spec.path))
            if name in seen:
                raise ConfigValidationError(f"tap-ukg-pro: two RaaS reports map to stream {name!r}; set 'name'")
            seen.add(name)
            classes.append(self._report_stream_class(name, spec))
        return classes

    def _catalog_schema(self, name: str) -> dict[str, t.Any] | None:
        catalog = self.input_catalog
        entry = catalog.get_stream(name) if catalog is not None else None
        return entry.schema.to_dict() if entry is not None and entry.schema is not None else None

    def _report_stream_class(self, name: str, spec: ReportSpec) -> type[RaasReportStream]:
        """A stream per report: the schema from the input catalog when given, else from running the report once."""
        known = self._catalog_schema(name)
        keys: list[str]
        if known is not None and known.get("properties"):
            types = {col: _type_of(prop) for col, prop in known["properties"].items()}
            keys = list(spec.primary_keys or [])
            entry = self.input_catalog.get_stream(name) if self.input_catalog is not None else None
            if not keys and entry is not None and entry.key_properties:
                keys = list(entry.key_properties)
        else:
            shape = discovery.profile_report(  # streamed: a large report is never held whole
                self.raas.stream_run(spec.path, spec.parameters), encoding=self.settings.raas_csv_encoding
            )
            types = dict(shape.types)
            keys = list(spec.primary_keys) if spec.primary_keys is not None else shape.primary_keys
        inferred = bool(keys) and spec.primary_keys is None
        if inferred:
            logger.warning(
                "RaaS report %r: key %s was inferred (unique in the one run discovery saw), not set; every run "
                "checks it stays unique and stops if not. Set raas_reports[].primary_keys to confirm it",
                name,
                keys,
            )
        unknown = [k for k in keys if k not in types]
        if unknown:
            raise ConfigValidationError(f"tap-ukg-pro: report {name!r} has no column(s) {', '.join(unknown)}")
        # Rows keyed by EmployeeID are employee facts; other rows name their entity in the config, and an
        # EmployeeID column among them still references the employee hub.
        entity = spec.entity or ("employee" if keys == ["EmployeeID"] else None)
        references = dict(spec.references)
        if "EmployeeID" in types and entity not in (None, "employee"):
            references.setdefault("EmployeeID", "employee")
        if entity is None:
            logger.warning(
                "RaaS report %r has no canonical entity (set raas_reports[].entity): its rows carry no x-xlr8 "
                "annotation",
                name,
            )
        attrs: dict[str, t.Any] = {
            "name": name,
            "report_path": spec.path,
            "report_parameters": dict(spec.parameters),
            "column_types": types,
            "primary_keys": tuple(keys),
            "keys_inferred": inferred,
            "xlr8_entity": entity,
            "xlr8_references": references,
            "xlr8_truth_type": spec.truth_type,
            "schema": {"type": "object", "properties": {c: discovery.json_schema_for(k) for c, k in types.items()}},
            "__doc__": f"RaaS report {spec.path}",
        }
        if entity is None:
            attrs["_generate_schema_messages"] = _plain_schema_messages
        return type(f"Raas_{name}", (RaasReportStream,), attrs)


def _plain_schema_messages(stream: RaasReportStream) -> t.Generator[t.Any, None, None]:
    """Reports with no canonical entity go out without ``x-xlr8``."""
    from xlr8_kit.rest import AnnotatedStreamMixin

    yield from super(AnnotatedStreamMixin, stream)._generate_schema_messages()


def _type_of(prop: dict[str, t.Any]) -> discovery.ColumnType:
    kinds = prop.get("type") or ["string"]
    kinds = [kinds] if isinstance(kinds, str) else kinds
    fmt = prop.get("format")
    if fmt in ("date", "date-time"):
        return t.cast("discovery.ColumnType", fmt)
    for kind in ("integer", "number", "boolean"):
        if kind in kinds:
            return t.cast("discovery.ColumnType", kind)
    return "string"


if __name__ == "__main__":
    TapUkgPro.cli()
