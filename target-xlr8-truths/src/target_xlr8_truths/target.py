"""target-xlr8-truths: lands Singer streams as Reality and Configuration truths in the XLR8 engine's store."""

from __future__ import annotations

import atexit
import contextlib
import copy
import datetime as dt
import functools
import hashlib
import json
import os
import re
import shlex
import signal
import sys
import typing as t
import uuid
import weakref
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import click
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError, InvalidInputLine
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.mapper import RemoveRecordTransform, SameRecordTransform
from singer_sdk.singerlib.encoding.simple import SimpleSingerReader
from singer_sdk.target_base import Target

from target_xlr8_truths.extras import MissingExtraError, import_psycopg
from target_xlr8_truths.layout import KEYS_TABLE
from target_xlr8_truths.naming import ProjectIdError, TableNames, normalise_project, quote, snake_case, stream_owner
from target_xlr8_truths.privacy import PrivacyError, PrivacySettings
from target_xlr8_truths.sinks import DeadLetterCeilingError, TruthsSink
from target_xlr8_truths.spool import Spool, SpoolError
from target_xlr8_truths.store import RowLines, RunContext, Store, StreamInfo
from xlr8_kit.batch_files import BatchFileRefused, BatchLocations, hold_for_readers, remove_stale_under
from xlr8_kit.exits import with_one_line_errors
from xlr8_kit.load_method import UPSERT, load_method_property, refuse_other_load_methods
from xlr8_kit.read_start import aware_instant
from xlr8_kit.redaction import Redactor
from xlr8_kit.singer_io import loads_exact
from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM

DELIVERIES = ("duckdb", "postgres", "upload")
KEY_CHANGE_POLICIES = ("fail", "new_table_version")
#: Meltano puts the extractor's name in the loader's environment during ``meltano run``.
MELTANO_EXTRACTOR_ENV = "MELTANO_EXTRACTOR_NAME"
UNNAMED_SOURCE = "singer"
#: The pool while BATCH files load (``duckdb_batch_memory_limit``), by default 128MB (above ``duckdb_memory_limit``'s
#: 96MB, which record batches use, so BATCH loads keep the pool they had before that default was lowered): at
#: 160MB a load over a table that already holds the rows (every run after the first) peaked at 289-291 MB at 200,000
#: Account-width records against 258-261 MB at 128MB (scratch harness; ``target_replay.py --over``: 270-272 against
#: 240-243). The CPU cost is not settled: 0.99-1.01 per pair with one build, 1.05-1.09 in a build A/B run beside
#: other loads (bench/README, session 21 peak21). A larger pool is used only when it is larger than
#: ``duckdb_memory_limit``; record batches always keep that one.
DEFAULT_BATCH_MEMORY_LIMIT = "128MB"
_MEMORY = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)\s*")
#: Every unit DuckDB's memory settings accept (its short and long forms), in bytes.
_MEMORY_UNITS = {
    "b": 1, "byte": 1, "bytes": 1,
    "k": 10**3, "kb": 10**3, "kilobyte": 10**3, "kilobytes": 10**3, "kib": 2**10,
    "m": 10**6, "mb": 10**6, "megabyte": 10**6, "megabytes": 10**6, "mib": 2**20,
    "g": 10**9, "gb": 10**9, "gigabyte": 10**9, "gigabytes": 10**9, "gib": 2**30,
    "t": 10**12, "tb": 10**12, "terabyte": 10**12, "terabytes": 10**12, "tib": 2**40,
}  # fmt: skip


def memory_bytes(text: str) -> int | None:
    """Bytes of a DuckDB memory size ("128MB", "1.5 GiB"); None for any other form DuckDB accepts (a percentage)."""
    match = _MEMORY.fullmatch(text.lower())
    if match is None or match.group(2) not in _MEMORY_UNITS:
        return None
    return int(float(match.group(1)) * _MEMORY_UNITS[match.group(2)])


def batch_pool(memory_limit: str, batch_memory_limit: str) -> str:
    """The pool BATCH files load in: ``duckdb_batch_memory_limit`` when it is larger than ``duckdb_memory_limit``,
    which otherwise serves both (a pool raised for a large machine is never lowered for BATCH loads)."""
    base, batch = memory_bytes(memory_limit), memory_bytes(batch_memory_limit)
    return batch_memory_limit if base is not None and batch is not None and batch > base else memory_limit


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode("utf-8", "replace")).hexdigest()[:12]


#: How long a failed run reads the BATCH messages already waiting in stdin (``_waiting_batch_files``), at most.
WAITING_INPUT_SECONDS = 5.0


def _waiting_batch_files(source: t.IO[str], seconds: float = WAITING_INPUT_SECONDS) -> list[tuple[str, str]]:
    """(url, stream) of each file named by a BATCH message already in ``source`` (stdin), read without waiting for
    more (a failed run: the tap may go on writing, or never close the pipe), for ``seconds`` at most."""
    import fcntl
    import time

    found: list[tuple[str, str]] = []
    try:
        fd = source.fileno()
        flags = fcntl.fcntl(fd, fcntl.F_GETFL)
        if os.isatty(fd):
            return found
        fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    except (OSError, ValueError, AttributeError):  # closed, or not a file (an embedding caller's input)
        return found
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                line = source.readline()
            except (OSError, ValueError, UnicodeDecodeError, TypeError):
                break
            if not line.endswith("\n"):  # nothing waiting (or half a line: its file stays)
                break
            if '"BATCH"' not in line:
                continue
            try:
                message = loads_exact(line)
                manifest = message["manifest"] if message.get("type") == "BATCH" else []
                found += [(str(url), str(message.get("stream"))) for url in manifest]
            except Exception:  # noqa: BLE001, S112 - a line that is no BATCH message names no file
                continue
    finally:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETFL, flags)  # the descriptor may be shared with the process that started us
    return found


def _batch_files_at_exit(target: weakref.ref[TargetXlr8Truths]) -> None:
    """``TargetXlr8Truths.batch_files_at_exit`` of a target still alive at exit (an embedded one may be gone)."""
    alive = target()
    if alive is not None:
        alive.batch_files_at_exit()


