"""Settings every Fusion tap shares (flat: one setting per key, every secret its own), parsed once into a frozen
value, and the authenticator they describe: Basic (integration user), OAuth 2.0 client credentials, or OAuth 2.0
JWT user assertion (Oracle IAM / IDCS confidential application), all from the kit."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import urlparse

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.auth.jwt_bearer import JWTBearer
from xlr8_kit.auth.oauth2 import OAuth2ClientCredentials
from xlr8_kit.auth.static import Basic
from xlr8_kit.http.window import MAX_LATENCY_WINDOW
from xlr8_kit.oracle.protocol import ADVANCED_FRAMEWORK, MAX_LIMIT
from xlr8_kit.rest import MAX_CONCURRENT_REQUESTS_KEY, max_concurrent_requests_setting

if t.TYPE_CHECKING:
    import requests

    from xlr8_kit.rest import KitRuntime

AUTH_TYPES = ("basic", "oauth_client_credentials", "oauth_jwt")
#: ``max_concurrent_requests``' default: offset windows check ``totalResults`` on every page (as the kit's
#: ``COUNTED_CONCURRENT_REQUESTS``), and keyset reads read that many ranges at once, each one request in flight:
#: at 100 ms a request, 4 ranges of 500-row pages cap a read near 20,000 rows/s, below 0.70 of its 0 ms rate (issue
#: 14 goal 5). Oracle publishes no per-user limit on concurrent REST requests; a throttled request (429, 503) is
#: retried after its Retry-After by the kit's session, and ``http.requests_per_second`` caps the rate.
FUSION_CONCURRENT_REQUESTS = 8
#: ``latency_concurrent_requests`` is opt-in (unset: a keyset read keeps ``max_concurrent_requests`` in flight, as
#: before session 21). Its measure cannot tell the network from the server's own work: a real pod spends 300-1,000 ms
#: on a page the tap takes 5-30 ms over, so it would always widen, each request in flight a database session shared
#: with the customer's users, and Oracle publishes no Fusion REST concurrency limit to stay under (review 21b). Set,
#: ERP invoices at 100 ms read its ranges in 1.08-1.16 s at 24 against 1.85-2.11 s at 8 (bench/README, ora20).
CHILD_MODES = ("streams", "embed")
#: ``full_read_every_days`` unless set: a default install's flattened child columns, embedded children and
#: future-dated changes are at most a week late, for one whole read of the resources they touch a week (HCM's
#: workers and effective-dated code tables; ERP's suppliers, purchaseOrders and invoices only with
#: ``child_mode: embed``); 0 turns it off.
FULL_READ_EVERY_DAYS = 7
#: ``lookback_seconds`` unless set (audit25a F6): Fusion stamps ``LastUpdateDate`` when a row is written, and the
#: row is seen once its transaction commits; bulk work commits late (ESS imports such as Import Payables Invoices,
#: HCM Data Loader batches). One hour, the kit's own bound on a Fusion bulk job (``extract_timeout``), where
#: tap-salesforce reads 300 s back for its loads: the overlap costs only rows re-read (the target upserts by key).
LOOKBACK_SECONDS = 3600
DEFAULT_API_VERSION = "11.13.18.05"
#: The ``aud`` Oracle identity domains expect in a JWT user assertion.
DEFAULT_JWT_AUDIENCE = "https://identity.oraclecloud.com/"

#: Which settings each auth flow needs (also Meltano's ``settings_group_validation``).
REQUIRED_BY_AUTH: dict[str, tuple[str, ...]] = {
    "basic": ("username", "password"),
    "oauth_client_credentials": ("client_id", "client_secret", "token_url"),
    "oauth_jwt": ("client_id", "username", "private_key", "token_url"),
}


def fusion_settings(default_resources: t.Sequence[str]) -> th.PropertiesList:
    """The product settings of a Fusion tap (the kit's settings are added by ``kit_config_schema``)."""
    return th.PropertiesList(
        th.Property(
            "base_url",
            th.StringType,
            required=True,
            description="The pod's host, e.g. https://acme.fa.us2.oraclecloud.com (no /hcmRestApi or /fscmRestApi).",
        ),
        th.Property("api_version", th.StringType, default=DEFAULT_API_VERSION, description="Resource version."),
        th.Property(
            "rest_framework_version",
            th.StringType,
            default=ADVANCED_FRAMEWORK,
            description=(
                "REST-Framework-Version header: 1 for the simple q syntax, 2 or later for rowmatch q; from 3 expanded "
                "children come as collection objects of 25 rows, and a cut child is read whole from its own URL under "
                "the parent item's self link."
            ),
        ),
        th.Property(
            "auth_type",
            th.StringType,
            default="basic",
            allowed_values=list(AUTH_TYPES),
            description="basic (integration user), oauth_client_credentials or oauth_jwt (JWT user assertion).",
        ),
        th.Property("username", th.StringType, description="basic: integration user; oauth_jwt: the assertion's sub."),
        th.Property("password", th.StringType, secret=True, description="basic: the integration user's password."),
        th.Property("client_id", th.StringType, description="OAuth: confidential application client id."),
        th.Property("client_secret", th.StringType, secret=True, description="OAuth: client secret."),
        th.Property("token_url", th.StringType, description="OAuth: identity domain token endpoint."),
        th.Property("scope", th.StringType, description="OAuth: scope (the Fusion resource audience)."),
        th.Property("private_key", th.StringType, secret=True, description="oauth_jwt: PEM private key (RS256)."),
        th.Property(
            "private_key_passphrase", th.StringType, secret=True, description="oauth_jwt: the key's passphrase."
        ),
        th.Property("certificate", th.StringType, description="oauth_jwt: PEM certificate (adds x5t)."),
        th.Property("key_id", th.StringType, description="oauth_jwt: kid header (the certificate alias)."),
        th.Property(
            "jwt_audience", th.StringType, default=DEFAULT_JWT_AUDIENCE, description="oauth_jwt: assertion aud."
        ),
        th.Property(
            "resources",
            th.ArrayType(th.StringType),
            description=f"Resources to offer as streams. Default: {', '.join(default_resources)}.",
        ),
        th.Property(
            "child_mode",
            th.StringType,
            default="streams",
            allowed_values=list(CHILD_MODES),
            description="Child resources as their own streams with the parent key (streams) or nested (embed).",
        ),
        th.Property("start_date", th.DateTimeType, description="Earliest LastUpdateDate read on a first run."),
        th.Property(
            "effective_date",
            th.DateType,
            description="As-of date for effective-dated resources (effectiveDate parameter; default today).",
        ),
        th.Property(
            "lookback_seconds",
            th.IntegerType(minimum=0),
            default=LOOKBACK_SECONDS,
            description="Each incremental read starts this many seconds before the bookmark, so rows committed late "
            "(an ESS import or HCM Data Loader batch stamps LastUpdateDate when it writes, not when it commits) still "
            "land. Cost: the rows changed in that window are read and emitted again each run (the target upserts "
            f"them by key). 0 turns it off (default {LOOKBACK_SECONDS}).",
        ),
        th.Property(
            "full_read_every_days",
            th.IntegerType(minimum=0),
            default=FULL_READ_EVERY_DAYS,
            description="Incremental resources whose rows change without their LastUpdateDate (columns flattened "
            "from children, children embedded by child_mode embed, effective-dated rows whose future-dated change "
            "takes effect): read whole, ignoring the bookmark, when the last whole read is this many days old or "
            f"more (0: never; a whole read costs a first run's requests; default {FULL_READ_EVERY_DAYS}).",
        ),
        th.Property("page_size", th.IntegerType, default=MAX_LIMIT, description=f"Rows per page (1-{MAX_LIMIT})."),
        max_concurrent_requests_setting(
            FUSION_CONCURRENT_REQUESTS,
            also="Keyset pages (incremental resources): up to that many ranges of LastUpdateDate read at once, and "
            "never more requests in flight unless latency_concurrent_requests is set. ",
        ),
        th.Property(
            "latency_concurrent_requests",
            th.IntegerType(minimum=1, maximum=MAX_LATENCY_WINDOW),
            description="Opt-in (unset: never more than max_concurrent_requests). Keyset pages (incremental "
            "resources): up to this many requests in flight against your tenant when page 1's round trip dwarfs "
            "what the page costs the tap (about round trip / page cost; a real pod's own time counts, so this is "
            f"usually reached). At least max_concurrent_requests, at most {MAX_LATENCY_WINDOW}. Any retried answer "
            "(429, 5xx, a timeout) narrows the read back to max_concurrent_requests, and later reads of the run do "
            "not widen; http.requests_per_second caps it too.",
        ),
        th.Property(
            "extract_poll_interval", th.NumberType, default=5, description="Seconds between bulk job status polls."
        ),
        th.Property(
            "extract_timeout", th.NumberType, default=3600, description="Longest wait for a bulk job (seconds)."
        ),
    )


@dataclass(frozen=True)
class FusionSettings:
    base_url: str
    api_version: str
    framework_version: str
    auth_type: str
    resources: tuple[str, ...]
    child_mode: str
    page_size: int
    start_date: datetime | None
    effective_date: date | None
    extract_poll_interval: float
    extract_timeout: float
    latency_concurrent_requests: int | None = None
    full_read_every_days: int = FULL_READ_EVERY_DAYS
    lookback_seconds: int = LOOKBACK_SECONDS
    username: str | None = None
    password: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    token_url: str | None = None
    scope: str | None = None
    private_key: str | None = None
    private_key_passphrase: str | None = None
    certificate: str | None = None
    key_id: str | None = None
    jwt_audience: str = DEFAULT_JWT_AUDIENCE

    def __repr__(self) -> str:  # secrets never in a repr
        return f"FusionSettings(base_url={self.base_url!r}, auth_type={self.auth_type!r})"

    @classmethod
    def from_config(
        cls, config: t.Mapping[str, t.Any], *, tap_name: str, default_resources: t.Sequence[str]
    ) -> FusionSettings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        base_url = str(config.get("base_url") or "").rstrip("/")
        parsed = urlparse(base_url)
        if parsed.scheme not in ("https", "http") or not parsed.netloc:
            errors.append("setting 'base_url' must be an https:// URL such as https://acme.fa.us2.oraclecloud.com")
        elif parsed.path.strip("/"):
            errors.append("setting 'base_url' must be the host only, without a path such as /hcmRestApi")
        auth_type = str(config.get("auth_type") or "basic")
        if auth_type not in AUTH_TYPES:
            errors.append(f"setting 'auth_type' must be one of {', '.join(AUTH_TYPES)}, not {auth_type!r}")
        else:
            errors.extend(
                f"setting {name!r} is required when auth_type is {auth_type!r}"
                for name in REQUIRED_BY_AUTH[auth_type]
                if not config.get(name)
            )
        framework = str(config.get("rest_framework_version") or ADVANCED_FRAMEWORK)
        if not framework.isdigit() or int(framework) < 1:
            errors.append(f"setting 'rest_framework_version' must be a positive integer, not {framework!r}")
        child_mode = str(config.get("child_mode") or "streams")
        if child_mode not in CHILD_MODES:
            errors.append(f"setting 'child_mode' must be one of {', '.join(CHILD_MODES)}, not {child_mode!r}")
        page_size = config.get("page_size") or MAX_LIMIT
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_LIMIT:
            errors.append(f"setting 'page_size' must be an integer between 1 and {MAX_LIMIT}, not {page_size!r}")
        start_date = _parse(config, "start_date", datetime.fromisoformat, errors)
        effective = _parse(config, "effective_date", date.fromisoformat, errors)
        latency_width = config.get("latency_concurrent_requests")
        floor = config.get(MAX_CONCURRENT_REQUESTS_KEY) or FUSION_CONCURRENT_REQUESTS
        if latency_width is None:
            pass  # opt-in: the read keeps max_concurrent_requests in flight
        elif not isinstance(latency_width, int) or not 1 <= latency_width <= MAX_LATENCY_WINDOW:
            errors.append(
                f"setting 'latency_concurrent_requests' must be an integer between 1 and {MAX_LATENCY_WINDOW}, "
                f"not {latency_width!r}"
            )
        elif isinstance(floor, int) and latency_width < floor:  # a limit below the floor limits nothing: say so
            errors.append(
                f"setting 'latency_concurrent_requests' ({latency_width}) must be at least max_concurrent_requests "
                f"({floor}); leave it unset to keep max_concurrent_requests in flight"
            )
        full_read_every = config.get("full_read_every_days")
        full_read_every = FULL_READ_EVERY_DAYS if full_read_every is None else full_read_every
        if not isinstance(full_read_every, int) or isinstance(full_read_every, bool) or full_read_every < 0:
            errors.append(f"setting 'full_read_every_days' must be an integer >= 0, not {full_read_every!r}")
        lookback = config.get("lookback_seconds")
        lookback = LOOKBACK_SECONDS if lookback is None else lookback
        if not isinstance(lookback, int) or isinstance(lookback, bool) or lookback < 0:
            errors.append(f"setting 'lookback_seconds' must be an integer >= 0, not {lookback!r}")
        resources = config.get("resources") or list(default_resources)
        if not isinstance(resources, list | tuple) or not all(isinstance(r, str) and r for r in resources):
            errors.append("setting 'resources' must be a list of resource names")
        if errors:
            raise ConfigValidationError(f"{tap_name}: invalid configuration: " + "; ".join(errors), errors=errors)
        return cls(
            base_url=base_url,
            api_version=str(config.get("api_version") or DEFAULT_API_VERSION),
            framework_version=framework,
            auth_type=auth_type,
            resources=tuple(resources),
            child_mode=child_mode,
            page_size=int(page_size),
            start_date=start_date,
            effective_date=effective,
            extract_poll_interval=float(config.get("extract_poll_interval", 5)),
            extract_timeout=float(config.get("extract_timeout", 3600)),
            latency_concurrent_requests=latency_width,
            full_read_every_days=int(full_read_every),
            lookback_seconds=int(lookback),
            username=config.get("username"),
            password=config.get("password"),
            client_id=config.get("client_id"),
            client_secret=config.get("client_secret"),
            token_url=config.get("token_url"),
            scope=config.get("scope"),
            private_key=config.get("private_key"),
            private_key_passphrase=config.get("private_key_passphrase"),
            certificate=config.get("certificate"),
            key_id=config.get("key_id"),
            jwt_audience=str(config.get("jwt_audience") or DEFAULT_JWT_AUDIENCE),
        )


def _parse(config: t.Mapping[str, t.Any], name: str, parse: t.Callable[[str], t.Any], errors: list[str]) -> t.Any:
    raw = config.get(name)
    if not raw:
        return None
    try:
        value = parse(str(raw).replace("Z", "+00:00"))
    except ValueError:
        errors.append(f"setting {name!r} is not a valid ISO 8601 value: {raw!r}")
        return None
    if isinstance(value, datetime) and value.tzinfo is None:
        errors.append(f"setting {name!r} needs a time zone (e.g. 2024-01-01T00:00:00Z)")
    return value


def build_authenticator(settings: FusionSettings, runtime: KitRuntime) -> requests.auth.AuthBase:
    """The kit's authenticator for the configured flow; token calls go through the tap's resilient session."""
    if settings.auth_type == "basic":
        return Basic(str(settings.username), str(settings.password), redactor=runtime.redactor)
    if settings.auth_type == "oauth_client_credentials":
        return OAuth2ClientCredentials(
            token_url=str(settings.token_url),
            client_id=str(settings.client_id),
            client_secret=str(settings.client_secret),
            client_auth="basic",
            scope=settings.scope,
            session=runtime.session,
            redactor=runtime.redactor,
        )
    return JWTBearer(
        token_url=str(settings.token_url),
        client_id=str(settings.client_id),
        username=str(settings.username),
        private_key_pem=str(settings.private_key),
        audience=settings.jwt_audience,
        passphrase=settings.private_key_passphrase,
        certificate_pem=settings.certificate,
        key_id=settings.key_id,
        client_secret=settings.client_secret,
        scope=settings.scope,
        session=runtime.session,
        redactor=runtime.redactor,
    )
