"""tap-workday: Workday HCM and Financials through RaaS custom reports, REST and the SOAP web services."""

from __future__ import annotations

import re
import typing as t
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from urllib.parse import parse_qsl, urlsplit

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.rest import KitRuntime, KitTap, kit_config_schema, max_concurrent_requests_setting
from xlr8_tap_workday import auth as wd_auth
from xlr8_tap_workday.client import WorkdayClient
from xlr8_tap_workday.streams import REST_STREAMS, SOAP_STREAMS, raas_stream_class

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.streams import Stream

REST_MAX_PAGE = 100
SOAP_MAX_PAGE = 999
DEFAULT_SOAP_VERSION = "v42.0"
_RAAS_PATH = re.compile(r"^/ccx/service/customreport2/(?P<tenant>[^/]+)/(?P<owner>[^/]+)/(?P<report>[^/?]+)$")
_STREAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

REPORT_SCHEMA = th.ObjectType(
    th.Property("name", th.StringType, required=True, description="Stream name for the report."),
    th.Property(
        "url",
        th.StringType,
        required=True,
        description="The report's RaaS URL (…/ccx/service/customreport2/<tenant>/<owner>/<report>, query allowed).",
    ),
    th.Property("primary_keys", th.ArrayType(th.StringType), description="Columns that identify an entry."),
    th.Property("params", th.ObjectType(), description='Fixed prompts, e.g. {"Organization!WID": "…"}.'),
    th.Property(
        "incremental",
        th.ObjectType(
            th.Property("from_prompt", th.StringType, required=True, description="Date prompt opening a window."),
            th.Property("to_prompt", th.StringType, required=True, description="Date prompt closing a window."),
            th.Property("start_date", th.DateType, required=True, description="First window's start on a first run."),
            th.Property("window_days", th.IntegerType, description="Days per request window (default 30)."),
            th.Property("replication_key", th.StringType, description="Column bookmarked between runs."),
            th.Property(
                "end_date",
                th.DateType,
                description="Last day to read (default: today in date_suffix's offset, UTC without one).",
            ),
            th.Property(
                "date_suffix", th.StringType, description="Offset appended to prompt dates, e.g. -08:00 (default none)."
            ),
        ),
        description="Rolling date prompts: the report is read in windows from the bookmark to today.",
    ),
    th.Property("entity", th.StringType, description="Canonical entity (xlr8 vocabulary) the report carries."),
    th.Property(
        "product",
        th.StringType,
        allowed_values=["workday_hcm", "workday_fins"],
        description="workday_hcm (default) or workday_fins: which product the report's data belongs to.",
    ),
    th.Property(
        "truth_type",
        th.StringType,
        allowed_values=["reality", "configuration"],
        description="reality or configuration.",
    ),
)

#: Four page requests in flight: REST answers carry ``total`` on every page (a moved total drops the guesses) and
#: SOAP pages share one As_Of moment, so pages answered out of order cannot hide an inserted row.
WINDOW_DEFAULT = 4
PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "base_url",
        th.StringType,
        required=True,
        description="Workday services host, e.g. https://wd2-impl-services1.workday.com (no path).",
    ),
    th.Property("tenant", th.StringType, required=True, description="Tenant name, e.g. acme_impl."),
    th.Property("client_id", th.StringType, description="API client id (REST; OAuth for RaaS/SOAP without an ISU)."),
    th.Property("client_secret", th.StringType, secret=True, description="API client secret."),
    th.Property("refresh_token", th.StringType, secret=True, description="Refresh token issued to the API client."),
    th.Property("username", th.StringType, description="Integration system user (RaaS Basic, SOAP WS-Security)."),
    th.Property("password", th.StringType, secret=True, description="The integration system user's password."),
    th.Property(
        "streams",
        th.ArrayType(th.StringType),
        description="Built-in streams to offer: "
        + ", ".join([*REST_STREAMS, *SOAP_STREAMS])
        + ". Default: those the configured credentials can read.",
    ),
    th.Property("reports", th.ArrayType(REPORT_SCHEMA), description="RaaS custom reports, one stream each."),
    th.Property("soap_version", th.StringType, description=f"Web services version (default {DEFAULT_SOAP_VERSION})."),
    th.Property("rest_page_size", th.IntegerType, description=f"REST limit per page (1-{REST_MAX_PAGE})."),
    th.Property("soap_page_size", th.IntegerType, description=f"SOAP Count per page (1-{SOAP_MAX_PAGE})."),
    th.Property("journals_start_date", th.DateType, description="Earliest Accounting_Date of SOAP journals."),
    max_concurrent_requests_setting(WINDOW_DEFAULT),
)


