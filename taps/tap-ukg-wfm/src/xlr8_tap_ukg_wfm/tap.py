"""tap-ukg-wfm: UKG Pro Workforce Management (Dimensions): people, time, schedules, accruals and setup."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cached_property
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.filtering import filters_setting
from xlr8_kit.rest import KitRuntime, KitTap, kit_config_schema
from xlr8_tap_ukg_wfm.auth import AppKeyLogin, PlatformClientCredentials
from xlr8_tap_ukg_wfm.client import (
    MAX_DATA_COUNT,
    MAX_DAYS_PER_CALL,
    MAX_HYPERFIND_THRESHOLD,
    MAX_PERSONS_PER_CALL,
    Population,
)
from xlr8_tap_ukg_wfm.streams import STREAMS

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream

AUTH_TYPES = ("appkey", "platform")
#: Days re-read before the bookmark by default: a manager edits the Current and Previous Pay Period (UKG's
#: timecard tile), approved a few days after the period ends. Two bi-weekly periods (28 days) and a week to
#: sign-off; also a semi-monthly period with two weeks' lag. Seven days missed most edits (audit25b F2).
LOOKBACK_DAYS = 35
#: Defaults of shift_break_hours and longest_shift_hours (how punches without a day are grouped into shifts).
SHIFT_BREAK_HOURS = 8
LONGEST_SHIFT_HOURS = 36
#: The contact type of a work e-mail address in UKG's person record (its other types, such as Home, are personal).
WORK_EMAIL_TYPES = ("Work",)
#: Settings each auth path needs (also meltano.yml's settings_group_validation).
REQUIRED_BY_AUTH = {
    "appkey": ("appkey", "username", "password", "client_id", "client_secret"),
    "platform": ("token_url", "client_id", "client_secret", "global_tenant_id"),
}

PRODUCT_SETTINGS = th.PropertiesList(
    th.Property(
        "base_url",
        th.StringType,
        required=True,
        description="The tenant's API host, e.g. https://acme.prd.mykronos.com (calls go to <base_url>/api/...).",
    ),
    th.Property(
        "auth_type",
        th.StringType,
        default="appkey",
        allowed_values=list(AUTH_TYPES),
        description="appkey: classic access_token login (appkey + user + client); platform: UKG platform "
        "OAuth client credentials with global-tenant-id.",
    ),
    th.Property("appkey", th.StringType, secret=True, description="Application key (appkey header), auth_type appkey."),
    th.Property("username", th.StringType, description="API user name, auth_type appkey."),
    th.Property("password", th.StringType, secret=True, description="API user password, auth_type appkey."),
    th.Property("client_id", th.StringType, description="OAuth client id (both auth types)."),
    th.Property("client_secret", th.StringType, secret=True, description="OAuth client secret (both auth types)."),
    th.Property("token_url", th.StringType, description="Platform OAuth token URL, auth_type platform."),
    th.Property("audience", th.StringType, description="Platform OAuth audience, auth_type platform."),
    th.Property("global_tenant_id", th.StringType, description="global-tenant-id header value, auth_type platform."),
    th.Property(
        "timezone",
        th.StringType,
        default="UTC",
        description="IANA time zone of the tenant: its date-times carry no offset and are emitted in UTC.",
    ),
    th.Property(
        "start_date",
        th.DateType,
        description="First day of time data on a first run (default: 30 days ago); when set, also a floor on later "
        "runs. Later runs start lookback_days before the bookmark, however old it is.",
    ),
    th.Property("end_date", th.DateType, description="Last day of time data (default: today in the tenant's zone)."),
    th.Property(
        "lookback_days",
        th.IntegerType,
        default=LOOKBACK_DAYS,
        description="Days before the bookmark read again on every run: timecards are edited and approved per pay "
        "period, until its sign-off, so this should cover the previous and current pay periods plus the days to "
        "sign-off (the default fits weekly, bi-weekly and semi-monthly periods; monthly ones need about 65). "
        "Edits to days older than this, and historical corrections after sign-off, are not read.",
    ),
    th.Property(
        "window_days",
        th.IntegerType,
        default=14,
        description=f"Days per timecard or schedule call (1-{MAX_DAYS_PER_CALL}, the API's date-span cap).",
    ),
    th.Property(
        "schedule_days_ahead",
        th.IntegerType,
        default=14,
        description="Days after end_date whose scheduled shifts are read too.",
    ),
    th.Property(
        "persons_per_request",
        th.IntegerType,
        default=MAX_PERSONS_PER_CALL,
        description="People per multi_read call, the accruals data multi_read included "
        f"(1-{MAX_PERSONS_PER_CALL}, the API's person cap).",
    ),
    th.Property(
        "hyperfind_id", th.IntegerType, default=1, description="Hyperfind query naming the population (1 is All Home)."
    ),
    th.Property(
        "hyperfind_threshold",
        th.IntegerType,
        default=MAX_HYPERFIND_THRESHOLD,
        description="Most people the hyperfind may answer (its 'threshold'; UKG answers 3,500 when none is sent, "
        f"at most {MAX_HYPERFIND_THRESHOLD:,}). A population that reaches it fails the run rather than be read "
        "in part: raise it, or split the people into smaller hyperfinds.",
    ),
    th.Property(
        "work_email_types",
        th.ArrayType(th.StringType),
        default=list(WORK_EMAIL_TYPES),
        description="Contact types (an e-mail address's contactTypeName, case ignored) that are work addresses: "
        "persons.email is the person's first address of one of them, else null, so a personal (Home) address never "
        "lands as the work e-mail.",
    ),
    th.Property(
        "shift_break_hours",
        th.IntegerType,
        default=SHIFT_BREAK_HOURS,
        description="Punches answered without their day (UKG's punch has no applyDate) take their shift's: punches "
        "pair by turns (in, out) within longest_shift_hours; after an out punch, a punch less than this many hours "
        "later is in the same shift (meal and rest breaks), a longer gap starts a new shift. It must be shorter "
        "than the shortest rest between two shifts (a close then an open) and than longest_shift_hours (1-16).",
    ),
    th.Property(
        "longest_shift_hours",
        th.IntegerType,
        default=LONGEST_SHIFT_HOURS,
        description="Longest span of a shift from its first punch: an open in punch is closed by the next punch "
        "within it (24-hour shifts with handover), nothing joins a shift past it, and past it an open in punch is "
        "taken as a missed out punch. Without 24-hour shifts set it under a day (e.g. 20): an in punch the day "
        "after a missed out punch is then not taken as its out (2-96, above shift_break_hours).",
    ),
    th.Property("accruals_as_of", th.DateType, description="Date of the accrual balances (default: end_date)."),
    th.Property(
        "data_page_size",
        th.IntegerType,
        default=1000,
        description=f"Rows per aggregated data multi_read page (1-{MAX_DATA_COUNT}).",
    ),
    th.Property(
        "location_level",
        th.IntegerType,
        default=3,
        description="Position of the location in the business structure path (./Company/Country/Location/...).",
    ),
    th.Property(
        "department_level",
        th.IntegerType,
        default=4,
        description="Position of the department in the business structure path.",
    ),
)


@dataclass(frozen=True)
class UkgWfmSettings:
    base_url: str
    auth_type: str
    appkey: str | None = field(repr=False)
    username: str | None
    password: str | None = field(repr=False)
    client_id: str
    client_secret: str = field(repr=False)
    token_url: str | None
    audience: str | None
    global_tenant_id: str | None
    zone: tzinfo
    start_date: date
    end_date: date
    lookback_days: int
    window_days: int
    schedule_days_ahead: int
    persons_per_request: int
    hyperfind_id: int
    hyperfind_threshold: int
    accruals_as_of: date
    data_page_size: int
    location_level: int
    department_level: int
    shift_break_hours: int = SHIFT_BREAK_HOURS
    longest_shift_hours: int = LONGEST_SHIFT_HOURS
    filters: str | None = None
    #: ``work_email_types``, case-folded.
    work_email_types: frozenset[str] = frozenset(kind.casefold() for kind in WORK_EMAIL_TYPES)
    #: ``start_date`` as configured (None: the 30-day default, which floors a first run only).
    configured_start: date | None = None

    @classmethod
    def from_config(cls, config: dict[str, t.Any], *, today: date | None = None) -> UkgWfmSettings:
        """Validate once; every error names the setting."""
        errors: list[str] = []
        base_url = _url(config, "base_url", errors, required=True)
        auth_type = str(config.get("auth_type") or "appkey")
        if auth_type not in AUTH_TYPES:
            errors.append(f"setting 'auth_type' must be one of {', '.join(AUTH_TYPES)}, not {auth_type!r}")
            auth_type = "appkey"
        for name in REQUIRED_BY_AUTH[auth_type]:
            if not config.get(name):
                errors.append(f"setting {name!r} is required with auth_type {auth_type!r}")
        token_url = _url(config, "token_url", errors, required=False, path_allowed=True) or None
        zone: tzinfo = UTC
        zone_name = str(config.get("timezone") or "UTC")
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError):
            errors.append(f"setting 'timezone' must be an IANA time zone such as America/New_York, not {zone_name!r}")
        now_local = today or datetime.now(zone).date()
        end_date = _date(config, "end_date", errors) or now_local
        configured_start = _date(config, "start_date", errors)
        start_date = configured_start or end_date - timedelta(days=30)
        if start_date > end_date:
            errors.append("setting 'start_date' must not be after 'end_date'")
        numbers = {
            "lookback_days": (LOOKBACK_DAYS, 0, 366),
            "window_days": (14, 1, MAX_DAYS_PER_CALL),
            "schedule_days_ahead": (14, 0, 366),
            "persons_per_request": (MAX_PERSONS_PER_CALL, 1, MAX_PERSONS_PER_CALL),
            "hyperfind_id": (1, 1, 2**31),
            "hyperfind_threshold": (MAX_HYPERFIND_THRESHOLD, 1, MAX_HYPERFIND_THRESHOLD),
            "data_page_size": (1000, 1, MAX_DATA_COUNT),
            "location_level": (3, 1, 32),
            "department_level": (4, 1, 32),
            "shift_break_hours": (SHIFT_BREAK_HOURS, 1, 16),
            "longest_shift_hours": (LONGEST_SHIFT_HOURS, 2, 96),
        }
        values: dict[str, int] = {}
        for name, (default, low, high) in numbers.items():
            raw = config.get(name)
            try:
                value = int(default if raw is None else raw)
            except (TypeError, ValueError):
                errors.append(f"setting {name!r} must be an integer, not {raw!r}")
                continue
            if not low <= value <= high:
                errors.append(f"setting {name!r} must be between {low} and {high}, not {value}")
            values[name] = value
        breaks, longest = values.get("shift_break_hours"), values.get("longest_shift_hours")
        if breaks is not None and longest is not None and longest <= breaks:
            errors.append(
                f"setting 'longest_shift_hours' ({longest}) must be greater than 'shift_break_hours' ({breaks}): a "
                "shift is longer than a break within it"
            )
        accruals_as_of = _date(config, "accruals_as_of", errors) or end_date
        filters = filters_setting(config, errors)
        raw_types = config.get("work_email_types")
        if raw_types is None:
            raw_types = list(WORK_EMAIL_TYPES)
        if not isinstance(raw_types, list) or not all(isinstance(x, str) and x.strip() for x in raw_types):
            errors.append(f"setting 'work_email_types' must be a list of contact type names, not {raw_types!r}")
            raw_types = list(WORK_EMAIL_TYPES)
        if errors:
            raise ConfigValidationError("tap-ukg-wfm: invalid configuration: " + "; ".join(errors), errors=errors)
        return cls(
            base_url=base_url,
            auth_type=auth_type,
            appkey=config.get("appkey"),
            username=config.get("username"),
            password=config.get("password"),
            client_id=str(config["client_id"]),
            client_secret=str(config["client_secret"]),
            token_url=token_url,
            audience=config.get("audience"),
            global_tenant_id=config.get("global_tenant_id"),
            zone=zone,
            start_date=start_date,
            end_date=end_date,
            accruals_as_of=accruals_as_of,
            filters=filters,
            work_email_types=frozenset(str(x).strip().casefold() for x in raw_types),
            configured_start=configured_start,
            **values,
        )


def _url(config: dict[str, t.Any], name: str, errors: list[str], *, required: bool, path_allowed: bool = False) -> str:
    value = str(config.get(name) or "").rstrip("/")
    if not value:
        if required:
            errors.append(f"setting {name!r} is required (e.g. https://acme.prd.mykronos.com)")
        return ""
    parsed = urlparse(value)
    if parsed.scheme not in ("https", "http") or not parsed.netloc:
        errors.append(f"setting {name!r} must be an https:// URL, not {value!r}")
    elif not path_allowed and parsed.path not in ("", "/"):
        errors.append(f"setting {name!r} must be the host only, without a path ({parsed.path!r}); calls add /api/...")
    return value


def _date(config: dict[str, t.Any], name: str, errors: list[str]) -> date | None:
    raw = config.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        errors.append(f"setting {name!r} must be a date (YYYY-MM-DD), not {raw!r}")
        return None


class TapUkgWfm(KitTap):
    """UKG Pro WFM: people, timecards, punches, shifts, accrual balances (Reality) and time-keeping setup
    (Configuration), read by population (hyperfind) and date window within the API's caps."""

    name = "tap-ukg-wfm"
    product_id = "ukg_wfm"
    instance_url_setting = "base_url"
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)

    @cached_property
    def settings(self) -> UkgWfmSettings:
        return UkgWfmSettings.from_config(self.resolved_config)

    @cached_property
    def population(self) -> Population:
        """Hyperfind results per date window, shared by the streams of one run."""
        return Population()

    def build_authenticator(self, runtime: KitRuntime) -> AppKeyLogin | PlatformClientCredentials:
        s = self.settings
        common: dict[str, t.Any] = {
            "session": runtime.session,
            "redactor": runtime.redactor,
            "clock": runtime.session.clock,
            "sleep": runtime.session.sleep,
        }
        if s.auth_type == "platform":
            return PlatformClientCredentials(
                token_url=str(s.token_url),
                client_id=s.client_id,
                client_secret=s.client_secret,
                audience=s.audience,
                global_tenant_id=str(s.global_tenant_id),
                **common,
            )
        # from_config made sure the appkey path has all three
        return AppKeyLogin(
            base_url=s.base_url,
            appkey=str(s.appkey),
            username=str(s.username),
            password=str(s.password),
            client_id=s.client_id,
            client_secret=s.client_secret,
            **common,
        )

    def discover_streams(self) -> list[Stream]:
        self.settings  # noqa: B018 - bad settings fail before any stream is built, naming the setting
        return [stream(tap=self) for stream in STREAMS]


if __name__ == "__main__":
    TapUkgWfm.cli()
