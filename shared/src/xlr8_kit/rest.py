"""The base classes every product tap builds on: ``KitTap`` (settings shared by all taps, one runtime per tap
instance) and ``KitRESTStream`` (requests go through the kit's resilient session, errors are classified and
redacted, schemas carry the ``x-xlr8`` annotation the truths target reads).

A product's ``client.py`` subclasses ``KitRESTStream`` once; its ``tap.py`` subclasses ``KitTap`` and implements
``build_authenticator``. Streams only declare.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import io
import json
import os
import signal
import typing as t
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cached_property, lru_cache, partial
from http import HTTPStatus
from itertools import chain
from pathlib import Path, PurePath
from urllib.parse import quote_plus, urlparse

import click
import requests
from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._packaging import SDK_PACKAGE_NAME, get_sdk_version
from singer_sdk.helpers._state import PROGRESS_MARKERS
from singer_sdk.helpers._util import utc_now
from singer_sdk.mapper import RemoveRecordTransform, SameRecordTransform
from singer_sdk.plugin_base import BaseSingerWriter
from singer_sdk.singerlib import RecordMessage
from singer_sdk.singerlib.catalog import REPLICATION_INCREMENTAL
from singer_sdk.streams import RESTStream, Stream
from singer_sdk.streams._state import StreamStateManager
from singer_sdk.streams.rest import HTTPRequest, PageContext

from xlr8_kit.batching import BatchSink, KitBatchingMixin
from xlr8_kit.config_check import proven_valid
from xlr8_kit.conform import Conformer
from xlr8_kit.exits import note_partial_run, with_one_line_errors
from xlr8_kit.http import abort
from xlr8_kit.http.abort import terminate_requests
from xlr8_kit.http.classify import DEFAULT_CLASSIFIER, ResponseClassifier, Verdict
from xlr8_kit.http.errors import AuthenticationError, ClientRequestError, ServerUnavailableError
from xlr8_kit.http.proxy import proxy_map
from xlr8_kit.http.session import HttpPolicy, ResilientSession
from xlr8_kit.http.window import MAX_WINDOW
from xlr8_kit.redaction import Redactor
from xlr8_kit.singer_io import KitSingerWriter, handle_after_writes, listed_records, loads_exact
from xlr8_kit.streaming import send_streamed
from xlr8_kit.tenants import TENANT_NAMES

if t.TYPE_CHECKING:
    from types import FrameType

    from jsonschema import ValidationError

MAX_ERROR_BODY = 500
#: Records between two advances of the record counter in the plain record loop (the count it logs at the end is exact).
COUNTER_STEP = 1000

#: Non-secret config values that pair with a secret in an HTTP Basic header (base64 of ``user:secret``).
_BASIC_USER_KEYS = (
    "username",
    "user",
    "user_name",
    "login",
    "client_id",
    "api_user",
    "company_id",
    "proxy_username",
)

#: Settings every tap accepts besides its product's own (credential store, HTTP policy, audit, filters).
KIT_SETTINGS = th.PropertiesList(
    th.Property(
        "credential_id",
        th.StringType,
        description="Id of a credential in the xlr8 credential store; its secrets are resolved at run time so no "
        "plaintext secret passes through Meltano's config files.",
    ),
    th.Property(
        "credential_store",
        th.StringType,
        description="Credential store location (SQLite path, or vault:// / aws-sm:// URL). "
        "Default: .xlr8/credentials.db.",
    ),
    th.Property(
        "http",
        th.ObjectType(
            th.Property("connect_timeout", th.NumberType, description="Seconds to establish a connection."),
            th.Property("read_timeout", th.NumberType, description="Seconds to wait for response bytes."),
            th.Property(
                "report_read_timeout",
                th.NumberType,
                description="Seconds a report call waits for its answer while the tenant runs the report "
                "(default 1800). Used by Workday RaaS, UKG Pro ExecuteReport and UKG Ready report runs only; other "
                "taps make no such call. A run that times out, breaks off or fails after reaching the tenant is run "
                "once more, with a warning, then the run fails naming the report.",
            ),
            th.Property("max_attempts", th.IntegerType, description="Attempts per request, retries included."),
            th.Property("max_retry_after", th.NumberType, description="Longest Retry-After honoured (s)."),
            th.Property("requests_per_second", th.NumberType, description="Client-side rate limit."),
            th.Property("rate_burst", th.NumberType, description="Requests allowed back to back (token bucket)."),
            th.Property("backoff_base", th.NumberType, description="First backoff step (s); doubles per retry."),
            th.Property("backoff_max", th.NumberType, description="Longest single backoff step (s)."),
            th.Property(
                "max_elapsed",
                th.NumberType,
                description="Wall-clock budget per request, waits included. A report call (report_read_timeout) "
                "gets at least 2 x (connect_timeout + report_read_timeout) + backoff_max, room for its one re-run: "
                "lower report_read_timeout to shorten it.",
            ),
            th.Property(
                "breaker_fail_max",
                th.IntegerType,
                description="Consecutive failed requests (each after its retries) that open a circuit.",
            ),
            th.Property(
                "rate_window",
                th.NumberType,
                description="The vendor's rate-limit window (s): a 429 without Retry-After waits it out, within "
                "max_retry_after (UKG Pro and Workday: 60 by default).",
            ),
            th.Property("breaker_reset_timeout", th.NumberType, description="Seconds a circuit stays open."),
            th.Property("breaker_state_path", th.StringType, description="JSON file keeping breakers across runs."),
            th.Property("max_redirects", th.IntegerType, description="Same-origin redirects followed per attempt."),
            th.Property(
                "max_quota_share",
                th.NumberType,
                description="Stop once the vendor reports this share of the daily API quota used (0-1).",
            ),
            th.Property("ca_bundle", th.StringType, description="Extra CA bundle (PEM) for a private PKI."),
        ),
        description="Resilient HTTP policy overrides.",
    ),
    th.Property("audit_log_path", th.StringType, description="JSON-lines audit log, one line per HTTP attempt."),
    th.Property(
        "proxy_url",
        th.StringType,
        description="HTTPS proxy every request goes through (static egress for IP allowlists), e.g. "
        "http://proxy.example:3128; TLS to the vendor stays end to end (CONNECT).",
    ),
    th.Property("proxy_username", th.StringType, description="Proxy user (with proxy_password)."),
    th.Property("proxy_password", th.StringType, secret=True, description="Proxy password."),
    th.Property(
        "allow_partial_run",
        th.BooleanType,
        default=False,
        description="Exit 0 when the tap stops early on purpose (API quota guard) with state safe; by default such "
        "a run exits 75 so an orchestrator does not record it as complete.",
    ),
    th.Property(
        "filters",
        th.StringType,
        description="Universal filter (xlr8 query language), pushed down to the product's API where possible.",
    ),
)


#: The window of page requests in flight per stream (``xlr8_kit.http.window``), for taps whose streams page by
#: offset or page number. A tap that has such streams adds ``max_concurrent_requests_setting(...)`` to its settings
#: with the same default as its ``KitTap.default_concurrent_requests``. The kit's default is 1 (one page read ahead):
#: offset pages answered out of order around an insert can miss a row that reading in turn would only repeat, and
#: only a source that reports its count on every page or reads a snapshot catches such cases (Workday and S/4HANA
#: default to 4, Oracle Fusion to 8 for its keyset ranges; UKG Pro, whose pages carry no count, stays at 1).
MAX_CONCURRENT_REQUESTS_KEY = "max_concurrent_requests"
DEFAULT_CONCURRENT_REQUESTS = 1
#: The default of a tap whose windowed streams all check a count on every page (``xlr8_kit.http.window.
#: CountsPages``: Oracle Fusion ``totalResults``, OData ``$inlinecount``/``$count``): a page whose count moved
#: drops the pages asked for beside it, so an insert during the read hides no row (see docs/architecture.md).
COUNTED_CONCURRENT_REQUESTS = 4


def max_concurrent_requests_setting(default: int = DEFAULT_CONCURRENT_REQUESTS, also: str = "") -> th.Property:
    """The setting; ``also``: a sentence on what else the tap does with it (e.g. ranged keyset reads)."""
    return th.Property(
        MAX_CONCURRENT_REQUESTS_KEY,
        th.IntegerType(minimum=1, maximum=MAX_WINDOW),
        default=default,
        description=f"Page requests one stream keeps in flight at once where the next page's request is known "
        f"before the previous answer (offset/limit or page-number paging; 1-{MAX_WINDOW}, 1 = one page read ahead). "
        f"{also}Pages are still emitted in order; the kit's retries and http.requests_per_second apply to every "
        "request. Where the product reports a count on every page, each page of a window is checked against it; see "
        "the README on rows inserted or deleted during a read.",
    )


MAX_CONCURRENT_REQUESTS = max_concurrent_requests_setting()


def kit_config_schema(product_settings: th.PropertiesList) -> dict[str, t.Any]:
    """A tap's ``config_jsonschema``: its product settings plus ``KIT_SETTINGS``, so every tap accepts the same
    credential, HTTP, audit and filter settings (the kit's win on a name clash)."""
    schema = product_settings.to_dict()
    schema["properties"] = {**schema["properties"], **KIT_SETTINGS.to_dict()["properties"]}
    return schema


def _no_state_step(record: dict[str, t.Any]) -> None:
    """The SDK's increment for a stream that is not incremental: nothing."""


def _no_page_step(page: list[dict[str, t.Any]]) -> None:
    """``KitRESTStream._plain_state_page_step``'s default: no page step, record by record."""
    return None


def records_of_pages(
    pages: t.Generator[t.Iterable[dict[str, t.Any]], None, None],
) -> t.Generator[dict[str, t.Any], None, None]:
    """The records of pages handed over as ``KitRESTStream.plain_record_pages`` hands them (marks set per page), one
    by one for ``get_records``; the pages are closed when the records stop, so their marks are reset then."""
    try:
        yield from chain.from_iterable(pages)
    finally:
        pages.close()


def _no_state_change() -> None:
    """Applying a page that leaves the state as it is."""


def _nothing_page_step(page: list[dict[str, t.Any]]) -> t.Callable[[], None]:
    """The page step of a stream whose record step advances nothing: every page is taken."""
    return _no_state_change


_STR_ONLY = frozenset({str})


@dataclass(frozen=True)
class _IncrementPlan:
    """The facts the SDK's ``_increment_stream_state`` reads for an incremental stream in the plain loop (see
    ``KitRESTStream._increment_plan``), looked up once: the record step and the page step are built from them."""

    state: dict[str, t.Any]
    key: str
    is_sorted: bool
    check_sorted: bool

    def record_step(self, general: t.Callable[[dict[str, t.Any]], None]) -> t.Callable[[dict[str, t.Any]], None]:
        """``KitRESTStream._plain_state_step`` for this plan; ``general`` is the SDK's own increment."""
        state, rk, is_sorted, check_sorted = self.state, self.key, self.is_sorted, self.check_sorted

        def step(record: dict[str, t.Any]) -> None:
            if not record:
                return
            # Unsorted: the bookmark moves in the progress markers, which the SDK's first increment creates
            # (with its warning).
            progress = state if is_sorted else state.get(PROGRESS_MARKERS)
            if progress is None:
                general(record)
                return
            new_value = record[rk]
            if type(new_value) is not str:
                general(record)
                return
            old_value = progress.get("replication_key_value")
            if old_value is None or (type(old_value) is str and (not check_sorted or new_value >= old_value)):
                progress["replication_key"] = rk
                progress["replication_key_value"] = new_value
            elif is_sorted or type(old_value) is not str:
                general(record)  # out of order (the SDK raises) or a bookmark of another type
            # else: unsorted and older than the progress marker: the SDK leaves it

        return step

    def page_step(self, page: list[dict[str, t.Any]]) -> t.Callable[[], None] | None:
        """What ``record_step`` does over the page's records in turn, as one change, when every record takes its
        string branch (never ``general``); else None. Sorted: the values in order from the bookmark on (or any
        order without ``check_sorted``) leave the last one. Unsorted: a value below the marker is left, so the marker
        ends at the largest of it and the values (the last value without ``check_sorted``); when every value is
        below it nothing changes."""
        state, rk = self.state, self.key
        progress = state if self.is_sorted else state.get(PROGRESS_MARKERS)
        if progress is None or not page:
            return None  # the first unsorted record: the SDK's increment makes the markers
        try:
            values = [record[rk] for record in page]  # an empty record has no key: it goes record by record too
        except (KeyError, TypeError, IndexError):
            return None
        if not _STR_ONLY.issuperset(map(type, values)):
            return None
        old_value = progress.get("replication_key_value")
        if old_value is not None and type(old_value) is not str:
            return None
        if not self.check_sorted:
            last = values[-1]
        elif self.is_sorted:
            if (old_value is not None and values[0] < old_value) or not all(map(str.__le__, values, values[1:])):
                return None  # out of order: the SDK raises at that record
            last = values[-1]
        else:
            last = max(values)
            if old_value is not None and last < old_value:
                return _no_state_change

        def apply() -> None:
            progress["replication_key"] = rk
            progress["replication_key_value"] = last

        return apply


def sorted_bookmark_page_step(
    state: dict[str, t.Any], key: str
) -> t.Callable[[list[dict[str, t.Any]]], t.Callable[[], None] | None]:
    """The kit's page step (``_IncrementPlan.page_step``) for the bookmark of a sorted, checked stream in ``state``:
    for a stream whose own increment keeps more beside it (Salesforce's boundary Ids), which adds its part."""
    return _IncrementPlan(state=state, key=key, is_sorted=True, check_sorted=True).page_step


#: ``KitRESTStream._increment_plan`` for a stream that is not incremental (compared by identity).
_NOTHING_TO_INCREMENT: t.Final = _IncrementPlan(state={}, key="", is_sorted=True, check_sorted=False)


@dataclass
class KitRuntime:
    """What one tap instance (one credential) shares across its streams: never shared across taps."""

    session: ResilientSession
    authenticator: requests.auth.AuthBase | None
    redactor: Redactor
    policy: HttpPolicy
    #: Persists a rotated secret field (CAS) in the credential store; None for plain settings.
    persist_secret: t.Callable[[str, str], None] | None = None

    def rotation_hook(self, field_name: str) -> t.Callable[[str], None] | None:
        """An authenticator's ``on_rotate(new_value)`` that saves ``field_name`` before the token is relied on."""
        persist = self.persist_secret
        if persist is None:
            return None
        return lambda value: persist(field_name, value)

    #: Reads a secret field's stored value and makes later saves expect the version read; None for plain settings.
    reload_secret: t.Callable[[str], str | None] | None = None

    #: Spends a secret field under the credential store's lease (``SecretPersister.leased_refresh``); None for
    #: plain settings.
    lease_secret: t.Callable[[str, t.Callable[[str], t.Any]], t.Any] | None = None

    def lease_hook(self, field_name: str) -> t.Callable[[t.Callable[[str], t.Any]], t.Any] | None:
        """An ``OAuth2RefreshToken``'s ``refresh_lease``: two runs of one credential refreshing together take turns,
        the second spending the token the first stored (audit25d F12)."""
        lease = self.lease_secret
        if lease is None:
            return None
        return lambda spend: lease(field_name, spend)

    def reload_hook(self, field_name: str) -> t.Callable[[], str | None] | None:
        """An authenticator's ``reload_refresh_token()``: the stored value after another run of the same credential
        rotated it; adopting it also lets this run's own next rotation pass the compare-and-swap (B6)."""
        reload = self.reload_secret
        if reload is None:
            return None
        return lambda: reload(field_name)


class KitTap(Tap):
    """Base tap: resolves credentials once, builds one runtime (session + authenticator) per instance."""

    #: Registry product id (see ``xlr8_kit.vocabulary``), e.g. ``salesforce``.
    product_id: t.ClassVar[str] = ""
    #: The setting naming the tenant's host (``base_url``, ``api_url``, Salesforce's ``login_url``): a credential's
    #: ``instance_url`` fills it when the config leaves it unset.
    instance_url_setting: t.ClassVar[str | None] = None
    #: The product's own defaults for ``http`` settings the config leaves unset (e.g. its ``rate_window``).
    http_defaults: t.ClassVar[dict[str, t.Any]] = {}
    #: ``max_concurrent_requests`` when the config leaves it unset (the tap's setting declares the same default).
    default_concurrent_requests: t.ClassVar[int] = DEFAULT_CONCURRENT_REQUESTS

    def __init_subclass__(cls, **kwargs: t.Any) -> None:
        """``--about`` reports the tap's version: the distribution is named after the package (``xlr8_tap_x`` is
        ``xlr8-tap-x``) unless the class sets ``package_name`` itself."""
        super().__init_subclass__(**kwargs)
        if "package_name" not in cls.__dict__:
            cls.package_name = cls.__module__.split(".")[0].replace("_", "-")

    @classmethod
    def get_plugin_version(cls) -> str:
        """The SDK's (``importlib.metadata.version`` of the distribution, logged as every run starts), read from
        the ``Version`` header of its metadata file: the metadata's email parser costs a run 5-10 ms of imports
        (``email.policy``) for that one header. A header this does not read plainly goes to the SDK's lookup."""
        version = _distribution_version(cls.package_name or cls.name)
        return version if version is not None else super().get_plugin_version()

    @classmethod
    def get_sdk_version(cls) -> str:
        """The SDK's, read as ``get_plugin_version`` reads the tap's (the same log line prints both)."""
        return sdk_version()

    #: Same Singer bytes as the SDK's writer, written faster (``xlr8_kit.singer_io``).
    message_writer_class = KitSingerWriter

    def __init__(self, *args: t.Any, for_connector: bool = False, **kwargs: t.Any) -> None:
        #: Built by a connector (``TapConnector``): its stdout is the caller's, so a signal writes no STATE there.
        #: Set before the SDK installs the signal handlers, so no signal finds the tap unmarked.
        self.for_connector = for_connector
        self._discovering = False
        self.partial_reasons: list[str] = []
        if isinstance(kwargs.get("state"), str | PurePath):
            kwargs["state"] = read_state_file(kwargs["state"])
        elif isinstance(kwargs.get("state"), dict):
            check_state(kwargs["state"], "the state given")
        super().__init__(*args, **kwargs)
        http_policy_from_config(dict(self.config), self.http_defaults)  # bad HTTP settings fail now, named
        if not self.config.get("credential_id"):
            proxy_map(self.config)  # a bad proxy setting fails here too (with a credential: once resolved)

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """Fatal errors as one line (traceback at DEBUG); a partial run exits 75 (``xlr8_kit.exits``)."""
        command = with_one_line_errors(super().get_singer_command(), cls.logger)
        for param in command.params:
            if param.name == "state":
                param.type = StateFileParam()
        run = command.callback
        assert run is not None

        @functools.wraps(run)
        def run_as_the_process(*args: t.Any, **kwargs: t.Any) -> t.Any:
            abort.new_process_run()
            abort.PROCESS_RUN = True
            try:
                return run(*args, **kwargs)
            finally:
                # a CLI invoked in-process (a test's runner) leaves nothing behind (a signal's end of its requests is
                # undone as the next run starts: ``abort.new_process_run``)
                abort.PROCESS_RUN = False

        command.callback = run_as_the_process
        return command

    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        """The SDK's: the STATE so far goes out (after every RECORD line held, ``KitSingerWriter``), then it exits 0,
        so an orchestrator took a tap it stopped (a stuck read, a cancel) for one that finished. It exits 128 + the
        signal instead (143 for SIGTERM, 130 for SIGINT), the shell's code for a process a signal ended.

        A signal during a write to stdout is handled once the write returns (no torn line, no block written twice).
        With BATCH output no STATE is added: the state so far covers the records of the file still being written,
        never named in a BATCH message, so the last STATE written stands (review 19d: the added one lost them).

        First every request in flight is given up (``abort.terminate_requests``): those read ahead or ranged on
        worker threads would never be emitted, and the exit waited for their answers (37.5 s of a 40 s stall). A
        token refresh on the main thread is not cut by the handler's exit: it is a write's like (``TokenAuthenticator``
        holds the signal), so a rotated refresh token is stored; the kit's grace bounds the wait (15 s).

        In a tap's own CLI run a second SIGTERM/SIGINT once the way out has begun is logged and ignored: its
        SystemExit cut the way out's loop of aborts, and Bulk jobs answered and known ran on (review 21c). The way
        out is bounded (10 s for a create's answer, the 15 s grace); SIGKILL stays the hard stop."""
        if abort.PROCESS_RUN:
            if abort.TERMINATION.ended_at is not None:
                self.logger.warning(
                    "%s during the way out: ignored (it aborts the jobs it started and ends within about 15 s; "
                    "SIGKILL stops it at once)",
                    signal.Signals(signum).name,
                )
                return
            terminate_requests()  # at once, also when the rest waits for a write or a token refresh to return
        self._terminate(signum, frame)

    def run_discovery(self) -> str:
        """``--discover`` writes a catalog, not a Singer stream: a signal during it writes no STATE into the catalog
        (review23f Info: it printed ``{"type":"STATE","value":{}}`` there before ends23)."""
        self._discovering = True
        try:
            return super().run_discovery()
        finally:
            self._discovering = False

    def _terminate(self, signum: int, frame: FrameType | None) -> None:
        """``_handle_termination`` past its first step: put off while a write (or a held token refresh) is under
        way, then the STATE so far and the exit code.

        A connector's tap (``for_connector``: a gather, a notebook, a script) writes no STATE: it writes no Singer
        stream, so its STATE landed on the caller's own stdout (ends22: a gather stopped during its token or describe
        requests printed ``{"type":"STATE","value":{}}``). Any other tap does, a CLI run's or user code's own
        ``sync_all()`` (review23f Low 4: gated on the CLI run, the latter lost its final STATE). ``--discover``
        writes none either (``run_discovery``)."""
        if handle_after_writes(lambda: self._terminate(signum, frame)):
            return
        if self.for_connector or self._discovering:
            self.logger.info("Gracefully shutting down (no Singer stream on stdout: no STATE)...")
            raise SystemExit(128 + signum)
        if self.config.get("batch_config"):
            self.logger.info("Gracefully shutting down (BATCH output: the last STATE written stands)...")
            raise SystemExit(128 + signum)
        with contextlib.suppress(SystemExit):
            super()._handle_termination(signum, frame)
        raise SystemExit(128 + signum)

    def note_partial_run(self, reason: str) -> None:
        """A stream stopped early on purpose with state safe (e.g. the quota guard): the CLI run exits 75 after
        every stream has written its STATE, unless setting ``allow_partial_run`` is true."""
        self.partial_reasons.append(reason)
        if self.config.get("allow_partial_run", False):
            self.logger.warning("partial run accepted (allow_partial_run): %s", reason)
        else:
            note_partial_run(reason)

    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """Every setting checked before the first message, in every mode (the SDK skips validation for
        ``--discover``): JSON types and allowed values, and date, date-time and URI formats, which the SDK's
        validator does not check. With ``credential_id``, the config as resolved from the store (secrets stay in
        memory), as it is with a credential's ``instance_url``. Errors name the setting, never a string value."""
        if self._config.get("credential_id") or self._config.get("instance_url"):
            unresolved = self._config
            self._config = self.resolved_config
            try:
                errors = self._kit_config_errors()
            finally:
                self._config = unresolved
        else:
            errors = self._kit_config_errors()
        if errors:
            raise ConfigValidationError("Config validation failed", errors=errors, schema=self.config_jsonschema)
        return errors

    def _kit_config_errors(self) -> list[str]:
        schema = self.config_jsonschema
        self.append_builtin_config(schema)
        self.logger.debug("Validating config using jsonschema: %s", schema)  # as the SDK does
        if proven_valid(schema, self._config):  # the usual case, without importing jsonschema (~60 ms)
            errors: list[str] = []
        else:
            from jsonschema import Draft7Validator

            errors = [
                text for error in Draft7Validator(schema).iter_errors(self._config) for text in _setting_errors(error)
            ]
        return errors + setting_format_errors(self._config, schema)

    @cached_property
    def resolved_config(self) -> dict[str, t.Any]:
        """The config with secrets from the credential store merged in (when ``credential_id`` is set)."""
        if self.config.get("credential_id"):
            from xlr8_kit.credentials.resolve import resolve_config  # the store (sqlite3, cryptography) only here

            config = resolve_config(dict(self.config), product_id=self.product_id)
        else:
            config = dict(self.config)  # what resolve_config gives without a credential
        setting = self.instance_url_setting
        if setting and config.get("instance_url") and not config.get(setting):
            config[setting] = config["instance_url"]
        return config

    @cached_property
    def kit(self) -> KitRuntime:
        config = self.resolved_config
        redactor = Redactor.default()
        redactor.install_logging_filter()
        users = [str(v) for k, v in _flatten(config) if k in _BASIC_USER_KEYS and isinstance(v, str)]
        for _name, value in _secret_values(config, self.config_jsonschema):
            redactor.add(value)
            for user in users:
                redactor.add_pair(user, value)
        policy = http_policy_from_config(config, self.http_defaults)
        session = self.make_session(policy, config=config, redactor=redactor)
        proxies = proxy_map(config)
        if proxies:
            session.proxies.update(proxies)
        persister = None  # what secret_persister gives without a credential: nothing to persist to
        if self.config.get("credential_id"):
            from xlr8_kit.credentials.resolve import secret_persister

            persister = secret_persister(self.config)
        runtime = KitRuntime(
            session=session,
            authenticator=None,
            redactor=redactor,
            policy=policy,
            persist_secret=persister,
            reload_secret=persister.reload if persister is not None else None,
            lease_secret=persister.leased_refresh if persister is not None else None,
        )
        runtime.authenticator = self.build_authenticator(runtime)
        weakref.finalize(self, session.close)  # audit log and breaker state closed when the tap goes away
        return runtime

    def make_session(self, policy: HttpPolicy, *, config: dict[str, t.Any], redactor: Redactor) -> ResilientSession:
        """One session per tap instance (per credential); tests override this to inject clock and sleep."""
        return ResilientSession(
            policy,
            product=self.product_id,
            credential_id=config.get("credential_id"),
            redactor=redactor,
            run_id=os.environ.get("XLR8_RUN_ID") or os.environ.get("MELTANO_RUN_ID"),
            tenant=tenant_identity(config),
        )

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase | None:
        """Return this tap's authenticator (one per tap instance, i.e. per credential)."""
        raise NotImplementedError


#: Settings that tell one tenant (or one login to it) from another on a shared vendor host; none of them secret.
TENANT_SETTINGS = (*TENANT_NAMES, "instance_url", "username", "client_id", "user", "integration_user")


def tenant_identity(config: t.Mapping[str, t.Any]) -> str | None:
    """A short digest of the tenant-naming settings present (top level and under ``auth``), or None without any:
    the persisted breaker's scope when no ``credential_id`` names the tenant."""
    auth = config.get("auth")
    sources: tuple[tuple[str, t.Mapping[str, t.Any]], ...] = (
        ("", config),
        ("auth.", auth if isinstance(auth, dict) else {}),
    )
    found = {
        f"{where}{name}": str(source[name])
        for where, source in sources
        for name in TENANT_SETTINGS
        if source.get(name) not in (None, "")
    }
    if not found:
        return None
    return hashlib.sha256(json.dumps(found, sort_keys=True).encode()).hexdigest()[:16]


@lru_cache(maxsize=1024)
def _quote_plus(text: str, safe: str) -> str:
    return quote_plus(text, safe=safe)


def _quoted(value: t.Any, safe: str) -> str:
    """What ``urlencode`` makes of one name or value (``quote_plus`` of its ``str``, bytes as they are)."""
    if isinstance(value, bytes):
        return quote_plus(value, safe=safe)
    return _quote_plus(str(value), safe)


def encode_params(request: HTTPRequest) -> str:
    """``HTTPRequest.encode_params``: the same string, each distinct name and value quoted once. A stream sends
    the same fields, orderBy, filter or SOQL on every page, and ``quote_plus`` walks each byte in Python (~30-60 us
    a request for Oracle's). A request type with its own ``encode_params``, or a string of parameters, is left to
    it."""
    params = request.params
    if type(request).encode_params is not HTTPRequest.encode_params or isinstance(params, str):
        return request.encode_params()
    safe = request.safe_query_chars
    parts = []
    for key, value in params.items():
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is not None:
                parts.append(_quoted(key, safe) + "=" + _quoted(item, safe))
    return "&".join(parts)


def sdk_version() -> str:
    """``singer_sdk.helpers._packaging.get_sdk_version()`` (the log line at start, streams' User-Agent), read from
    the distribution's ``Version`` header (``_distribution_version``) when it is plain, once per process."""
    global _sdk_version
    if _sdk_version is None:
        version = _distribution_version(SDK_PACKAGE_NAME)
        _sdk_version = version if version is not None else get_sdk_version()
    return _sdk_version


_sdk_version: str | None = None


def _distribution_version(name: str) -> str | None:
    """``importlib.metadata.version(name)`` from the ``Version`` header of the distribution's METADATA file
    (``_metadata_version``), or None when that cannot say (no such distribution, no plain header)."""
    from importlib import metadata

    try:
        text = metadata.distribution(name).read_text("METADATA")
    except metadata.PackageNotFoundError:
        return None
    return _metadata_version(text) if text else None


def _metadata_version(text: str) -> str | None:
    """The value of a core-metadata file's single ``Version`` header as the email parser gives it (leading blanks
    dropped), or None when it is missing, repeated or folded onto the next line."""
    found = None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line.strip():
            break  # the headers end at the first blank line
        if line.startswith("Version:"):
            after = lines[index + 1] if index + 1 < len(lines) else ""
            if found is not None or after[:1] in (" ", "\t"):
                return None
            found = line[len("Version:") :].lstrip(" \t").rstrip("\r")
    return found


def _setting_name(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(config)"


def _setting_errors(error: ValidationError) -> list[str]:
    """A validation error as lines naming the setting, never quoting a value (the SDK's messages quote whole
    objects, secrets included). For one-of schemas (auth flows), the errors of the branch whose discriminator
    matched, else the most relevant one."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        branches: dict[t.Any, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0] if sub.schema_path else None, []).append(sub)
        matched = [subs for subs in branches.values() if not any(s.validator in ("const", "enum") for s in subs)]
        from jsonschema.exceptions import best_match

        chosen = matched[0] if len(matched) == 1 else [best_match(error.context)]
        return [text for sub in chosen for text in _setting_errors(sub)]
    where = _setting_name(error)
    if error.validator == "required":
        missing = str(error.message).split("'")[1] if "'" in str(error.message) else "?"
        name = f"{where}.{missing}" if error.absolute_path else missing
        return [f"setting '{name}' is required"]
    if error.validator == "type":
        return [f"setting '{where}' must be of type {error.validator_value}"]
    if error.validator in ("enum", "const"):
        return [f"setting '{where}' must be one of {error.validator_value}"]
    if error.validator == "additionalProperties":
        return [f"setting '{where}': {error.message}"]  # names the unexpected keys only
    return [f"setting '{where}' does not satisfy {error.validator} {error.validator_value!r}"]


class StateFileError(ValueError):
    """A state file (``--state``) that cannot be resumed from; the message names the file and the stream."""


def read_state_file(path: str | PurePath) -> dict[str, t.Any]:
    """The state file parsed and checked: unreadable, not JSON, or a malformed stream entry is a clear error."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise StateFileError(f"state file {path}: cannot be read ({exc.strerror})") from None
    try:
        state = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise StateFileError(f"state file {path}: not valid JSON (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise StateFileError(f"state file {path}: nested too deeply to be a Singer state") from None
    check_state(state, f"state file {path}")
    return state


class StateFileParam(click.File):
    """``--state``: read and checked while the command line is parsed, so a bad file is one error line naming
    the file (and the stream) before the tap writes anything; the tap then reads the checked text."""

    name = "state file"

    def convert(self, value: t.Any, param: click.Parameter | None, ctx: click.Context | None) -> t.Any:
        try:
            state = read_state_file(value)
        except StateFileError as exc:
            self.fail(str(exc), param, ctx)
        return io.StringIO(json.dumps(state, default=str))


def check_state(state: t.Any, source: str) -> None:
    """Singer state shape: an object; ``bookmarks`` an object of per-stream objects; a stream's
    ``replication_key_value`` a string or number."""
    if not isinstance(state, dict):
        raise StateFileError(f"{source}: must be a JSON object, not {type(state).__name__}")
    bookmarks = state.get("bookmarks", {})
    if not isinstance(bookmarks, dict):
        raise StateFileError(f"{source}: 'bookmarks' must be an object of streams")
    for stream, entry in bookmarks.items():
        if not isinstance(entry, dict):
            raise StateFileError(f"{source}: stream {stream}: bookmark must be an object, not {type(entry).__name__}")
        value = entry.get("replication_key_value")
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int | float | Decimal)):
            raise StateFileError(
                f"{source}: stream {stream}: replication_key_value must be a string or number, "
                f"not {type(value).__name__}"
            )


def _format_error(value: str, fmt: str) -> str | None:
    if fmt in ("date-time", "date"):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            example = "2024-01-31T00:00:00Z" if fmt == "date-time" else "2024-01-31"
            return f"is not an ISO 8601 {fmt} (e.g. {example})"
        return None
    if fmt in ("uri", "url"):
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            return "is not an http(s) URL"
    return None


def setting_format_errors(config: t.Mapping[str, t.Any], schema: t.Mapping[str, t.Any], prefix: str = "") -> list[str]:
    """Date, date-time and URI settings whose string value does not parse, named by setting (value not shown)."""
    errors: list[str] = []
    for name, prop in (schema.get("properties") or {}).items():
        value = config.get(name) if isinstance(config, t.Mapping) else None
        setting = f"{prefix}{name}"
        if isinstance(value, str) and isinstance(prop.get("format"), str):
            problem = _format_error(value, prop["format"])
            if problem:
                errors.append(f"setting '{setting}' {problem}")
        elif isinstance(value, t.Mapping) and isinstance(prop, t.Mapping):
            errors += setting_format_errors(value, prop, f"{setting}.")
    return errors


def http_policy_from_config(config: dict[str, t.Any], defaults: t.Mapping[str, t.Any] | None = None) -> HttpPolicy:
    """The tap's ``http`` block and ``audit_log_path`` as a validated policy; errors name the setting.
    ``defaults`` (the tap's ``http_defaults``) fill what the block leaves unset."""
    http_cfg = config.get("http") or {}
    if not isinstance(http_cfg, dict):
        raise ValueError(f"setting 'http' must be an object, not {type(http_cfg).__name__}")
    http_cfg = {**http_cfg, **{k: v for k, v in (defaults or {}).items() if http_cfg.get(k) is None}}
    unknown = sorted(set(http_cfg) - (set(HttpPolicy.__dataclass_fields__) - {"audit_path", "bypass_breaker"}))
    if unknown:
        raise ValueError(f"unknown setting(s) {', '.join('http.' + k for k in unknown)}")
    return HttpPolicy(**http_cfg, audit_path=config.get("audit_log_path"))


def _flatten(config: dict[str, t.Any]) -> t.Iterator[tuple[str, t.Any]]:
    for name, value in config.items():
        if isinstance(value, dict):
            yield from _flatten(value)
        else:
            yield name, value


def _secret_values(config: dict[str, t.Any], schema: dict[str, t.Any]) -> t.Iterator[tuple[str, str]]:
    """Yield (name, value) for every config value the schema marks secret (nested objects included)."""
    props = schema.get("properties", {})
    for name, value in config.items():
        spec = props.get(name, {})
        if isinstance(value, dict):
            yield from _secret_values(value, spec)
        elif isinstance(value, str) and (spec.get("secret") or spec.get("writeOnly")):
            yield name, value


_Page = t.TypeVar("_Page", bound=t.Iterable[dict[str, t.Any]])


class MarkedPage(list[dict[str, t.Any]]):
    """A parsed page that says whether its records are plain and conformed (``KitRESTStream.records_plain``,
    ``Conformer.vouched``): a stream's ``parse_response`` may return one, and ``request_records`` sets both from it
    before the page's records are yielded, and resets them for a page that is not one (pages may be parsed on
    another thread, so the marks travel with the page)."""

    __slots__ = ("conformed", "plain")

    def __init__(
        self, records: t.Iterable[dict[str, t.Any]] = (), *, plain: bool = False, conformed: bool = False
    ) -> None:
        super().__init__(records)
        self.plain = plain
        self.conformed = conformed


@dataclass(frozen=True)
class _PageAt:
    """What ``RESTStream._prepare_request`` reads of a paginator (its token), for a page asked for ahead."""

    current_value: t.Any


class _TokenPages:
    """Fetch "the page at this token", for the readers that ask for pages ahead of the paginator (the window of page
    requests here, Oracle's ranged keyset reads): ``prepare`` builds the request the SDK would build for that token,
    ``send`` sends it through the stream's request decorator (retries, back-off, rate limits) and parses the page,
    and ``settle`` counts and costs a page when it is emitted, in page order, as the SDK's loop does."""

    def __init__(self, stream: KitRESTStream, context: t.Any) -> None:
        self.stream = stream
        self.context = context
        self._send = stream.request_decorator(stream._request)

    def prepare(self, token: t.Any) -> requests.PreparedRequest:
        return self.stream._prepare_request(context=self.context, page=t.cast("t.Any", _PageAt(token)))

    def send(
        self, prepared: requests.PreparedRequest, *, parse: bool = True
    ) -> tuple[requests.Response, list[dict[str, t.Any]]]:
        """The answer and its records (none unless ``parse``: a request that only places something)."""
        response = self._send(prepared, self.context)
        return response, self.stream._parsed_page(response) if parse else []

    def fetch(
        self, token: t.Any, *, parse: bool = True
    ) -> tuple[requests.PreparedRequest, requests.Response, list[dict[str, t.Any]]]:
        """``prepare`` then ``send``, on the caller's thread."""
        prepared = self.prepare(token)
        return (prepared, *self.send(prepared, parse=parse))

    def settle(self, counter: t.Any, prepared: requests.PreparedRequest, response: requests.Response) -> None:
        counter.increment()
        self.stream.update_sync_costs(prepared, response, self.context)


class AnnotatedStreamMixin:
    """Puts the ``x-xlr8`` annotation the truths target reads into each SCHEMA message of a stream (any SDK
    ``Stream`` of a ``KitTap``: ``KitRESTStream``, or a stream that reads no HTTP API). Subclasses declare."""

    #: Canonical entity (``xlr8_kit.vocabulary``), e.g. ``employee``; None means the stream's own name.
    xlr8_entity: t.ClassVar[str | None] = None
    #: ``reality`` (data) or ``configuration`` (code tables, org structures).
    xlr8_truth_type: t.ClassVar[str] = "reality"
    #: Product id for the annotation when a tap serves two registry products (Workday HCM and Financials).
    xlr8_product: t.ClassVar[str | None] = None
    #: Columns that reference a configuration entity: ``{"JobCode": "job"}`` (spokes of that hub).
    xlr8_references: t.ClassVar[dict[str, str]] = {}
    #: True for a stream that earlier versions of its tap sent without an annotation: the target then adopts the
    #: table those runs landed (named after the run's source, not the product) once, instead of starting a new one.
    xlr8_formerly_unannotated: t.ClassVar[bool] = False
    #: Columns naming sets of rows the stream always reads whole (a person's day of totals), a leading part of the
    #: key or outside it: the target replaces such a set's rows with each run's (``replace_by`` in
    #: ``xlr8_kit.vocabulary.annotations``).
    xlr8_replace_by: t.ClassVar[tuple[str, ...]] = ()

    def _generate_schema_messages(self) -> t.Generator[t.Any, None, None]:
        """Attach the ``x-xlr8`` annotation to each SCHEMA message (not to the validation schema)."""
        from xlr8_kit.vocabulary.annotations import ANNOTATION_KEY

        annotation = self.xlr8_annotation
        for message in super()._generate_schema_messages():  # type: ignore[misc]
            if annotation is not None:
                message.schema = {**message.schema, ANNOTATION_KEY: annotation}
            yield message

    @property
    def xlr8_annotation(self) -> dict[str, t.Any] | None:
        """The stream's ``x-xlr8`` block; None for a stream the vocabulary cannot place (a tenant's custom object
        with no declared entity), which then lands as Reality under its own name. A declared entity that the
        vocabulary does not know is a programming error and raises, and so does a Configuration stream with no
        entity: its declared truth type would otherwise be dropped and it would land as Reality."""
        from xlr8_kit.vocabulary import VocabularyError, find_entity, mapping_for_stream
        from xlr8_kit.vocabulary.annotations import build_annotation

        stream = t.cast("Stream", self)
        product = self.xlr8_product or t.cast("KitTap", stream._tap).product_id
        if (
            self.xlr8_entity is None
            and mapping_for_stream(product, stream.name) is None
            and not find_entity(stream.name)
        ):
            if self.xlr8_truth_type != "reality":
                raise VocabularyError(
                    f"{product} stream {stream.name!r} is declared {self.xlr8_truth_type} but has no entity: a "
                    "configuration truth needs one (set xlr8_entity or map the stream in xlr8_kit/vocabulary/data.py)"
                )
            return None
        return build_annotation(
            product=product,
            stream=stream.name,
            entity=self.xlr8_entity,
            truth_type=self.xlr8_truth_type,
            key_columns=list(stream.primary_keys or []),
            references=dict(self.xlr8_references),
            columns=list(stream.schema.get("properties", {})),
            formerly_unannotated=self.xlr8_formerly_unannotated,
            replace_by=[] if reads_part(self) else list(self.xlr8_replace_by),
        )


def reads_part(stream: t.Any) -> bool:
    """Whether a run reads part of the stream's rows: the kit's ``filters`` setting applies to it, or a
    ``stream_maps`` entry filters it (``__filter__``). The target must then neither take the rows for whole sets
    (``replace_by``: the rest of each set marked deleted) nor for the whole table (ACTIVATE_VERSION)."""
    if getattr(stream, "universal_filter", None) is not None:
        return True
    maps = (getattr(stream, "config", None) or {}).get("stream_maps") or {}
    name = getattr(stream, "name", None)
    return any(
        isinstance(m, dict) and m.get("__filter__") and (key == name or m.get("__source__") == name)
        for key, m in maps.items()
    )


class ActivateAtEndMixin:
    """A full-table stream's ACTIVATE_VERSION after its last record, not before its first (singer-sdk 0.54.9
    sends it first): a target applies it on arrival, marking every row of the older version deleted, so a read
    cut short left every row it had not re-read deleted, and readers saw the table empty while it loaded. Held
    here, it goes out once the read ended: a child stream's once every parent's children were read (the SDK syncs
    a child per parent record), none for a read that failed or read part of the rows (``reads_part``)."""

    _xlr8_pending_version: int | None = None
    _xlr8_read_failed: bool = False
    #: When the top-level read began (before its first request): sent with its sets (``read_start``).
    _xlr8_read_started: datetime | None = None
    #: The sets (``replace_by``) this read has read whole so far (``xlr8_read_whole``), sent when it ended well.
    _xlr8_sets_read: list[dict[str, list[t.Any]]] | None = None
    #: The SDK's record loop in RECORD mode: False while the top-level read runs, True once its records ended
    #: (the next STATE covers the read: the announcements go first), None otherwise.
    _xlr8_announce_next_state: bool | None = None

    def _write_activate_version_message(self, full_table_version: int) -> None:
        self._xlr8_pending_version = full_table_version

    def _xlr8_read_begins(self) -> None:
        """A top-level read starts clean (called before its first record, by both record loops and the BATCH loop):
        what a read of the same stream object that failed left (its start, the sets it noted, its own and its
        children's failure marks) is dropped (review27f L4: the next read in the process, a retry, announced the
        failed read's start and sets, or nothing at all). So are the children's held versions (review28d L3: a
        child's is held when it is read, under a parent record, so a read with no parent record sent the failed
        read's); this stream's own is not: ``sync`` notes this read's before the loops start."""
        if getattr(self, "parent_stream_type", None) is not None:
            return
        pending: list[t.Any] = [self]
        while pending:
            stream = pending.pop(0)
            pending.extend(c for c in getattr(stream, "child_streams", ()) if isinstance(c, ActivateAtEndMixin))
            stream._xlr8_read_started = None
            stream._xlr8_sets_read = None
            stream._xlr8_read_failed = False
            if stream is not self:
                stream._xlr8_pending_version = None

    def xlr8_read_whole(self, sets: t.Mapping[str, t.Iterable[t.Any]]) -> None:
        """Notes sets of ``xlr8_replace_by`` this read has read whole: each column's values, every combination of
        them one set (a page's parents; a call's people and days), whether it sent rows of them or not. They go out
        when the read ends well (``SETS_READ_STREAM``), so the target can mark deleted the rows of a set that is now
        empty, which no record names (held until then: a failed read announces nothing)."""
        columns = tuple(getattr(self, "xlr8_replace_by", ()))
        if not columns:
            return
        if set(sets) != set(columns):
            raise ValueError(f"{getattr(self, 'name', self)}: sets read name {sorted(sets)}, not replace_by {columns}")
        key = getattr(self, "replication_key", None)
        if key and getattr(self, "is_sorted", False):
            # review27f L5: a sorted stream's STATEs during the read (STATE_MSG_FREQUENCY, a BATCH file's, one a
            # failure releases) carry its bookmark past sets announced only when the read ends: a run stopped
            # after such a STATE never announces them, and the next run does not read them again
            raise ValueError(
                f"{getattr(self, 'name', self)}: sets read whole on a sorted incremental stream (is_sorted, "
                f"replication_key {key!r}): its bookmark moves past them before they are "
                "announced; declare it is_sorted = False (bookmark at the read's end) to announce its sets"
            )
        if key and getattr(self, "parent_stream_type", None) is None and self.partitions:  # type: ignore[attr-defined]
            # review28d L2: the SDK finalizes each partition's bookmark when that partition ends, so the STATEs
            # after it carry the bookmark past sets announced only when the whole read ends (sorted or not)
            raise ValueError(
                f"{getattr(self, 'name', self)}: sets read whole on a partitioned incremental stream "
                f"(replication_key {key!r}): each partition's bookmark moves past its sets when the partition "
                "ends, before they are announced at the read's end; announce sets from an unpartitioned stream"
            )
        listed = {c: list(dict.fromkeys(v for v in sets[c] if v is not None)) for c in columns}
        if all(listed.values()):
            if self._xlr8_sets_read is None:
                self._xlr8_sets_read = []
            self._xlr8_sets_read.append(listed)

    def _write_starting_replication_value(self, context: t.Any) -> None:
        """A read starts here (both record loops call it first, before any request): the top-level read's start
        is noted once, the moment its announcements carry (a child is read within its parent's read)."""
        if getattr(self, "parent_stream_type", None) is None and self._xlr8_read_started is None:
            self._xlr8_read_started = datetime.now(UTC)
        super()._write_starting_replication_value(context)  # type: ignore[misc]

    def _xlr8_activate_read_version(self) -> None:
        """Send the versions this read held back, its own and its child streams' (called when the read ended)."""
        if getattr(self, "parent_stream_type", None) is not None:
            return  # sent by the top-level parent, after the children of every parent
        started, self._xlr8_read_started = self._xlr8_read_started, None
        pending: list[t.Any] = [self]
        while pending:
            stream = pending.pop(0)
            pending.extend(c for c in getattr(stream, "child_streams", ()) if isinstance(c, ActivateAtEndMixin))
            version, stream._xlr8_pending_version = stream._xlr8_pending_version, None
            failed, stream._xlr8_read_failed = stream._xlr8_read_failed, False
            sets, stream._xlr8_sets_read = stream._xlr8_sets_read, None
            if failed or reads_part(stream):
                continue
            if version is not None:
                Stream._write_activate_version_message(stream, version)
            if sets:
                write_sets_read(stream, sets, started)

    def _finalize_state(self, state: dict[str, t.Any] | None = None) -> None:
        """The SDK's record loop finalizes the whole stream's state once its records ended, then writes the STATE
        that covers the read: the announcements go out just before it (``_write_state_message``)."""
        if self._xlr8_announce_next_state is False and state is self.stream_state:  # type: ignore[attr-defined]
            self._xlr8_announce_next_state = True
        super()._finalize_state(state)  # type: ignore[misc]

    def _write_state_message(self) -> None:
        """The read's announcements before the STATE that covers it (a target stopped between the two would
        otherwise relay that STATE and never get them: the next run does not read the set again)."""
        if self._xlr8_announce_next_state:
            self._xlr8_announce_next_state = None
            self._xlr8_activate_read_version()
        super()._write_state_message()  # type: ignore[misc]

    def _sync_records(self, context: t.Any = None, *, write_messages: bool = True) -> t.Generator[dict, t.Any, t.Any]:
        top = getattr(self, "parent_stream_type", None) is None
        if top:
            self._xlr8_read_begins()  # what an earlier read that failed left never goes out
            # RECORD mode on the SDK's loop: armed until the read's records end (``_finalize_state``)
            self._xlr8_announce_next_state = False if write_messages else None
        try:
            yield from super()._sync_records(context, write_messages=write_messages)  # type: ignore[misc]
        except BaseException:
            self._xlr8_read_failed = True  # a child's failure the SDK logs and passes over included
            if top:
                self._xlr8_announce_next_state = None
            raise
        if top:
            self._xlr8_announce_next_state = None
        if write_messages:  # BATCH mode reads without messages: ``KitBatchingMixin._sync_batches`` sends it
            self._xlr8_activate_read_version()  # sent already before the final STATE: this sends nothing more


def write_sets_read(stream: t.Any, sets: list[dict[str, list[t.Any]]], started: datetime | None = None) -> None:
    """The ``SETS_READ_STREAM`` records of ``stream``'s sets read whole (``xlr8_kit.vocabulary.annotations``), its
    SCHEMA first once per run; a column's values split over records of ``SETS_READ_CHUNK`` values at most, in an
    order that depends on what was read, not on the pages or the order they came in; ``started``: the read's start
    (``read_start``: the target deletes no row extracted since, by a run that overlapped this one)."""
    from singer_sdk.singerlib import SchemaMessage

    from xlr8_kit.vocabulary.annotations import SETS_READ_CHUNK, SETS_READ_STREAM

    tap = stream._tap
    if not getattr(tap, "_xlr8_sets_read_schema_sent", False):
        schema = {
            "type": "object",
            "properties": {
                "stream": {"type": "string"},
                "sets": {"type": "object"},
                "read_start": {"type": "string", "format": "date-time"},
            },
            "required": ["stream", "sets"],
        }
        tap.write_message(SchemaMessage(stream=SETS_READ_STREAM, schema=schema, key_properties=[]))
        tap._xlr8_sets_read_schema_sent = True
    # Sets sharing every other column's values are one record, the first column's values joined (a UKG window's
    # people from all its calls; all of a one-column stream's values): the target applies each record in one
    # statement, and the order is one whatever the pages or the order they came in.
    # The names the stream's records go out under: a stream map's ``__alias__`` renames them (ACTIVATE_VERSION is
    # sent per alias likewise), and the target knows the stream by that name only; a stream mapped to null sends
    # nothing, so nothing of it is announced.
    maps = getattr(stream, "stream_maps", None) or []
    names = [m.stream_alias for m in maps if not isinstance(m, RemoveRecordTransform)] if maps else [stream.name]
    columns = list(sets[0])
    joined: dict[str, tuple[dict[str, list[t.Any]], dict[t.Any, None]]] = {}
    for listed in sets:
        rest = {c: listed[c] for c in columns[1:]}
        joined.setdefault(_value_order(rest), (rest, {}))[1].update(dict.fromkeys(listed[columns[0]]))
    sets = [{columns[0]: sorted(values, key=_value_order), **rest} for _, (rest, values) in sorted(joined.items())]
    for listed in sets:
        parts: list[dict[str, list[t.Any]]] = [{}]
        for column, values in listed.items():
            chunks = [values[i : i + SETS_READ_CHUNK] for i in range(0, len(values), SETS_READ_CHUNK)]
            parts = [{**part, column: chunk} for part in parts for chunk in chunks]
        for name in names:
            for part in parts:
                record: dict[str, t.Any] = {"stream": name, "sets": part}
                if started is not None:
                    record["read_start"] = started.isoformat()
                tap.write_message(RecordMessage(stream=SETS_READ_STREAM, record=record))
    writer = tap.message_writer
    if isinstance(writer, KitSingerWriter):
        writer.flush()  # the kit's writer holds RECORD lines: these may be the run's last message


def _value_order(value: t.Any) -> str:
    """A stable order for announced values and sets (any JSON value)."""
    return json.dumps(value, sort_keys=True, default=str)


class KitRESTStream(ActivateAtEndMixin, AnnotatedStreamMixin, KitBatchingMixin, RESTStream):
    """Base for every product's REST stream. Subclasses declare; this class does.

    Hooks a product base may override: ``response_classifier`` / ``classify_response`` (quota signals that are
    not 429, statuses used unconventionally), ``response_error_in_body`` (errors inside a 200, RELIABILITY A8)
    and ``error_body_verdict`` (retry or stop when that happens).
    """

    #: Status and body rules; a product base sets its own subclass for vendor quirks.
    response_classifier: t.ClassVar[ResponseClassifier] = DEFAULT_CLASSIFIER
    #: What a 2xx whose body is an error means: "fatal" (default) or "retry" (transient vendor hiccup).
    error_body_verdict: t.ClassVar[Verdict] = "fatal"
    #: Read large 2xx bodies as they arrive (``xlr8_kit.streaming.send_streamed``) instead of whole; the parser
    #: and ``validate_response`` must then accept a body left unread (``body_complete`` is False).
    stream_bodies: t.ClassVar[bool] = False
    #: The session's ``kind`` for this stream's requests: ``report`` where the tenant runs a report per request
    #: (Workday RaaS), so it waits ``http.report_read_timeout`` and is not re-run silently (F13).
    request_kind: t.ClassVar[str] = "api"

    @property
    def _kit_tap(self) -> KitTap:
        return t.cast("KitTap", self._tap)

    @property
    def requests_session(self) -> requests.Session:
        return self._kit_tap.kit.session

    @property
    def authenticator(self) -> t.Any:
        auth = self._kit_tap.kit.authenticator
        return auth if auth is not None else super().authenticator

    def backoff_max_tries(self) -> int:
        """The kit's session retries; the SDK must not multiply attempts (RELIABILITY A14)."""
        return 1

    @property
    def timeout(self) -> int:
        return int(self._kit_tap.kit.policy.read_timeout)

    @cached_property
    def user_agent(self) -> str:
        """The SDK's (the ``user_agent`` setting, else ``singer-sdk/<version>``), the version read as ``KitTap``
        reads it (``sdk_version``)."""
        config = self.config
        return t.cast(str, config["user_agent"]) if "user_agent" in config else f"singer-sdk/{sdk_version()}"

    def build_prepared_request(self, *args: t.Any, **kwargs: t.Any) -> requests.PreparedRequest:
        """Prepared without auth: the session applies the authenticator afresh on every attempt instead
        (and never to token calls sharing the same session)."""
        request = requests.Request(*args, **kwargs)
        request.headers.setdefault("User-Agent", self.user_agent)
        return self.requests_session.prepare_request(request)

    def _prepare_request(self, *, context: t.Any, page: t.Any) -> requests.PreparedRequest:
        """The SDK's, the parameters encoded by ``encode_params`` (the same string, most of it quoted once)."""
        http_request = self.get_http_request(
            page=PageContext(stream_context=context, next_page_token=page.current_value)
        )
        prepare_kwargs: dict[str, t.Any] = {
            "method": http_request.method,
            "url": http_request.url,
            "params": encode_params(http_request),
            "headers": http_request.headers,
        }
        prepare_kwargs["json" if self.payload_as_json else "data"] = http_request.data
        return self.build_prepared_request(**prepare_kwargs)

    def _request(self, prepared_request: requests.PreparedRequest, context: t.Any) -> requests.Response:
        """One logical request: every attempt, wait and redirect happens inside the kit's session."""
        session = self._kit_tap.kit.session
        send: t.Callable[..., requests.Response] = (
            partial(send_streamed, session) if self.stream_bodies else session.send
        )
        response = send(
            prepared_request,
            classify=self.classify_response,
            authenticate=self.authenticator,
            allow_redirects=self.allow_redirects,
            kind=self.request_kind,
        )
        self._write_request_duration_log(endpoint=self.path, response=response, context=context, extra_tags=None)
        self.validate_response(response)
        return response

    def classify_response(self, response: requests.Response) -> Verdict:
        """The verdict that drives the session's retry loop (see ``xlr8_kit.http.classify``)."""
        status = response.status_code
        if HTTPStatus.OK <= status < HTTPStatus.MULTIPLE_CHOICES and response.content:
            if self.response_classifier.body_truncated(response):
                return "retry"
            if self.response_error_in_body(response) is not None:
                return self.error_body_verdict
            return "ok"
        return self.response_classifier.classify(response)

    def response_error_in_body(self, response: requests.Response) -> str | None:
        """A short reason when a 2xx body is really an error, else None."""
        return self.response_classifier.error_in_body(response)

    def validate_response(self, response: requests.Response) -> None:
        """Statuses the session handed back without raising: non-retriable, so they stop the stream."""
        status = response.status_code
        if status >= HTTPStatus.INTERNAL_SERVER_ERROR or status == HTTPStatus.TOO_MANY_REQUESTS:
            raise ServerUnavailableError(self.response_error_message(response), status=status, path=self.path)
        if status == HTTPStatus.UNAUTHORIZED:
            raise AuthenticationError(
                self.response_error_message(response) + " (credentials rejected; check or re-authorise them)",
                status=status,
                path=self.path,
            )
        if HTTPStatus.BAD_REQUEST <= status < HTTPStatus.INTERNAL_SERVER_ERROR:
            raise ClientRequestError(self.response_error_message(response), status=status, path=self.path)

    def response_error_message(self, response: requests.Response) -> str:
        """Path and status, a truncated and redacted body; never the query string (keys and filters hide there)."""
        path = urlparse(response.url).path or self.path
        body = " ".join(response.text.split()) if response.content else ""
        if len(body) > MAX_ERROR_BODY:
            body = body[:MAX_ERROR_BODY] + f"... [{len(body) - MAX_ERROR_BODY} more chars]"
        msg = f"{self._kit_tap.product_id} {self.name}: HTTP {response.status_code} for path {path}"
        if body:
            msg += f": {body}"
        return self._kit_tap.kit.redactor.redact(msg)

    def get_starting_replication_key_value(self, context: t.Any) -> t.Any:
        """The bookmark, checked against the replication key's type: a malformed value names the stream (E9)."""
        key = self.replication_key
        prop = self.schema.get("properties", {}).get(key, {}) if key else {}
        bookmark = self.get_context_state(context).get("replication_key_value")
        if isinstance(bookmark, str) and prop.get("format") in ("date-time", "date"):
            problem = _format_error(bookmark, str(prop["format"]))
            if problem:
                raise StateFileError(
                    f"state: stream {self.name}: replication_key_value for {key} {problem}; fix or remove the "
                    "stream's bookmark"
                )
        return super().get_starting_replication_key_value(context)

    def restart_bookmark(self, context: t.Any, siblings: t.Mapping[str, t.Any] | None = None) -> dict[str, t.Any]:
        """This stream's (or partition's) bookmark restarted from ``start_date``, as on a first run: the one way a
        tap resets a bookmark (S/4's ``filter_version``, UKG Ready's date-format stamp, Oracle's whole reads,
        Salesforce's formula re-read). Returns the state, for the caller's own stamp.

        Explicit nulls, never removed keys: Meltano lays a cut-short run's last STATE over the stored one with a
        deep merge (``meltano.core.utils.merge``: every STATE of a run with ``--state-strategy merge`` or, under
        ``auto``, with ``--full-refresh``; a failed run's partial state under any), which takes a null but keeps a
        key the new state lacks, so a popped bookmark came back beside the reset's stamp and the restarted read was
        skipped (review23i #2, #6). ``siblings``: the stream's own keys that describe the old bookmark, each with
        its empty value; a key holding a dict gets a dict of nulls naming every inner key it can hold (the merge
        clears only the inner keys named, any other stays), never a null (the merge lays a later dict over a stored
        null by indexing the null: Meltano fails).
        The SDK's progress markers need nothing: ``sync_all`` drops them before any stream starts, and a
        partitions list is replaced whole by the merge."""
        state = self.get_context_state(context)
        state["replication_key_value"] = None
        state.update(siblings or {})
        state["starting_replication_value"] = self.config.get("start_date")  # what the SDK writes on a first run
        return state

    def _sync_records(self, context: t.Any = None, *, write_messages: bool = True) -> t.Generator[dict, t.Any, t.Any]:
        """The SDK's record loop (or the kit's plain one, below); RECORD lines the kit's writer still holds reach
        stdout even when it fails."""
        self._xlr8_read_begins()
        try:
            if context is None and self._plain_record_loop:
                yield from self._sync_plain_records(write_messages=write_messages)
                if write_messages:
                    self._xlr8_activate_read_version()
            else:
                yield from super()._sync_records(context, write_messages=write_messages)
        finally:
            writer = self._tap.message_writer
            if isinstance(writer, KitSingerWriter):
                writer.flush()

    # -- the plain record loop (issue 14 goal 2) ------------------------------------------------------------------

    @property
    def _plain_record_loop(self) -> bool:
        """True when the SDK's record loop would do nothing beyond what ``_sync_plain_records`` does: one
        unpartitioned stream with no child stream to sync (a child context would be built and thrown away), every
        property selected, no record limit, no stream map but the identity, no override of the loop's steps, and
        the kit's writer on stdout. ``XLR8_TAP_SDK_RECORD_LOOP=1`` keeps the SDK's loop (to rule the kit's loop
        out when something looks wrong)."""
        if os.environ.get("XLR8_TAP_SDK_RECORD_LOOP") == "1":
            return False
        maps = self.stream_maps
        kind = type(self)
        return (
            self.selected
            and not self.partitions
            and not any(child.selected or child.has_selected_descendents for child in self.child_streams)
            and self.ABORT_AT_RECORD_COUNT is None
            and self._selects_every_property
            and len(maps) == 1
            and type(maps[0]) is SameRecordTransform
            and not (maps[0].flattening_options and maps[0].flattening_enabled)
            and isinstance(self._tap.message_writer, KitSingerWriter)
            and "write_message" not in vars(self._tap)  # nobody captures the tap's messages in-process
            and type(self._tap).write_message is BaseSingerWriter.write_message
            and kind._process_record is Stream._process_record
            and kind._write_record_message is Stream._write_record_message
            and kind._generate_record_messages is KitRESTStream._generate_record_messages
        )

    def _sync_plain_records(
        self, *, write_messages: bool = True, sink: BatchSink | None = None
    ) -> t.Generator[dict, t.Any, t.Any]:
        """``Stream._sync_records`` (singer-sdk 0.54.9, pinned) for the case ``_plain_record_loop`` admits, without
        the steps that do nothing there: no partition or child contexts, no projection, no stream-map transform, no
        ``RecordMessage`` per record (the kit's writer encodes the line around the record), the record counter
        advanced in steps. Messages, their order, STATE and bookmarks are those of the SDK's loop. Without
        ``write_messages`` nothing is written, as in the SDK. With a ``sink`` (the kit's BATCH files) the records go
        to it instead of the writer, and where the loop would write STATE every ``STATE_MSG_FREQUENCY`` records the
        sink cuts a file after each ``sink.next_size()`` records (BATCH, then STATE)."""
        record_counter = self.get_record_counter()
        timer = self.get_sync_timer()
        writer = self._tap.message_writer
        assert isinstance(writer, KitSingerWriter)  # _plain_record_loop checked it
        # Conformance level NONE: ``marked`` would hand back the record, not known plain.
        conformer = self._conformer
        conform_marked = None if conformer.is_identity else conformer.marked
        emit: t.Callable[[dict[str, t.Any], bool], None] | None = None
        emit_page: t.Callable[[list[dict[str, t.Any]], bool], None] | None = None
        frequency, at_frequency = self.STATE_MSG_FREQUENCY, self._write_state_message

        def next_step() -> int:
            """Records until the next STATE."""
            return frequency

        if sink is not None:
            emit, emit_page, next_step, at_frequency = sink.emit, sink.emit_page, sink.next_size, sink.cut
        elif write_messages:
            emit = writer.record_emitter(self.stream_maps[0].stream_alias, self._stream_version)
        post_process = self.post_process
        # The SDK's post_process returns the record as it is, so a plain source stays plain (the SDK's conformance
        # of plain values gives plain values too).
        trust_source = self.post_process_is_identity
        state_manager = self.state_manager
        uncounted = 0
        with record_counter, timer, _record_loop_gc():
            record_counter.with_context({})
            timer.with_context({})
            state_partition_context = self._get_state_partition_context(None)
            self._write_starting_replication_value(None)
            increment_state = self._plain_state_step()
            record_index = 0
            boundary = next_step()  # the record index after which the next STATE (or the sink's cut) goes out
            if emit is None:  # nothing written: no STATE either, as in the SDK's loop
                at_frequency = _no_state_change

            def advance(n: int) -> None:
                """The loop's bookkeeping after ``n`` more records went out and the state moved past them: STATE
                every ``frequency`` records (or the sink's cut after each file's ``next_size()``), the record
                counter in steps."""
                nonlocal record_index, uncounted, boundary
                record_index += n
                if record_index == boundary:
                    at_frequency()
                    boundary += next_step()
                uncounted += n
                if uncounted >= COUNTER_STEP:
                    record_counter.increment(uncounted)
                    uncounted = 0

            self.records_written_only = emit is not None and trust_source
            # pages are written whole where the loop conforms none of their records (conformance level NONE, or
            # a page the stream vouches for: ``Conformer.vouched``); any other page goes record by record
            pages = self.plain_record_pages() if self.records_written_only else None
            try:
                if pages is not None:
                    assert emit is not None  # records_written_only
                    if emit_page is None:
                        emit_page = writer.record_page_emitter(self.stream_maps[0].stream_alias, self._stream_version)
                    plan_state = self._plain_state_page_step()

                    def one_by_one(
                        records: t.Iterable[dict[str, t.Any]], whole: bool, plain: bool
                    ) -> t.Iterator[dict[str, t.Any]]:
                        """The record loop's steps for each record (conformed unless ``whole``), as it comes."""
                        for record in records:
                            if whole:
                                emit(record, plain)
                            else:
                                conformed, conformed_plain = conform_marked(record)  # type: ignore[misc]
                                emit(conformed, conformed_plain or plain)
                            state_manager.is_flushed = False
                            increment_state(record)
                            advance(1)
                            yield record

                    for page in pages:
                        # the marks the stream set for this page before handing it over
                        if conform_marked is None:
                            whole, plain = True, self.records_plain
                        elif conformer.vouched:
                            whole, plain = True, conformer.vouched_plain or self.records_plain
                        else:
                            whole, plain = False, self.records_plain
                        if not isinstance(page, list):  # records made as they are read: taken as they come
                            yield from one_by_one(page, whole, plain)
                            continue
                        start, size = 0, len(page)
                        while start < size:
                            # A segment ends where the record loop writes a STATE message (at ``boundary``).
                            stop = min(size, start + boundary - record_index)
                            segment = page if start == 0 and stop == size else page[start:stop]
                            apply_state = plan_state(segment) if whole else None
                            if apply_state is None and whole and stop - start > 1:
                                # the first record alone (the first record of an unsorted stream makes the
                                # progress markers), then the page step once more for the rest
                                yield from one_by_one(segment[:1], whole, plain)
                                start += 1
                                segment = page[start:stop]
                                apply_state = plan_state(segment)
                            if apply_state is None:  # not vouched, or the page step cannot say: record by record
                                yield from one_by_one(segment, whole, plain)
                            else:
                                emit_page(segment, plain)
                                state_manager.is_flushed = False
                                apply_state()
                                advance(stop - start)
                                if sink is None:  # the BATCH files are the records' only reader
                                    yield from segment
                            start = stop
                else:
                    for result in self.get_records(None):
                        record = result[0] if isinstance(result, tuple) else result
                        if not trust_source:  # the SDK's post_process returns the record: not called per record
                            processed = post_process(record, None)
                            if processed is None:
                                continue
                            record = processed
                        if emit is not None:
                            if conform_marked is None:
                                emit(record, trust_source and self.records_plain)
                            elif conformer.vouched:
                                emit(record, conformer.vouched_plain or (trust_source and self.records_plain))
                            else:
                                conformed, plain = conform_marked(record)
                                emit(conformed, plain or (trust_source and self.records_plain))
                            state_manager.is_flushed = False
                        increment_state(record)
                        advance(1)
                        yield record
            finally:
                self.records_written_only = False
                close = getattr(pages, "close", None)
                if close is not None:
                    close()  # the stream's marks are reset when its pages stop, not when they are collected
                if uncounted:
                    record_counter.increment(uncounted)
            if state_partition_context is None:
                self._finalize_state(self.get_context_state(None))
        self._finalize_state(self.stream_state)
        if sink is not None:
            sink.close()  # the last file, named with the state the SDK's loop leaves
        if write_messages:
            self._xlr8_activate_read_version()  # the read's announcements before the STATE that covers it
            self._write_state_message()

    #: True while the records ``get_records`` yields are plain by construction: JSON parsed by msgspec
    #: (``singer_io.loads_marked``) or CSV cells converted to strings, integers, booleans or Decimals, i.e. string
    #: keys and only strings, integers, booleans, nulls, Decimals and dicts and lists of them. A stream sets it per
    #: page, before yielding that page's records (the generators between it and the loop hold nothing back); the
    #: plain loop then spares the writer its walk of every value. Ignored when ``post_process`` is overridden.
    records_plain: bool = False

    def records_of_blocks(
        self, blocks: t.Iterable[tuple[t.Iterable[dict[str, t.Any]], bool]]
    ) -> t.Generator[dict[str, t.Any], None, None]:
        """Each block's records, with ``Conformer.vouched`` set to the block's mark while they are taken (a stream
        that builds blocks its records are conformed in, ``Conformer.keeps_columns``), and cleared after the last
        block and when the reading stops (``pages_of_blocks``, record by record)."""
        return records_of_pages(self.pages_of_blocks(blocks))

    def pages_of_blocks(
        self, blocks: t.Iterable[tuple[t.Iterable[dict[str, t.Any]], bool]]
    ) -> t.Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """Each block's records as one page, ``Conformer.vouched`` set to the block's mark before it is handed over
        and cleared after the last block and when the reading stops. A stream reading blocks returns this from
        ``plain_record_pages`` (the plain loop then writes a vouched block's lines at once); its records are those
        ``records_of_blocks`` yields, in the same order."""
        return self.handed_pages((records, conformed, None) for records, conformed in blocks)

    @property
    def post_process_is_identity(self) -> bool:
        """True when ``post_process`` returns every record as it is (the plain loop then does not call it). A
        mixin whose ``post_process`` is the identity in some runs (no filter set) says so by overriding this."""
        return type(self).post_process is Stream.post_process

    #: True while the plain loop runs with the kit's writer (or its BATCH files, ``BatchSink``) as the only reader
    #: of what ``get_records`` yields: each record is written as it is (no ``post_process`` of the stream's own) and
    #: then dropped; the state step reads the replication key alone. A stream may then give fractional numbers as
    #: ``msgspec.Raw`` values (``singer_io.RawNumbers``: the text the writer would write for the Decimal), never in a
    #: replication key and only in records the loop does not conform (conformance level NONE, or
    #: ``Conformer.vouched``).
    records_written_only: bool = False

    def plain_record_pages(self) -> t.Iterator[t.Iterable[dict[str, t.Any]]] | None:
        """What ``get_records(None)`` yields, in pages, for the plain loop while ``records_written_only``: it then
        writes a page's lines and advances the state a page at a time (``_plain_state_page_step``), with the same
        messages in the same order. None: record by record.

        The pages' contract: their records, in order, are exactly what ``get_records(None)`` would yield; the
        stream's marks for a page (``records_plain``, ``Conformer.vouched`` / ``vouched_plain``) are set before
        the page is handed over and stay until the next one is asked for; a page is a list (written whole when
        vouched or when nothing is conformed) or any other iterable (records taken one by one as they come, for
        records made while they are read, so errors surface after the same records). ``pages_of_blocks`` hands
        ``records_of_blocks``' blocks over this way, ``request_record_pages`` the kit's read-ahead pages.

        Default: ``request_record_pages`` for a stream whose records are the kit's ``request_records`` as they
        are (``get_records`` and ``request_records`` not replaced) and which reads pages ahead; else None."""
        kind = type(self)
        if (
            kind.get_records is RESTStream.get_records
            and kind.request_records is KitRESTStream.request_records
            and self._reads_pages_ahead
        ):
            return self.request_record_pages(None)
        return None

    def _plain_state_page_step(self) -> t.Callable[[list[dict[str, t.Any]]], t.Callable[[], None] | None]:
        """For the plain loop reading pages: given a page (never one spanning a STATE message), a function that
        leaves the state exactly as ``_plain_state_step`` does after each of the page's records in turn, or None
        (state untouched) when it cannot vouch for that: the loop then goes record by record, as without pages
        (errors raised at the record that raises them, after that record's line).

        Where the kit's own ``_plain_state_step`` advances the state (``_increment_plan``): nothing to do for a
        stream that is not incremental; else a page whose replication key values are all strings and that the record
        step would take without the SDK's increment (the progress markers exist, the bookmark is a string or None,
        sorted data in order) sets the bookmark once, to what the last record step would leave. A stream that
        replaces ``_plain_state_step`` replaces this too (else every page is declined)."""
        if type(self)._plain_state_step is not KitRESTStream._plain_state_step:
            return _no_page_step
        plan = self._increment_plan()
        if plan is None:
            return _no_page_step
        if plan is _NOTHING_TO_INCREMENT:
            return _nothing_page_step
        return plan.page_step

    #: True when the stream's ``_increment_stream_state`` override only takes out records whose replication value
    #: is null before calling the SDK's (which warns and moves nothing for them): the plain loop's plan stands.
    increment_only_drops_nulls: t.ClassVar[bool] = False

    def _plain_state_step(self) -> t.Callable[[dict[str, t.Any]], None]:
        """What the plain loop calls after each record to advance the stream's state, built when the loop starts:
        the SDK's ``_increment_stream_state`` (a stream may return an equivalent that does less per record).

        Where neither the stream nor its state manager changes the SDK's increment (``_increment_plan``): nothing
        for a stream that is not incremental; else a string bookmark (or, unsorted, progress marker) advanced with
        the stream's state dict and switches looked up once. Anything else (a non-string value, a null, sorted data
        out of order, the first unsorted record) goes to the SDK's own increment, which warns or raises as it always
        does."""
        plan = self._increment_plan()
        if plan is _NOTHING_TO_INCREMENT:
            return _no_state_step
        general = partial(self._increment_stream_state, context=None)
        return general if plan is None else plan.record_step(general)

    def _increment_plan(self) -> _IncrementPlan | None:
        """How the SDK's ``_increment_stream_state`` (singer-sdk 0.54.9, pinned) advances this stream's state in the
        plain loop, where neither the stream nor its state manager changes it: ``_NOTHING_TO_INCREMENT`` for a
        stream that is not incremental, else the state dict it writes and its switches. None: only the SDK's own
        increment can say (an override, another state manager, an incremental stream without a key)."""
        manager = self.state_manager
        overridden = type(self)._increment_stream_state is not Stream._increment_stream_state
        if (overridden and not self.increment_only_drops_nulls) or type(manager) is not StreamStateManager:
            return None
        if self.replication_method != REPLICATION_INCREMENTAL:
            return _NOTHING_TO_INCREMENT  # the SDK's increment advances nothing
        rk = self.replication_key
        if not rk:
            return None  # the SDK raises for an incremental stream without a key
        return _IncrementPlan(
            state=manager.get_context_state(None),  # the one dict the SDK writes while this stream syncs
            key=rk,
            is_sorted=bool(manager._is_sorted and manager.state_partitioning_keys is None),
            check_sorted=bool(manager._check_sorted),
        )

    # -- read-ahead (issue 14 goal 5): the next page is requested while this page's records are emitted --------

    #: Request page n+1 on a worker thread while page n's records are emitted (``xlr8_kit.http.readahead``). Only
    #: for streams whose paginator takes the next page from the response alone (a next link, a cursor, an offset),
    #: never from what the record loop does with the records.
    read_ahead_pages: t.ClassVar[bool] = False

    @property
    def _reads_pages_ahead(self) -> bool:
        """True when the kit's ``request_records`` reads pages (ahead), not the SDK's record by record."""
        return self.read_ahead_pages and type(self).prepare_request is RESTStream.prepare_request

    def request_records(self, context: t.Any) -> t.Iterable[dict[str, t.Any]]:
        if not self._reads_pages_ahead:
            yield from super().request_records(context)
            return
        yield from records_of_pages(self.request_record_pages(context))

    def request_record_pages(self, context: t.Any) -> t.Generator[list[dict[str, t.Any]], None, None]:
        """The pages ``request_records`` reads ahead (``read_ahead_pages``), each handed over with the stream's marks
        set for it: from a ``MarkedPage``, its own; from any other page, the stream's (a marked page before it says
        nothing about it). The marks are set back when the pages stop."""
        from singer_sdk.pagination import SinglePagePaginator

        from xlr8_kit.http.readahead import read_ahead
        from xlr8_kit.http.window import PredictsNextPage

        paginator = self.get_new_paginator() or SinglePagePaginator()
        width = self.page_window_width
        if width > 1 and isinstance(paginator, PredictsNextPage) and self.primary_keys:
            pages = self._request_pages_windowed(context, paginator, width)
        else:
            pages = read_ahead(self._request_pages(context, paginator), name=f"xlr8-{self.name}")
        yield from self._marked_pages(pages)

    def _marked_pages(self, pages: t.Iterable[list[dict[str, t.Any]]]) -> t.Iterator[list[dict[str, t.Any]]]:
        """Each page, handed over with the marks a ``MarkedPage`` carries set (a page that is not one: the stream's
        own marks), and reset when the pages stop (every reader of pages: the window, read-ahead, Oracle's ranges)."""
        return self.handed_pages(
            (records, records.conformed, records.plain) if type(records) is MarkedPage else (records, False, None)
            for records in pages
        )

    def handed_pages(self, pages: t.Iterable[tuple[_Page, bool, bool | None]]) -> t.Generator[_Page, None, None]:
        """Each page, handed over with its marks set before it (the one hand-off of pages to the plain loop):
        ``conformed`` as ``Conformer.vouched``; ``plain`` as ``records_plain`` and ``Conformer.vouched_plain``, or
        None for the stream's own ``records_plain``. Reset when the pages stop (``finally``)."""
        conformer = self._conformer
        stated_plain = self.records_plain
        try:
            for records, conformed, plain in pages:
                # set here, where the loop reads them, before the page's records
                conformer.vouched = conformed
                if plain is None:
                    self.records_plain = stated_plain
                else:
                    self.records_plain = conformer.vouched_plain = plain
                yield records
        finally:
            self.records_plain = stated_plain
            conformer.vouched = False
            conformer.vouched_plain = True

    def _request_pages(self, context: t.Any, paginator: t.Any = None) -> t.Iterator[list[dict[str, t.Any]]]:
        """The SDK's ``RESTStream.request_records`` (singer-sdk 0.54.9, pinned) yielding parsed pages instead of
        records. Requests, retries, costs and paginator steps are the same and happen in the same order: the
        paginator advances past page n only when page n+1 is asked for, so its errors surface after page n's
        records, as in the SDK."""
        from singer_sdk.pagination import SinglePagePaginator

        if paginator is None:
            paginator = self.get_new_paginator() or SinglePagePaginator()
        decorated_request = self.request_decorator(self._request)
        pages = 0
        with self.get_http_request_counter() as request_counter:
            request_counter.with_context(context)
            while not paginator.finished:
                prepared_request = self._prepare_request(context=context, page=paginator)
                resp = decorated_request(prepared_request, context)
                request_counter.increment()
                self.update_sync_costs(prepared_request, resp, context)
                records = self._parsed_page(resp)
                if not records:
                    if paginator.continue_if_empty(resp):
                        paginator.advance(resp)
                        continue
                    self.log(
                        "Pagination stopped after %d pages because no records were found in the last response", pages
                    )
                    break
                yield records
                pages += 1
                paginator.advance(resp)

    # -- a window of page requests (issue 14 goal 5): several pages in flight when the next request is known ------

    @property
    def page_window_width(self) -> int:
        """Page requests this stream keeps in flight (the ``max_concurrent_requests`` setting; 1 = one page read
        ahead). Used only where the paginator predicts its next token (``xlr8_kit.http.window``)."""
        value = self._kit_tap.resolved_config.get(MAX_CONCURRENT_REQUESTS_KEY)
        return self._kit_tap.default_concurrent_requests if value is None else int(value)

    #: True while a windowed read asks for the collection's count on every page (``xlr8_kit.http.window.
    #: CountsPages``): a stream whose count is a request parameter (Oracle's ``totalResults=true``) adds it to every
    #: page's request then, not only to the first page's.
    counting_pages: bool = False

    def _token_pages(self, context: t.Any) -> _TokenPages:
        """Fetch, count and cost "the page at this token" for a reader that asks for pages ahead (``_TokenPages``)."""
        return _TokenPages(self, context)

    def _request_pages_windowed(
        self, context: t.Any, paginator: t.Any, width: int
    ) -> t.Iterator[list[dict[str, t.Any]]]:
        """``_request_pages`` with up to ``width`` page requests in flight (``OrderedFetches``).

        Requests are prepared here, in page order, from the tokens the paginator predicts (``predict_next``);
        worker threads send and parse them. The first page goes out alone (a stream that fits in one page costs
        one request, as before); once it is answered and more are due, the window fills. Pages are settled here
        in order exactly as ``_request_pages`` does (request counter, sync costs, empty-page rule,
        ``paginator.advance``); when the paginator ends, pages asked for past the end are discarded unseen.

        A paginator that counts (``CountsPages``): every page asks for the collection's count, and each page must
        report the count of the anchor (the first page, later the last page whose count moved). A page whose
        count moved, or that starts with a row of the page before (``ShiftWatch``), is emitted (it was answered
        after the anchor and after every page before it that matched the anchor, as reading in turn would have
        read it); the pages asked for after it are dropped unseen and asked for again, checked against its count.
        A page without a usable count, or more than ``MAX_RECOUNTS`` moved counts, ends the window: the rest is
        read one page ahead.
        A paginator that does not count: rows moved between pages drop the guesses and the rest is read one page
        ahead (an insert inside a page answered late is not seen).
        Either way, a real next token that differs from the one asked ahead (a short page with more to come)
        drops the guesses and the rest is read one page ahead. A page that fails raises after every page before
        it was handed out; nothing after it is asked for once the failure is seen."""
        from xlr8_kit.http.window import UNKNOWN, CountAnchor, CountsPages, OrderedFetches, ShiftWatch, Verdict, row_key

        pages_at = self._token_pages(context)
        shifts = ShiftWatch(row_key(tuple(self.primary_keys or ())))
        counted = isinstance(paginator, CountsPages)
        self.counting_pages = counted
        anchor = CountAnchor()

        def fetch(asked: tuple[t.Any, requests.PreparedRequest]) -> tuple[requests.Response, list[dict[str, t.Any]]]:
            return pages_at.send(asked[1])

        def ask(window: OrderedFetches[t.Any, t.Any], token: t.Any) -> bool:
            return window.submit((token, pages_at.prepare(token)))  # prepared here, in page order

        one_ahead = False
        pages = answered = 0
        with (
            self.get_http_request_counter() as request_counter,
            OrderedFetches(fetch, width, name=f"xlr8-{self.name}") as window,
        ):
            request_counter.with_context(context)
            while not paginator.finished:
                if not window:
                    ask(window, paginator.current_value)
                while answered and not window.full:  # the first page alone until it proves not to be the last
                    token = paginator.predict_next(window.last_key()[0])
                    try:
                        if token is UNKNOWN or not ask(window, token):
                            break
                    except Exception:  # noqa: BLE001 - a page that cannot be asked for yet fails in turn, when due
                        break
                (_, prepared_request), (resp, records) = window.take()
                first = not answered
                answered += 1
                moved = shifts.moved(records)
                pages_at.settle(request_counter, prepared_request, resp)
                deferred: Exception | None = None
                if not records:
                    if not paginator.continue_if_empty(resp):
                        self.log(
                            "Pagination stopped after %d pages because no records were found in the last response",
                            pages,
                        )
                        return
                    paginator.advance(resp)
                else:
                    try:
                        paginator.advance(resp)
                    except Exception as exc:  # noqa: BLE001 - raised after this page's records, as in the SDK loop
                        deferred = exc
                if counted:
                    planned = anchor.planned
                    count = paginator.page_count(resp)
                    verdict = anchor.check(count, first=first, moved=moved, in_flight=bool(window))
                    if verdict is not Verdict.KEEP and count is not None and window:
                        # Rows were inserted or deleted since the anchor's answer: the pages asked for after this
                        # one may have been answered before or after it. Asked for again, after it.
                        self.logger.info(
                            "%s: the collection changed while paging (count %s, then %s); asking again for the "
                            "pages after this one",
                            self.name, planned, count,
                        )  # fmt: skip
                        window.discard()
                    one_ahead = verdict is Verdict.SERIAL  # no count to check against, or changing all the time
                if deferred is None and not paginator.finished and window:
                    # Asked ahead for pages the server will not send next (a short page with more to come), or
                    # for pages answered around a change of the collection the paginator cannot count: throw the
                    # guesses away and read the rest one page ahead from the paginator's real token.
                    changed = moved and not counted
                    one_ahead = one_ahead or changed or window.first_key()[0] != paginator.current_value
                if one_ahead:
                    window.discard()
                if records:
                    yield records
                    pages += 1
                if deferred is not None:
                    raise deferred
                if one_ahead:
                    break
        if one_ahead and not paginator.finished:
            from xlr8_kit.http.readahead import read_ahead

            self.counting_pages = False
            self.logger.info(
                "%s: a page was shorter than asked, came without a count, or rows moved while paging; reading the "
                "rest one page ahead",
                self.name,
            )
            yield from read_ahead(self._request_pages(context, paginator), name=f"xlr8-{self.name}")

    def _parsed_page(self, response: requests.Response) -> list[dict[str, t.Any]]:
        """``parse_response``'s records as a list (a ``MarkedPage`` kept as it is)."""
        records = self.parse_response(response)
        return records if type(records) is MarkedPage else list(records)

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """The SDK's parse (records at ``records_jsonpath``, fractions as Decimal) with a faster JSON decoder; for
        ``$.name[*]`` an answer without that list is an error naming the stream, not "no rows" (``listed_records``)."""
        yield from listed_records(self.records_jsonpath, loads_exact(response.content), f"{self.name} ({self.path})")

    @cached_property
    def _selects_every_property(self) -> bool:
        """True when the catalog deselects nothing: the SDK's per-record projection would then remove nothing."""
        return all(self.mask.values())

    @property
    def _conformer(self) -> Conformer:
        """The SDK's type conformance compiled for the schema in force (rebuilt if the schema object changes)."""
        schema = self.effective_schema
        cached: Conformer | None = self.__dict__.get("_xlr8_conformer")
        if cached is None or not cached.serves(schema, self.TYPE_CONFORMANCE_LEVEL):
            cached = Conformer(self.name, schema, self.TYPE_CONFORMANCE_LEVEL, self.logger)
            self.__dict__["_xlr8_conformer"] = cached
        return cached

    def _generate_record_messages(self, record: dict[str, t.Any]) -> t.Generator[t.Any, None, None]:
        """The SDK's record messages; with every property selected, without its per-record projection walk.

        Mirrors ``singer_sdk.streams.core.Stream._generate_record_messages`` (singer-sdk 0.54.9, pinned)."""
        if not self._selects_every_property:
            yield from super()._generate_record_messages(record)
            return
        record = self._conformer(record)
        for stream_map in self.stream_maps:
            mapped_record = stream_map.transform(record)
            if mapped_record is not None:
                yield RecordMessage(
                    stream=stream_map.stream_alias,
                    record=mapped_record,
                    version=self._stream_version,
                    time_extracted=utc_now(),
                )


#: The collector's youngest-generation threshold while a plain loop streams records (CPython's default is 700):
#: above the containers the pages in flight hold at once, so most of a page is freed before the collector walks it
#: (at 700 every record dict was walked several times as it aged, about a tenth of the loop's time). A window of
#: ranged reads holds several parsed pages at once (Salesforce REST Account: about 10 of 2,000 records): at 20,000
#: the collector still walked each live record's every value 5-7 times a run (7-25% of its wall time, the GIL held).
LOOP_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def _record_loop_gc() -> t.Iterator[None]:
    """The collector as a record loop wants it, handed back afterwards: the objects alive when the loop starts
    (modules, catalog, schemas: most of the heap) left out of its passes (``gc.freeze``), and its youngest
    generation collected every ``LOOP_GC_THRESHOLD`` containers instead of 700. A page of records alive at once
    outlives the youngest generation, and each full pass over the whole heap it then triggers cost the loop about
    a tenth of its time. A heap someone else froze stays as they left it; a threshold of 0 (collection off) too."""
    threshold = gc.get_threshold()
    if threshold[0]:
        gc.set_threshold(max(threshold[0], LOOP_GC_THRESHOLD), *threshold[1:])
    freeze = not gc.get_freeze_count()
    if freeze:
        gc.freeze()
    try:
        yield
    finally:
        if freeze:
            gc.unfreeze()
        gc.set_threshold(*threshold)