@dataclass(frozen=True)
class OAuthClient:
    client_id: str
    client_secret: str
    refresh_token: str

    def __repr__(self) -> str:
        return f"OAuthClient(client_id={self.client_id!r})"


@dataclass(frozen=True)
class IntegrationUser:
    username: str
    password: str

    def __repr__(self) -> str:
        return f"IntegrationUser(username={self.username!r})"


@dataclass(frozen=True)
class Incremental:
    from_prompt: str
    to_prompt: str
    start_date: date
    window_days: int
    replication_key: str | None
    end_date: date | None
    date_suffix: str


@dataclass(frozen=True)
class ReportSpec:
    name: str
    url: str  # without query
    tenant: str
    owner: str
    report: str
    params: tuple[tuple[str, str], ...]
    primary_keys: tuple[str, ...]
    incremental: Incremental | None
    entity: str | None
    truth_type: str
    product: str


@dataclass(frozen=True)
class WorkdaySettings:
    base_url: str
    tenant: str
    oauth: OAuthClient | None
    isu: IntegrationUser | None
    streams: tuple[str, ...]
    reports: tuple[ReportSpec, ...]
    soap_version: str
    rest_page_size: int
    soap_page_size: int
    journals_start_date: date | None
    filters: str | None = None

    @classmethod
    def from_config(cls, config: dict[str, t.Any]) -> WorkdaySettings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        base_url = str(config.get("base_url") or "").rstrip("/")
        parsed = urlsplit(base_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            errors.append("setting 'base_url' must be an https:// URL such as https://wd2-impl-services1.workday.com")
        elif parsed.path not in ("", "/"):
            errors.append("setting 'base_url' must be the host only, without a path")
        tenant = str(config.get("tenant") or "")
        if not tenant or "/" in tenant:
            errors.append("setting 'tenant' is required (the tenant name, no slashes)")
        oauth_fields = {k: config.get(k) for k in ("client_id", "client_secret", "refresh_token")}
        oauth = None
        if any(oauth_fields.values()):
            missing = [k for k, v in oauth_fields.items() if not v]
            errors.extend(f"setting {k!r} is required with the other OAuth settings" for k in missing)
            if not missing:
                oauth = OAuthClient(**{k: str(v) for k, v in oauth_fields.items()})
        isu = None
        if config.get("username") or config.get("password"):
            if not config.get("username") or not config.get("password"):
                errors.append("settings 'username' and 'password' (integration system user) go together")
            else:
                isu = IntegrationUser(str(config["username"]), str(config["password"]))
        if oauth is None and isu is None:
            errors.append("configure an API client (client_id, client_secret, refresh_token) and/or an integration "
                          "system user (username, password)")  # fmt: skip
        known = [*REST_STREAMS, *SOAP_STREAMS]
        requested = config.get("streams")
        if requested is None:
            streams = tuple(s for s in known if (s in SOAP_STREAMS) or oauth is not None)
        else:
            unknown = [s for s in requested if s not in known]
            if unknown:
                errors.append(f"setting 'streams' has unknown stream(s) {unknown}; known: {', '.join(known)}")
            streams = tuple(s for s in requested if s in known)
            if oauth is None and any(s in REST_STREAMS for s in streams):
                errors.append("REST streams in 'streams' need the OAuth settings (client_id, client_secret, "
                              "refresh_token)")  # fmt: skip
        reports = tuple(
            r
            for i, raw in enumerate(config.get("reports") or [])
            if (r := parse_report_setting(raw, i, base_url, tenant, errors)) is not None
        )
        names = [*streams, *(r.name for r in reports)]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            errors.append(f"stream names must be unique; repeated: {duplicates}")
        rest_page = int(config.get("rest_page_size") or REST_MAX_PAGE)
        if not 1 <= rest_page <= REST_MAX_PAGE:
            errors.append(f"setting 'rest_page_size' must be between 1 and {REST_MAX_PAGE}, not {rest_page}")
        soap_page = int(config.get("soap_page_size") or 500)
        if not 1 <= soap_page <= SOAP_MAX_PAGE:
            errors.append(f"setting 'soap_page_size' must be between 1 and {SOAP_MAX_PAGE}, not {soap_page}")
        version = str(config.get("soap_version") or DEFAULT_SOAP_VERSION)
        if not re.fullmatch(r"v\d+(\.\d+)?", version):
            errors.append(f"setting 'soap_version' must look like v42.0, not {version!r}")
        journals_start = _date(config.get("journals_start_date"), "journals_start_date", errors)
        if errors:
            raise ConfigValidationError("tap-workday: invalid configuration: " + "; ".join(errors), errors=errors)
        return cls(base_url, tenant, oauth, isu, streams, reports, version, rest_page, soap_page, journals_start,
                   config.get("filters"))  # fmt: skip


def _date(value: t.Any, name: str, errors: list[str]) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        errors.append(f"setting {name!r} must be a date (YYYY-MM-DD), not {value!r}")
        return None


def parse_report_setting(raw: t.Any, index: int, base_url: str, tenant: str, errors: list[str]) -> ReportSpec | None:
    where = f"reports[{index}]"
    if not isinstance(raw, dict):
        errors.append(f"setting '{where}' must be an object with name and url")
        return None
    name = str(raw.get("name") or "")
    if not _STREAM_NAME.match(name):
        errors.append(f"setting '{where}.name' must be a stream name (letters, digits, _), not {name!r}")
    url = str(raw.get("url") or "")
    parts = urlsplit(url if "://" in url else f"{base_url}{url if url.startswith('/') else '/' + url}")
    found = _RAAS_PATH.match(parts.path)
    if not found:
        errors.append(f"setting '{where}.url' must be a RaaS URL ending in /ccx/service/customreport2/<tenant>/"
                      f"<owner>/<report>, not {url!r}")  # fmt: skip
        return None
    if f"{parts.scheme}://{parts.netloc}" != base_url:
        errors.append(f"setting '{where}.url' must be on base_url {base_url!r} (credentials go nowhere else)")
    if found["tenant"] != tenant:
        errors.append(f"setting '{where}.url' names tenant {found['tenant']!r}, not the configured {tenant!r}")
    params = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in ("format", "xsds")]
    params += [(str(k), str(v)) for k, v in (raw.get("params") or {}).items()]
    incremental = None
    inc = raw.get("incremental")
    if inc:
        start = _date(inc.get("start_date"), f"{where}.incremental.start_date", errors)
        end = _date(inc.get("end_date"), f"{where}.incremental.end_date", errors)
        window = int(inc.get("window_days") or 30)
        if window < 1:
            errors.append(f"setting '{where}.incremental.window_days' must be at least 1")
        for key in ("from_prompt", "to_prompt"):
            if not inc.get(key):
                errors.append(f"setting '{where}.incremental.{key}' is required")
        if start is None and not inc.get("start_date"):
            errors.append(f"setting '{where}.incremental.start_date' is required")
        if start is not None and inc.get("from_prompt") and inc.get("to_prompt"):
            incremental = Incremental(
                str(inc["from_prompt"]), str(inc["to_prompt"]), start, window, inc.get("replication_key"), end,
                str(inc.get("date_suffix") or ""),
            )  # fmt: skip
    if incremental is not None and incremental.replication_key and not raw.get("primary_keys"):
        # The bookmark's day is read again every run: without a key each run would append it once more.
        errors.append(
            f"setting '{where}.primary_keys' is required when '{where}.incremental.replication_key' is set "
            "(the bookmark's day is re-read each run and upserted by these columns)"
        )
    return ReportSpec(
        name=name,
        url=f"{parts.scheme}://{parts.netloc}{parts.path}",
        tenant=found["tenant"],
        owner=found["owner"],
        report=found["report"],
        params=tuple(params),
        primary_keys=tuple(raw.get("primary_keys") or ()),
        incremental=incremental,
        entity=raw.get("entity"),
        truth_type=str(raw.get("truth_type") or "reality"),
        product=str(raw.get("product") or "workday_hcm"),
    )