class RedactingSingerReader(SimpleSingerReader):
    """Bad input lines are reported by length and hash, never by content (they may hold secrets or PII)."""

    #: The input being read (``TargetXlr8Truths.batch_files_at_exit`` reads what is left of it after a failure).
    source: t.IO[str] | None = None

    def process_lines(self, file_input: t.IO[str] | None, callbacks: dict[str, t.Callable[[dict], None]]) -> t.Any:
        self.source = file_input if file_input is not None else self.default_input
        return super().process_lines(file_input, callbacks)

    def deserialize_json(self, line: str) -> dict:
        try:
            return loads_exact(line)  # msgspec; the standard library's json for what it refuses (NaN, bad input)
        except RecursionError:
            raise InvalidInputLine(
                f"input line is nested too deeply to parse ({len(line)} chars, sha256 {_digest(line)})"
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidInputLine(
                f"input line is not valid JSON ({len(line)} chars, sha256 {_digest(line)}, error at column {exc.colno})"
            ) from None

    @staticmethod
    def assert_line_requires(line_dict: dict, requires: set[str]) -> None:
        missing = sorted(requires - set(line_dict))
        if missing:
            kind = line_dict.get("type", "unknown")
            raise InvalidInputLine(f"{kind} message is missing required key(s): {', '.join(missing)}")

    def _process_unknown_message(self, message_dict: dict) -> None:
        raise InvalidInputLine(f"unknown Singer message type {str(message_dict.get('type'))[:40]!r}")


class KeyChangeError(RuntimeError):
    """A stream's key properties changed and ``key_change_policy`` is 'fail'."""


class ClockAheadError(RuntimeError):
    """A sets-read announcement's ``read_start`` is later than this target's clock (the tap host's clock is ahead)."""


class TargetXlr8Truths(Target):
    """Lands Singer streams as Reality and Configuration truths in the XLR8 Intelligence Engine's store."""

    name = "target-xlr8-truths"
    package_name = "xlr8-target-truths"  # --about reports this distribution's version
    default_sink_class = TruthsSink
    message_reader_class = RedactingSingerReader

    capabilities: t.ClassVar[list] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.BATCH,
        PluginCapabilities.ACTIVATE_VERSION,
        TargetCapabilities.VALIDATE_RECORDS,
        TargetCapabilities.HARD_DELETE,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "project_id",
            th.StringType,
            required=True,
            description="UUID of the engine project the truths belong to; tables are prefixed with its first 8 hex "
            "characters.",
        ),
        th.Property(
            "delivery",
            th.StringType,
            default="duckdb",
            allowed_values=list(DELIVERIES),
            description="duckdb (embedded file), postgres (schema on a PostgreSQL server) or upload (a running "
            "engine's /api/upload).",
        ),
        th.Property("duckdb_path", th.StringType, default=".xlr8/truths.duckdb", description="DuckDB store file."),
        th.Property(
            "postgres_dsn",
            th.StringType,
            secret=True,
            description="PostgreSQL connection string (delivery=postgres).",
        ),
        th.Property(
            "duckdb_memory_limit",
            th.StringType,
            default="96MB",
            description="DuckDB buffer pool limit (record batches; BATCH files use duckdb_batch_memory_limit when "
            "larger); larger work spills to disk. Record batches upserting 1M Account-width records over a table "
            "that holds them peak 228-235 MB at 96MB (262-318 MB at 128MB); raise it on a large machine.",
        ),
        th.Property(
            "duckdb_batch_memory_limit",
            th.StringType,
            default=DEFAULT_BATCH_MEMORY_LIMIT,
            description="DuckDB buffer pool while BATCH files load, when larger than duckdb_memory_limit (record "
            "batches keep that one: their rows are buffered in Python besides). At 128MB a load of 200,000 "
            "Account-width records over a table that already holds them peaked 240-261 MB; 160MB reached 270-291 MB "
            "there.",
        ),
        th.Property("postgres_schema", th.StringType, default="xlr8", description="PostgreSQL schema for the store."),
        th.Property("upload_url", th.StringType, description="Base URL of the running engine (delivery=upload)."),
        th.Property("upload_api_key", th.StringType, secret=True, description="API key for the engine's upload API."),
        th.Property(
            "upload_staging_path",
            th.StringType,
            default=".xlr8/upload-staging.duckdb",
            description="Local DuckDB file where streams are assembled before upload.",
        ),
        th.Property("upload_timeout", th.NumberType, default=600, description="Seconds to wait for an upload job."),
        th.Property("upload_poll_interval", th.NumberType, default=2, description="Seconds between status polls."),
        th.Property(
            "dead_letter_ceiling",
            th.IntegerType,
            default=100,
            description="Most records a run may dead-letter before it fails (0 = fail on the first).",
        ),
        load_method_property(
            UPSERT,
            "a row replaces the stored row of its key, keyless rows are added, a full-table stream's "
            "ACTIVATE_VERSION retires rows its read did not see",
        ),
        th.Property(
            "hard_delete",
            th.BooleanType,
            default=False,
            description="Remove deleted and superseded rows instead of setting _sdc_deleted_at on them.",
        ),
        th.Property(
            "batch_locations",
            th.ArrayType(th.StringType),
            description="Directories BATCH messages may name files in (the tap's batch_config storage root); files "
            "elsewhere are refused. Files the tap wrote during this run are deleted once loaded, and when the run "
            "fails (those of the BATCH messages received or waiting in the input), others are kept.",
        ),
        th.Property(
            "spool_dir",
            th.StringType,
            description="Private (0700) directory for the files a batch needs for a moment; default: 'truths-spool' "
            "beside the DuckDB file (.xlr8/truths-spool for postgres). Leftovers of killed runs are removed at start.",
        ),
        th.Property(
            "key_change_policy",
            th.StringType,
            default="fail",
            allowed_values=list(KEY_CHANGE_POLICIES),
            description="When a stream's key properties differ from those its table was loaded with: 'fail' (stop "
            "before loading anything under the new key) or 'new_table_version' (rename the table to "
            "{table}__v{version} and load the stream into a new table under its name).",
        ),
        th.Property(
            "source_name",
            th.StringType,
            description="The tap the data comes from (default: $MELTANO_EXTRACTOR_NAME under `meltano run`, else "
            "'singer'). Streams without an x-xlr8 annotation land as {p8}_{source_name}_{stream}, so the same stream "
            "name from two taps lands in two tables.",
        ),
        th.Property(
            "source_instance",
            th.StringType,
            description="Which tenant/instance of the product the data came from (recorded in the ledger).",
        ),
        th.Property(
            "pii_key_file",
            th.StringType,
            description="The engine's AES-256 key file (its default is /data/.encryption_key_v2): PII columns are "
            "encrypted with it in the engine's ENC256 format. Without a key, PII columns stop the run unless "
            "pii_policy says hash/drop/keep. One key per project and store: the first protected write records its "
            "check value (_truths_keys), and a run with another key stops before writing.",
        ),
        th.Property(
            "pii_key_create",
            th.BooleanType,
            default=False,
            description="Create pii_key_file (random key, mode 0600) when it does not exist: for sandboxes and "
            "demos only; production points pii_key_file at the engine's key.",
        ),
        th.Property(
            "pii_key_credential_id",
            th.StringType,
            description="Instead of pii_key_file: a credential in the xlr8 credential store whose field 'pii_key' "
            "holds the key (credential_store names the store).",
        ),
        th.Property(
            "credential_store",
            th.StringType,
            description="Credential store location for pii_key_credential_id (default .xlr8/credentials.db).",
        ),
        th.Property(
            "pii_policy",
            th.ObjectType(
                th.Property("default", th.StringType, allowed_values=["encrypt", "hash", "drop", "keep"]),
                th.Property("fields", th.ObjectType(additional_properties=th.StringType)),
                th.Property("columns", th.ObjectType(additional_properties=th.StringType)),
            ),
            description="Per-project PII policy: default action and per canonical field / column regex actions "
            "(encrypt, hash, drop, keep). A landed column keeps its action: a run that would change it stops.",
        ),
        th.Property("pii_policy_file", th.StringType, description="The PII policy as a JSON or YAML file."),
        th.Property(
            "retention_days",
            th.IntegerType,
            description="Keep superseded and soft-deleted rows this many days (xlr8 truths purge, or each run with "
            "retention_purge_on_run).",
        ),
        th.Property(
            "retention_versions",
            th.IntegerType,
            description="Keep superseded rows of the newest N table versions (full-table streams).",
        ),
        th.Property(
            "retention_purge_on_run",
            th.BooleanType,
            default=False,
            description="Purge by retention_days/retention_versions at the end of every run.",
        ),
        th.Property(
            "profile_interval_seconds",
            th.NumberType,
            default=300,
            description="Refresh column profiles inside batch transactions at most this often (always at run end).",
        ),
    ).to_dict()

    @classmethod
    def get_singer_command(cls) -> click.Command:
        """Fatal errors as one line naming the setting, stream or file; the traceback at DEBUG."""
        return with_one_line_errors(super().get_singer_command(), cls.logger)

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # one connection, one transaction at a time
        self.redactor = Redactor.default()
        for secret in ("postgres_dsn", "upload_api_key"):
            self.redactor.add(self.config.get(secret))
        self.redactor.install_logging_filter()  # every log line and traceback of the process is masked
        try:
            self.project = normalise_project(str(self.config.get("project_id", "")))
        except ProjectIdError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
        self.project_id = self.project
        refuse_other_load_methods(
            self.config, UPSERT,
            "a key's rows replace each other and full-table streams replace their rows through ACTIVATE_VERSION",
        )  # fmt: skip
        delivery = self.config.get("delivery", "duckdb")
        for needed, mode in (("postgres_dsn", "postgres"), ("upload_url", "upload")):
            if delivery == mode and not self.config.get(needed):
                message = f"setting '{needed}' is required when delivery is '{mode}'"
                raise ConfigValidationError(message, errors=[message])
        if delivery == "postgres":
            try:
                import_psycopg()  # fail at start, before any record is read
            except MissingExtraError as exc:
                raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
        self.run = RunContext(
            project=self.project,
            project_id=self.project,
            run_id=str(uuid.uuid4()),
            instance=self.config.get("source_instance"),
            started_at=dt.datetime.now(dt.UTC),
        )
        try:
            self.privacy = PrivacySettings.from_config(self.config)
        except PrivacyError as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
        if self.config.get("retention_purge_on_run") and not (
            self.config.get("retention_days") is not None or self.config.get("retention_versions") is not None
        ):
            message = "setting 'retention_purge_on_run' needs 'retention_days' and/or 'retention_versions'"
            raise ConfigValidationError(message, errors=[message])
        batch_memory = str(self.config.get("duckdb_batch_memory_limit", DEFAULT_BATCH_MEMORY_LIMIT))
        if memory_bytes(batch_memory) is None:
            message = (
                f"setting 'duckdb_batch_memory_limit': {batch_memory[:40]!r} is not a size such as '160MB' or '1GB'"
            )
            raise ConfigValidationError(message, errors=[message])
        self._batch_memory = batch_memory
        self._store: Store | None = None
        self.source = str(self.config.get("source_name") or os.environ.get(MELTANO_EXTRACTOR_ENV) or UNNAMED_SOURCE)
        try:
            self.batch_locations = BatchLocations.from_config(self.config)
        except BatchFileRefused as exc:
            raise ConfigValidationError(str(exc), errors=[str(exc)]) from None
        # held (shared flock) while this runs: `xlr8 batches clean` skips them, so the files still ahead in this
        # run's input stay whatever their age and writer (review27c H1)
        hold_for_readers(self.batch_locations.roots)
        ended: list[Path] = []
        stale = remove_stale_under(self.batch_locations.roots, ended)  # killed runs' partial files: no one loads them
        if stale:
            self.logger.info("Removed %d BATCH file(s) left in batch_locations by killed runs", stale)
        if ended:  # kept (a later target may be sent them), but records in clear: the operator is told how to go on
            ended = sorted(set(ended))  # a folder under two batch_locations is scanned twice
            folders = " ".join(sorted({shlex.quote(str(p.parent)) for p in ended}))
            self.logger.warning(
                "%d complete BATCH file(s) of runs that ended are kept in batch_locations (records in clear; this "
                "or a later target may still be sent them). Once no run will, `xlr8 batches clean --older-than <age> "
                "--dry-run %s` lists (without --dry-run removes) the kit's files last written before <age> whose "
                "writer and its parent are gone and that no process has open at that moment; folders a running "
                "target or mapper reads from are skipped",
                len(ended), folders,
            )  # fmt: skip
        try:
            self.spool = Spool(self._spool_root())
        except (SpoolError, OSError) as exc:
            message = f"setting 'spool_dir': {exc}"
            raise ConfigValidationError(message, errors=[message]) from None
        if self.spool.removed_stale:
            self.logger.info("Removed %d spool directories left by killed runs", self.spool.removed_stale)
        self.tables = TableNames(self.project, lambda table: self.store.table_owner(table))
        self._streams: dict[str, StreamInfo] = {}
        self._keys_by_table: dict[str, list[str]] = {}
        self.received: Counter[str] = Counter()
        self.loaded: Counter[str] = Counter()
        #: Rows of re-read sets (``replace_by``) marked deleted or deleted, per stream.
        self.replaced: Counter[str] = Counter()
        self.dead_lettered: Counter[str] = Counter()
        #: Per stream, the sets (``replace_by`` values as stored) of its records dead-lettered in this run: no
        #: announcement of sets read whole takes them as empty. A stream in ``dead_sets_unknown`` had a dead letter
        #: whose set could not be told (a value that does not convert): its announcements delete nothing this run.
        self.dead_sets: defaultdict[str, set[tuple[t.Any, ...]]] = defaultdict(set)
        self.dead_sets_unknown: set[str] = set()
        #: Per stream, how records and BATCH files were loaded (compiled / exact path, DuckDB / record by record).
        self.paths: defaultdict[str, Counter[str]] = defaultdict(Counter)
        self._held_state: dict | None = None
        self._last_state: dict | None = None
        self._batch_committed = False  # a BATCH message committed since the last STATE relayed at its arrival
        self.busy = False  # inside a batch transaction
        self._stop_requested = False
        #: The termination signal that stopped the run, if one did (an embedding caller's read was cut short).
        self.stopped_by: int | None = None
        self._ending = False
        #: Files of BATCH messages received that this run may delete and has not yet (``hold_batch_files``).
        self._batch_files: set[Path] = set()
        self._key_checked = False  # ``check_pii_key`` passed
        #: Sets taps announced read whole (``SETS_READ_STREAM``) not applied yet: (stream, sets, the read's start or
        #: None), in arrival order.
        self._sets_read: list[tuple[str, dict[str, t.Any], dt.datetime | None]] = []
        self._said_dead_sets: set[str] = set()  # streams whose dead-lettered sets kept were logged
        atexit.register(_batch_files_at_exit, weakref.ref(self))

    def check_pii_key(self, stream: str) -> None:
        """Before a stream's first protected write: this run's PII key must be the one the project's protected
        columns were written with (the first such write records its check value). Another key (another machine's
        ``pii_key_create``, another ``$XLR8_PII_KEY_FILE``) gave the same person another ``HMAC256:`` key, so rows
        duplicated, and ciphertext the engine could open only in part (audit25e F10)."""
        if self._key_checked:
            return
        check = self.privacy.key_check()
        if self.store.pii_key_check(check) != check:
            setting = self.privacy.key_setting
            raise PrivacyError(
                f"stream {stream!r}: the PII key of setting '{setting}' is not the key project {self.project}'s "
                f"protected columns in this store were written with (its check value in {KEYS_TABLE} differs); "
                "a second key would duplicate every row keyed by a hashed column and leave ciphertext no single key "
                "opens. Point 'pii_key_file' or 'pii_key_credential_id' at the engine's key for this project. "
                "Nothing was written for this stream."
            )
        self._key_checked = True

    def check_pii_actions(self, info: StreamInfo, columns: list[str]) -> None:
        """Each stored column keeps the form its rows were written in: a PII action that changed (an edited
        ``pii_policy``, a gather's default ``encrypt`` over a pipeline's ``keep``) mixed clear text and ciphertext
        in one column, under metadata calling all of it one or the other (audit25e F14). Stops before the
        stream's first write, naming the columns, both actions and the settings. ``drop`` writes nothing: allowed."""
        stored = self.store.stored_pii_actions(info.table_name)
        if not stored:
            return

        def form(action: str | None) -> str:
            return "keep" if action in (None, "keep") else action

        changed = [
            f"{column} ({form(stored[column])} -> {form(info.pii_actions.get(column))})"
            for column in columns
            if column in stored
            and info.pii_actions.get(column) != "drop"
            and form(stored[column]) != form(info.pii_actions.get(column))
        ]
        if changed:
            raise PrivacyError(
                f"stream {info.stream!r}: column(s) {', '.join(changed)} of table {info.table_name} would change "
                "their PII action (setting 'pii_policy' / 'pii_policy_file'); the rows already landed keep the "
                "old form, so one column would hold both. Keep the action the table was written with, or move the "
                "table's rows aside (or remove them) to land it again under the new one. Nothing was written for "
                "this stream."
            )

    def hold_batch_files(self, paths: t.Iterable[Path]) -> None:
        """The files of a BATCH message just received that the tap wrote for this run: each is removed once it has
        committed (``TruthsSink.process_batch_files``), and whatever is left at exit, failure or not (audit25e F20:
        a failed run left them, plaintext PII, for good). None is needed again: the tap writes new files from the
        source on every run, and no STATE past a file goes out before the file has committed, so the rerun reads
        its records from the source again."""
        self._batch_files.update(path for path in paths if self.batch_locations.owned(path))

    def batch_files_at_exit(self) -> None:
        """At exit: the held files removed; after a failure (no end of pipe) first those of the BATCH messages
        already waiting in the input too, which the tap wrote before the target stopped and will not name again."""
        source = getattr(self.message_reader, "source", None)  # what the run reads
        if not self._ending and source is not None and self.batch_locations.roots:
            for url, stream in _waiting_batch_files(source):
                try:
                    self.hold_batch_files([self.batch_locations.readable(url, stream)])
                except BatchFileRefused:
                    continue  # not a file this run may touch
        self.remove_batch_files()

    def remove_batch_files(self, paths: t.Iterable[Path] | None = None) -> None:
        """Remove ``paths`` (by default every held file) of those ``hold_batch_files`` holds."""
        for path in list(self._batch_files if paths is None else paths):
            if path in self._batch_files:
                self._batch_files.discard(path)
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    self.logger.warning("BATCH file %s could not be removed (%s)", path, exc.strerror)

    def _spool_root(self) -> Path:
        if self.config.get("spool_dir"):
            return Path(str(self.config["spool_dir"]))
        delivery = self.config.get("delivery", "duckdb")
        local = {
            "duckdb": self.config.get("duckdb_path", ".xlr8/truths.duckdb"),
            "upload": self.config.get("upload_staging_path", ".xlr8/upload-staging.duckdb"),
        }.get(str(delivery), ".xlr8/truths.duckdb")
        return Path(str(local)).expanduser().parent / "truths-spool"

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = self._open_store()
            # closed at the end of pipe; after a fatal error at exit, as the interpreter's teardown did before the
            # command ended without one (``__main__``)
            atexit.register(self._store.close)
            self._store.ensure_layout()
            self._hash_old_dead_letter_keys(self._store)
        return self._store

    def _hash_old_dead_letter_keys(self, store: Store) -> None:
        """Dead letters written before a PII key column was kept hashed in ``record_key`` (audit25e F19) keep the
        value in clear: at the store's first open they are hashed with this run's key when it is the project's
        (its check value in the store), else a WARNING names the store and the command that does it."""
        from target_xlr8_truths.retention import letters_to_rekey_and_unfit, rekey_dead_letters

        found, unfit = letters_to_rekey_and_unfit(store)
        if unfit:  # review27c L3: never taken for clean
            self.logger.warning(
                "%d dead letter(s) of tables %s have a key that no longer fits the table's key (it changed) and may "
                "keep a PII value in clear: they cannot be re-keyed; if one holds a person's value, erase that "
                "person's letters (`xlr8 truths erase --person`)",
                sum(unfit.values()), ", ".join(sorted(unfit)),
            )  # fmt: skip
        if not found:
            return
        cipher = self.privacy.cipher
        recorded = store.fetchone(f"SELECT key_check FROM {KEYS_TABLE} WHERE project = ?", [self.run.project])  # noqa: S608
        if cipher is not None and recorded and str(recorded[0]) == self.privacy.key_check():
            changed = rekey_dead_letters(store, cipher.hash, found)
            self.logger.info(
                "Hashed the clear PII key values of %d older dead letter(s) (tables %s), as the tables keep them. "
                "The old values stay in the store's free blocks (PostgreSQL: old row versions, WAL) until "
                "`xlr8 truths rekey-dead-letters --project %s <store> --pii-key-file <key> --rewrite` rewrites a "
                "DuckDB file, or `VACUUM FULL _dead_letters` on PostgreSQL",
                changed, ", ".join(sorted(found)), self.run.project,
            )  # fmt: skip
            return
        if self.config.get("delivery", "duckdb") == "postgres":
            where = f"PostgreSQL schema {self.config.get('postgres_schema', 'xlr8')}"
            store_args = (
                "--postgres-dsn '<the DSN of setting postgres_dsn>' "
                f"--postgres-schema {self.config.get('postgres_schema', 'xlr8')}"
            )
        else:
            path = str(getattr(store, "path", None) or self.config.get("duckdb_path", ".xlr8/truths.duckdb"))
            where, store_args = path, f"--duckdb {shlex.quote(path)}"
        self.logger.warning(
            "%d dead-letter key(s) of tables %s in %s keep a PII key column's value in clear in record_key (written "
            "before dead letters kept it hashed as the table does). Hash them with the project's PII key: "
            "`xlr8 truths rekey-dead-letters --project %s %s --pii-key-file <the project's key file>`, or run this "
            "target with that key (pii_key_file / pii_key_credential_id)",
            sum(len(texts) for _, texts in found.values()), ", ".join(sorted(found)), where, self.run.project,
            store_args,
        )  # fmt: skip

    @functools.cached_property
    def rows_type(self) -> type[list[dict[str, t.Any]]] | type[RowLines]:
        """The chosen store's row buffer, known before the store is opened (it opens at the first drain)."""
        if self.config.get("delivery", "duckdb") == "postgres":
            return Store.rows_type  # PostgresStore's (importing it needs psycopg, checked when the store opens)
        from target_xlr8_truths.duckdb_store import DuckDBStore

        return DuckDBStore.rows_type

    def _open_store(self) -> Store:
        delivery = self.config.get("delivery", "duckdb")
        interval = float(self.config.get("profile_interval_seconds", 300))
        if delivery == "postgres":
            from target_xlr8_truths.postgres_store import PostgresStore

            return PostgresStore(
                self.config["postgres_dsn"], self.config.get("postgres_schema", "xlr8"), self.run, interval
            )
        from target_xlr8_truths.duckdb_store import DEFAULT_MEMORY_LIMIT, DuckDBStore

        path = self.config.get("duckdb_path", ".xlr8/truths.duckdb")
        if delivery == "upload":
            path = self.config.get("upload_staging_path", ".xlr8/upload-staging.duckdb")
        memory = str(self.config.get("duckdb_memory_limit", DEFAULT_MEMORY_LIMIT))
        batch = batch_pool(memory, self._batch_memory)
        return DuckDBStore(path, self.run, self.spool, interval, memory, batch)

    def _process_schema_message(self, message_dict: dict) -> None:
        """The stream of sets read whole (``SETS_READ_STREAM``) lands no table: its records are applied instead."""
        if message_dict.get("stream") == SETS_READ_STREAM:
            return
        super()._process_schema_message(message_dict)

    def _process_sets_read(self, message_dict: dict) -> None:
        """A tap's announcement of sets it read whole (``xlr8_kit.vocabulary.annotations``): held until no sink holds
        a record (the rows the run sent of those sets committed first), then applied (``_apply_sets_read``)."""
        record = message_dict.get("record")
        stream = record.get("stream") if isinstance(record, dict) else None
        sets = record.get("sets") if isinstance(record, dict) else None
        if not isinstance(stream, str) or not isinstance(sets, dict):
            raise InvalidInputLine(f"RECORD of stream {SETS_READ_STREAM} without a 'stream' text and a 'sets' object")
        for column, values in sets.items():
            if not isinstance(values, list):
                raise InvalidInputLine(
                    f"RECORD of stream {SETS_READ_STREAM} for stream {stream[:100]!r}: sets of {str(column)[:100]!r} "
                    "is not a list"
                )
        started = record.get("read_start") if isinstance(record, dict) else None
        read_start = aware_instant(started) if started is not None else None
        if started is not None and read_start is None:
            raise InvalidInputLine(
                f"RECORD of stream {SETS_READ_STREAM} for stream {stream[:100]!r}: read_start {str(started)[:40]!r} "
                "is not an ISO 8601 date-time"
            )
        self._sets_read.append((stream, sets, read_start))
        if self._settled():
            self._apply_sets_read()
            self.check_stop()

    def _settled(self) -> bool:
        """No sink holds a record that has not committed, and no transaction is open."""
        if self.busy:
            return False
        return not any(sink.current_size for sink in (*self._sinks_to_clear, *self._sinks_active.values()))

    def _mapped_names(self, stream: str) -> list[str]:
        """The streams an announcement for ``stream`` applies to here: the names this target's own ``stream_maps``
        give it (an ``__alias__`` is known, so followed; none when a map drops the stream), else ``stream``. A
        rename made before this target (a mapper plugin between tap and target) is not known: that name matches no
        SCHEMA here, and the announcement is ignored with a WARNING (``_apply_sets_read``)."""
        maps = self.mapper.stream_maps.get(stream)
        if not maps:
            return [stream]
        return [m.stream_alias for m in maps if not isinstance(m, RemoveRecordTransform)]

    def _apply_sets_read(self) -> None:
        """Marks deleted (``hard_delete``: deletes) the landed rows of the sets announced read whole that this run
        sent no row of: sets now empty in the source. Called once every record before them committed, before any
        STATE goes out (a STATE after an announcement never passes it unapplied). An announcement for a stream
        this run has no SCHEMA of, or whose SCHEMA names no ``replace_by`` (or other columns), is ignored, logged.
        A row extracted at or after the announcing read's start (``read_start``) stays: another run, whose read
        overlapped this one, landed it first (review26c M5).
        A set with a record dead-lettered this run (review26c H2) is not taken as empty: it was read, its rows
        refused, and its last good rows stay current until the dead letter is replayed; when a dead letter's set
        cannot be told (a set value that does not convert), no set of the stream is."""
        pending, self._sets_read = self._sets_read, []
        pending = [(name, sets, start) for stream, sets, start in pending for name in self._mapped_names(stream)]
        hard = bool(self.config.get("hard_delete", False))
        for stream, sets, read_start in pending:
            if stream in self.dead_sets_unknown:
                self.logger.warning(
                    "stream %s: sets read whole announced, but a record of the stream dead-lettered in this run has a "
                    "replace_by value that is null or does not convert (%d dead letter(s)): no set is taken as empty "
                    "(their rows stay until the dead letters are replayed)",
                    stream[:100], self.dead_lettered[stream],
                )  # fmt: skip
                continue
            info = self._streams.get(stream)
            wanted = info.replace_sources if info is not None else []
            if not wanted or set(sets) != set(wanted):
                self.logger.warning(
                    "stream %s: sets read whole announced for columns %s, but its SCHEMA names replace_by %s: ignored",
                    stream[:100], ", ".join(map(str, sets))[:200], ", ".join(wanted) or "none",
                )  # fmt: skip
                continue
            assert info is not None
            now = dt.datetime.now(dt.UTC)
            if (
                read_start is not None
                and read_start > now
                and "_sdc_extracted_at" in self.store.table_columns(info.table_name)
            ):
                # the read began before its announcement came: a start later than this clock says the tap's host
                # clock runs ahead of this host's, and every row stamp it is compared with may be off by as much
                # (review27f L7). Skipping the announcement lost it for good once the STATE after it moved the
                # bookmark past the read (review28d M1): the run stops before that STATE. A table without
                # ``_sdc_extracted_at`` never compares ``read_start`` (review28d L1): no stop there.
                raise ClockAheadError(
                    f"stream {stream[:100]}: sets read whole announced with read_start {read_start.isoformat()}, "
                    f"later than this target's clock ({now.isoformat()}): the tap host's clock runs ahead of this "
                    "host's, so which landed rows the read's sets left empty cannot be told. Synchronize the hosts' "
                    "clocks (NTP) and run again: the run stops before the STATE that follows, so the bookmark does "
                    "not move past this read and the rerun announces its sets again; what committed before stays."
                )
            by_column = {column: sets[source] for column, source in zip(info.replace_by, wanted, strict=True)}
            kept = sorted(self.dead_sets.get(stream, ()), key=repr)
            if kept and stream not in self._said_dead_sets:
                self._said_dead_sets.add(stream)
                self.logger.warning(
                    "stream %s: %d set(s) with records dead-lettered in this run are not taken as empty (their rows "
                    "stay until the dead letters are replayed)",
                    stream[:100], len(kept),
                )  # fmt: skip
            self.busy = True
            try:
                count = self.store.empty_sets(info, [by_column], hard, kept, read_start)
            finally:
                self.busy = False
            if count:
                self.replaced[stream] += count
                self.logger.info(
                    "stream %s: %d row(s) of sets now empty (read whole, no row sent; replace_by %s) %s",
                    stream, count, ", ".join(info.replace_by), "deleted" if hard else "marked deleted",
                )  # fmt: skip

    def _process_record_message(self, message_dict: dict) -> None:
        """The SDK's RECORD handling, without its per-record generic steps when nothing maps the stream: the sink
        converts the record on its compiled path (same rows, same dead letters)."""
        if message_dict.get("stream") == SETS_READ_STREAM:
            self._process_sets_read(message_dict)
            return
        maps = self.mapper.stream_maps.get(message_dict.get("stream"))  # type: ignore[arg-type]
        record = message_dict.get("record")
        if maps is not None and len(maps) == 1 and type(record) is dict:
            stream_map = maps[0]
            sink = self._sinks_active.get(stream_map.stream_alias)
            if (
                type(stream_map) is SameRecordTransform
                and not (stream_map.flattening_options and stream_map.flattening_enabled)
                and isinstance(sink, TruthsSink)
                and sink.compiled is not None
            ):
                sink.process_record_message(message_dict)
                self._handle_max_record_age()
                return
        super()._process_record_message(message_dict)

    def _process_batch_message(self, message_dict: dict) -> None:
        """BATCH files commit as they are read, but the SDK relays STATE only at a drain of all sinks (the end of
        the run, a full sink or the record age), so a kill mid-run made the rerun reload every file (a keyless
        stream twice). Once its files have committed, the latest STATE goes out as a drain would send it."""
        super()._process_batch_message(message_dict)
        self._batch_committed = True
        self._relay_state_if_settled()

    def _process_state_message(self, message_dict: dict) -> None:
        """A STATE that follows committed BATCH files goes out on arrival when no sink holds records (everything
        before it has committed), so it never waits for the next file. Only then does a checkpoint those files made
        due run (``Store.checkpoint_if_due``): a kill during it no longer loses their STATE."""
        super()._process_state_message(message_dict)
        if self._batch_committed and self._relay_state_if_settled():
            self._batch_committed = False
            # DuckDB runs Python's signal handlers while a statement runs: a SIGTERM during the CHECKPOINT waits for
            # it as for a batch transaction (shutting down on the busy connection ended the run with exit 1)
            self.busy = True
            try:
                self.store.checkpoint_if_due()
            finally:
                self.busy = False
            self.check_stop()

    def _relay_state_if_settled(self) -> bool:
        """Relays the latest STATE, as ``drain_all`` would after draining, when no sink holds a record that has not
        committed (a drain would have nothing to do); otherwise it waits for that drain."""
        if not self._latest_state or not self._settled():
            return False
        self._write_state_message(copy.deepcopy(self._latest_state))
        return True

    def _process_activate_version_message(self, message_dict: dict) -> None:
        stream = str(message_dict.get("stream"))
        if stream not in self.mapper.stream_maps:
            raise InvalidInputLine(f"ACTIVATE_VERSION for stream {stream[:100]!r} before any SCHEMA message for it")
        super()._process_activate_version_message(message_dict)

    # -- bookkeeping used by sinks -------------------------------------------------------------------------------
    def register_stream(self, info: StreamInfo) -> None:
        self._streams[info.stream] = info

    def adopt_unannotated_table(self, info: StreamInfo, formerly_unannotated: bool) -> None:
        """A stream whose tap once sent it without an ``x-xlr8`` annotation (the annotation says
        ``formerly_unannotated``) landed then under this run's source, ``{p8}_{source_name}_{stream}``. The first
        run that sees it annotated renames that table, with its metadata, to the product's name (``info``), so its
        rows stay with the stream instead of an empty table starting beside them. Nothing moves when the product's
        table exists already, or when the store holds no table of the stream under this run's source."""
        old_product = self.source
        if not formerly_unannotated or stream_owner(old_product, info.stream) == info.file_name:
            return
        store = self.store
        product_exists = store.table_owner(info.table_name) is not None or bool(store.table_columns(info.table_name))
        old = self.tables.stored_table(old_product, info.stream)
        if old is None or old == info.table_name or not store.table_columns(old):
            return
        if product_exists:
            # never silent: the old rows stay apart from the stream's history (tap upgraded before the target)
            left = int((store.fetchone(f"SELECT COUNT(*) FROM {quote(old)}") or (0,))[0])  # noqa: S608
            if left:
                self.logger.warning(
                    "stream %s: table %s (landed before the stream named its product) still holds %d rows and was "
                    "NOT moved, because %s exists already (the tap was upgraded before the target, or another "
                    "extractor took it). Merge them by key %s and drop %s (target README, 'Upgrading a stream to its "
                    "product'); upgrade the target before the tap",
                    info.stream,
                    old,
                    left,
                    info.table_name,
                    info.key_columns,
                    old,
                )
            return
        archives = store.adopt_table(old, info.table_name, info.file_name, info.product)
        self.logger.warning(
            "stream %s: table %s (landed before the stream named its product) renamed to %s, rows and metadata kept%s",
            info.stream,
            old,
            info.table_name,
            "".join(f"; its key-change archive {was} renamed to {now}" for was, now in archives),
        )
        if self.config.get("delivery") == "upload":
            from target_xlr8_truths.upload import upload_file_name

            # the engine keeps what it received under the old upload name; the renamed table goes under the new one
            before = upload_file_name(replace(info, product=old_product, entity=snake_case(info.stream)))
            self.logger.warning(
                "stream %s: delivery=upload: the engine still holds the upload %s (table %s); this run uploads "
                "all its rows again as %s. Remove %s from the engine (target README, 'Upgrading a stream to its "
                "product')",
                info.stream,
                before,
                old,
                upload_file_name(info),
                before,
            )

    def check_key_change(self, info: StreamInfo) -> None:
        """A new key would re-key the upsert and delete rows that were distinct under the old one: apply
        ``key_change_policy`` instead of doing that silently (RELIABILITY F4). Only a key extended by more columns
        that every landed row already holds (which keeps every old distinction, and lets a new row match its old
        one) passes with a warning: an added column empty in old rows would never match, each entity twice."""
        previous = self._keys_by_table.get(info.table_name)
        self._keys_by_table[info.table_name] = list(info.key_columns)
        if previous is None:
            previous = self.store.stored_keys(info.table_name)
        if previous is None or previous == list(info.key_columns):
            return
        unset: list[str] = []
        if previous and set(previous) <= set(info.key_columns):
            added = [c for c in info.key_columns if c not in previous]
            self.drain_all()  # rows of the old key land first: they are among those the added columns must fill
            unset = self.store.unset_columns(info.table_name, added)
            if not unset:
                # a finer key cannot merge rows that the old one kept apart: allowed, but said
                self.logger.warning(
                    "stream %s: key properties extended from %s to %s", info.stream, previous, info.key_columns
                )
                return
        policy = self.config.get("key_change_policy", "fail")
        change = (
            f"stream {info.stream}: key properties changed from {previous} to {info.key_columns} "
            f"(table {info.table_name})"
        )
        if unset:
            change += (
                f"; the added key column(s) {', '.join(unset)} hold no value in rows already landed, so no new row "
                "could replace its old one"
            )
        if policy != "new_table_version":
            raise KeyChangeError(
                f"{change}; setting 'key_change_policy' is 'fail', so nothing was loaded under the new key. Set it "
                "to 'new_table_version' to keep the old rows in a renamed table and start a new one."
            )
        self.drain_all()  # rows of the old key land under the old key first
        archived = self.store.archive_table(info.table_name)
        self.logger.warning(
            "%s; the old rows are kept in table %s (key_change_policy=new_table_version)", change, archived
        )

    def count_dead_letter(self, stream: str) -> None:
        self.dead_lettered[stream] += 1
        ceiling = int(self.config.get("dead_letter_ceiling", 100))
        total = sum(self.dead_lettered.values())
        if total > ceiling:
            raise DeadLetterCeilingError(
                f"{total} records were dead-lettered in this run, above setting 'dead_letter_ceiling' ({ceiling}); "
                "the run stops so a systematic problem does not load silently. Fix the source data or raise the "
                "ceiling; the records not yet committed (the pending batch, or a BATCH file or message being "
                "loaded: all of it) were not, what committed before stays, and the last STATE emitted is safe to "
                "resume from."
            )

    # -- state and end of run ------------------------------------------------------------------------------------
    def _write_state_message(self, state: dict) -> None:
        """In upload mode nothing is committed until the engine has the files: hold STATE until then. Sets
        announced read whole before it are applied first (the SDK calls this once every sink drained)."""
        if self._sets_read:
            self._apply_sets_read()
        if self.config.get("delivery") == "upload":
            self._held_state = state
            return
        self._emit_state(state)

    def _emit_state(self, state: dict) -> None:
        """STATE goes out only when it differs from the last one emitted (RELIABILITY E10)."""
        if state == self._last_state:
            return
        # recorded before the write: a termination signal handled during it drains and relays the latest STATE,
        # which must find this one sent (it came out twice; review 18c)
        self._last_state = copy.deepcopy(state)
        super()._write_state_message(state)

    # -- termination (E3) ----------------------------------------------------------------------------------------
    def _handle_termination(self, signum: int, frame: t.Any) -> None:
        """Drain, relay the final STATE and exit 0; a signal inside a batch transaction waits for its commit, and a
        second signal is ignored."""
        if self._stop_requested or self._ending:
            return
        self._stop_requested = True
        self.stopped_by = signum
        if self.busy:
            self.logger.info("Termination signal %d: finishing the open batch transaction first", signum)
            return
        self._shut_down(signum)

    def check_stop(self) -> None:
        """Called between records: honours a termination signal that arrived during a transaction."""
        if self._stop_requested and not self.busy and not self._ending:
            self._shut_down(signal.SIGTERM)

    def _shut_down(self, signum: int) -> None:
        self.logger.info("Termination signal %d: draining all sinks, then exiting", signum)
        self.process_endofpipe()
        sys.exit(0)

    def process_endofpipe(self) -> None:
        if self._ending:
            return
        self._ending = True
        super().process_endofpipe()
        if self._sets_read:  # announced after the last STATE (or a run with none): every sink has drained
            self._apply_sets_read()
        if self._streams and self.config.get("delivery") != "upload":  # the engine profiles what it is sent
            self.store.finalize(list(self._streams.values()))
            if self.config.get("retention_purge_on_run"):
                from target_xlr8_truths.retention import purge

                purge(
                    self.store,
                    keep_days=self.config.get("retention_days"),
                    keep_versions=self.config.get("retention_versions"),
                )
        if self.config.get("delivery") == "upload":
            from target_xlr8_truths.upload import upload_streams

            upload_streams(self, list(self._streams.values()))
            if self._held_state is not None:
                self._emit_state(self._held_state)
        self.report()
        if self._store is not None:
            self._store.close()
        self.spool.close()

    def report(self) -> None:
        """received = loaded + dead-lettered, per stream, on stderr as one JSON line; with a store, under ``tables``
        each stream's table after the run: its current rows (``rows``) and, apart, rows marked deleted
        (``deleted_rows``)."""
        streams = sorted(set(self.received) | set(self.dead_lettered) | set(self._streams))
        tables: dict[str, dict[str, int]] = {}
        if self._store is not None and self.config.get("delivery") != "upload":
            for name, info in self._streams.items():
                if self._store.table_columns(info.table_name):
                    stored, marked = self._store.row_counts(info.table_name)
                    tables[name] = {"rows": stored - marked, "deleted_rows": marked}
        summary = {
            "run_id": self.run.run_id,
            "streams": {
                s: {
                    "received": self.received[s],
                    "loaded": self.loaded[s],
                    "dead_lettered": self.dead_lettered[s],
                    # rows of re-read sets (replace_by) marked deleted or deleted, when there were any
                    **({"replaced": self.replaced[s]} if self.replaced[s] else {}),
                }
                for s in streams
            },
            **({"tables": tables} if tables else {}),
        }
        self.logger.info("target-xlr8-truths run summary: %s", json.dumps(summary))
        print(f"XLR8_TRUTHS_SUMMARY {json.dumps(summary)}", file=sys.stderr, flush=True)
        paths = {stream: dict(sorted((+counts).items())) for stream, counts in sorted(self.paths.items()) if +counts}
        print(f"XLR8_TRUTHS_PATHS {json.dumps(paths)}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    TargetXlr8Truths.cli()