class TapWorkday(KitTap):
    """Workday HCM and Financials: RaaS reports (schemas from their XSD), REST and SOAP web services."""

    name = "tap-workday"
    product_id = "workday_hcm"
    instance_url_setting = "base_url"
    #: Workday answers 429 with no Retry-After and no rate-limit headers; its quotas are per minute: a 429 waits
    #: the window out (audit25d F6).
    http_defaults: t.ClassVar[dict[str, t.Any]] = {"rate_window": 60.0}
    default_concurrent_requests = WINDOW_DEFAULT
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)

    @cached_property
    def settings(self) -> WorkdaySettings:
        return WorkdaySettings.from_config(self.resolved_config)

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase | None:
        return wd_auth.build_oauth(self.settings, runtime, self.resolved_config)

    @cached_property
    def client(self) -> WorkdayClient:
        kit = self.kit
        return WorkdayClient(
            kit.session,
            self.settings,
            oauth=kit.authenticator,
            isu=wd_auth.build_isu_basic(self.settings, kit),
            redactor=kit.redactor,
        )

    def discover_streams(self) -> list[Stream]:
        streams: list[Stream] = [(REST_STREAMS.get(name) or SOAP_STREAMS[name])(self) for name in self.settings.streams]
        for spec in self.settings.reports:
            streams.append(raas_stream_class(spec, self.client.report_schema(spec))(self))
        return streams


if __name__ == "__main__":
    TapWorkday.cli()
