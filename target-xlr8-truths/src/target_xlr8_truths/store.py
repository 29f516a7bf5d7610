"""SQL shared by the DuckDB and PostgreSQL deliveries: table evolution, batch upsert, metadata, ledger,
dead letters, profiles and hub/spoke mappings. Every ``write_batch`` is one transaction.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
import itertools
import json
import time
import typing as t
from contextlib import contextmanager
from dataclasses import dataclass, field

import msgspec

from target_xlr8_truths.columns import Column, parse_sql_type, widen
from target_xlr8_truths.layout import (
    DEAD_LETTER_TABLE,
    ENGINE_TABLES,
    FIELDS_TABLE,
    KEYS_TABLE,
    LEDGER_TABLE,
    UPLOADED_BY,
    LayoutError,
    ddl,
    required_columns,
)
from target_xlr8_truths.naming import DELETED_MARK, quote, row_counts_sql
from target_xlr8_truths.profiles import profile_rows, spoke_coverage

SEQ = "__xlr8_seq"


class RowLines:
    """A batch's converted rows kept as the JSON lines the DuckDB store spools, encoded as they arrive. A row's line
    takes about a sixth of its dict's memory (10,000 rows of Account width: about 7 MB instead of 45), and staging
    writes the bytes as they are. Rows hold only str, int, float, bool and None (decimals as text)."""

    __slots__ = ("count", "data")
    _encode_into = msgspec.json.Encoder().encode_into

    def __init__(self) -> None:
        self.data = bytearray()
        self.count = 0

    def append(self, row: dict[str, t.Any]) -> None:
        self._encode_into(row, self.data, -1)
        self.data.append(0x0A)
        self.count += 1

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> t.Iterator[dict[str, t.Any]]:
        decode = msgspec.json.Decoder(dict[str, t.Any]).decode
        for line in bytes(self.data).splitlines():
            yield decode(line)


@dataclass
class StreamInfo:
    """What the annotations (or their absence) say about one stream."""

    stream: str
    product: str
    entity: str
    truth_type: str
    table_name: str
    file_name: str
    display_name: str
    key_columns: list[str]  # column names
    hub_column: str | None = None
    hub_semantic_type: str | None = None
    references: dict[str, str] = field(default_factory=dict)  # column -> semantic type
    domain: str | None = None
    #: Columns holding ENC256 values (``_schema_metadata.encrypted_columns``, decrypted by the engine).
    encrypted_columns: list[str] = field(default_factory=list)
    #: Every PII column stored protected (encrypted or hashed): profiled by counts only.
    protected_columns: list[str] = field(default_factory=list)
    #: Column -> canonical field (from the annotation) and column -> PII action, kept in ``_truths_fields``.
    canonical_columns: dict[str, str] = field(default_factory=dict)
    pii_actions: dict[str, str] = field(default_factory=dict)
    #: Columns naming sets of rows the tap reads whole (the annotation's ``replace_by``): a run's rows of a set
    #: replace the rows earlier runs landed for it (``Store._replace_sets``).
    replace_by: list[str] = field(default_factory=list)
    #: The annotation's ``replace_by`` as the tap names it (properties), in the order of ``replace_by``: the
    #: columns of the sets a tap announces read whole (``SETS_READ_STREAM``).
    replace_sources: list[str] = field(default_factory=list)


@dataclass
class DeadLetter:
    key: list[t.Any] | None
    error: str
    path: str | None
    payload: str


@dataclass
class RunContext:
    project: str
    project_id: str
    run_id: str
    instance: str | None
    started_at: dt.datetime


class PendingCheck(t.Protocol):
    """A check running beside a load, consulted before its transaction commits."""

    def require(self) -> None:
        """Waits for the check; raises (the transaction rolls back) when the load must not commit."""


@dataclass(frozen=True)
class NestedTypes:
    """The types a nested JSON column's schema declares inside its values (``properties``, ``items``, at any depth),
    as DuckDB's ``json_type`` names them: ``paths``, a JSON path without wildcards from the value -> the names allowed
    there (absent is allowed: a nested property is not required); ``arrays``, the path of an array -> what each of
    its elements must be, read from the element (a path that holds no array, or an array at a path expecting an
    object, matches nothing: as in JSON Schema, ``items`` and ``properties`` apply to their own kind only)."""

    paths: tuple[tuple[str, tuple[str, ...]], ...] = ()
    arrays: tuple[tuple[str, NestedTypes], ...] = ()


@dataclass
class Batch:
    info: StreamInfo
    columns: list[Column]
    rows: list[dict[str, t.Any]] | RowLines  # column name -> converted value, plus SEQ
    dead_letters: list[DeadLetter]
    received: int
    window: tuple[dt.datetime | None, dt.datetime | None]
    hard_delete: bool
    files: list[str] = field(default_factory=list)  # JSONL files loaded directly (DuckDB BATCH messages)
    #: For ``files``: sources of decimal columns sent as text (x-singer.decimal), and column name -> (SQL condition,
    #: function): values the record path writes through Python (PII protection, nested JSON), applied column-wise
    #: to the loaded rows matching the condition before the commit.
    text_decimals: frozenset[str] = frozenset()
    rewrite: dict[str, tuple[str, t.Callable[[t.Any], t.Any]]] = field(default_factory=dict)
    #: For ``files``: the extraction time rows without ``_sdc_extracted_at`` land with (the file's write time).
    extracted: dt.datetime | None = None
    #: For ``files``: some stored column is PII-protected (``protected``: those columns' names, each also in
    #: ``rewrite``). Plaintext never reaches a table: DuckDB's INSERT protects each row's value as it reads it
    #: (a Python scalar function); a file whose key is protected is staged and protected there.
    private: bool = False
    protected: frozenset[str] = frozenset()
    #: For ``files``: the scan for numbers DuckDB would round, running while the file loads; the load waits for
    #: it and refuses the file (rolled back) before the commit when it finds one (``duckdb_store.ExactnessCheck``).
    exactness: PendingCheck | None = None
    #: For ``files``: nested JSON column source -> the first characters of the JSON texts its declared types allow
    #: (``{`` an object, ``[`` an array, ...); a source not listed takes any value.
    json_shapes: dict[str, str] = field(default_factory=dict)
    #: For ``files``: nested JSON column source -> the types its schema declares inside the value (the record path's
    #: validator dead-letters a number where a nested ``Street`` is a string; DuckDB's reader lands it).
    nested: dict[str, NestedTypes] = field(default_factory=dict)
    #: For ``files``: property sources whose declared type excludes null, or that the stream's ``required`` lists (the
    #: record path's validator dead-letters a null, or an absent required property; DuckDB's reader reads both as NULL:
    #: such a row takes the record path).
    not_null: frozenset[str] = frozenset()
    #: For ``files``: property source -> (``minLength``, ``maxLength``) it declares (None: not declared; a limit
    #: that is not an integer is -1). The record path's validator dead-letters a string outside them, counted in
    #: code points as Python's ``len``; DuckDB's reader would land it.
    lengths: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    #: For ``files``: sources of plain string properties -> the values their ``enum`` or ``const`` allows (strings,
    #: and None for null: without it a null is the validator's to dead-letter, and absent reads as null too).
    choices: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    #: For ``files``: columns ``pii_policy`` drops, read only for the checks above (the record path's validator
    #: checks the whole record, dropped properties included); never projected, so no value of theirs is stored.
    checked: list[Column] = field(default_factory=list)


class Store(abc.ABC):
    dialect: t.ClassVar[str]

    #: What a pending batch keeps its converted rows in until ``stage``.
    rows_type: t.ClassVar[type[list[dict[str, t.Any]]] | type[RowLines]] = list
    #: This process is the only writer of its tables (DuckDB's file lock), so what it saw hold still holds.
    sole_writer: t.ClassVar[bool] = False

    def __init__(self, run: RunContext, profile_interval_seconds: float = 300.0) -> None:
        self.run = run
        self.profile_interval_seconds = profile_interval_seconds
        self._versioned_tables: set[str] = set()
        self._last_profiled: dict[str, float] = {}
        self._clock: t.Callable[[], float] = time.monotonic
        self._stage_counter = 0
        #: (table, columns) as ``evolve_table`` found them when it changed nothing (for ``_write_metadata``).
        self._live_columns: tuple[str, dict[str, str]] | None = None
        #: (table, created, columns retyped) by the last ``evolve_table``.
        self._evolved: tuple[str, bool, frozenset[str]] = ("", False, frozenset())
        #: table -> its one key column, whose non-null values a ``sole_writer`` knows unique: the table was created
        #: empty here or a profile counted them unique, and every write since upserted on that column alone and
        #: retyped it not (``write_batch``). Its profile then takes the distinct count from ``COUNT`` (0.12 s CPU of
        #: a 1M-row table's end of run).
        self._unique_keys: dict[str, str] = {}
        #: Rows of re-read sets the last ``write_batch`` marked deleted or deleted (``_replace_sets``), for the summary.
        self.replaced = 0
        self.replaced_how = "marked deleted (_sdc_deleted_at)"

    # -- dialect hooks -------------------------------------------------------------------------------------------
    @abc.abstractmethod
    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> None: ...

    @abc.abstractmethod
    def execute_count(self, sql: str, params: t.Sequence[t.Any] | None = None) -> int:
        """``execute`` an UPDATE or DELETE and return the rows it changed."""

    @abc.abstractmethod
    def fetchall(self, sql: str, params: t.Sequence[t.Any] | None = None) -> list[tuple[t.Any, ...]]: ...

    @abc.abstractmethod
    @contextmanager
    def transaction(self) -> t.Iterator[None]: ...

    @contextmanager
    def one_commit(self) -> t.Iterator[None]:
        """Every ``write_batch`` inside commits together, or none does (a BATCH file loaded record by record). Here
        the batches' transactions nest in it (PostgreSQL: savepoints). A rollback puts back what the store knew
        before (``_memos``)."""
        memos = self._memos()
        try:
            with self.transaction():
                yield
        except BaseException:
            self._restore_memos(memos)
            raise

    def _memos(self) -> tuple[t.Any, ...]:
        """What the store learns in memory from a write that commits (a table's metadata version of this run, a key
        known unique, when a table was profiled), as it stood before a ``one_commit``. Kept after its rollback,
        the retry of a BATCH message wrote no ``_schema_metadata`` version and no ``_truths_fields`` rows (review
        22c): the table was invisible to ``read_truths`` and the next run's key check."""
        return set(self._versioned_tables), dict(self._unique_keys), dict(self._last_profiled)

    def _restore_memos(self, memos: tuple[t.Any, ...]) -> None:
        self._versioned_tables, self._unique_keys, self._last_profiled = memos

    @abc.abstractmethod
    def stage(self, name: str, columns: list[Column], batch: Batch) -> None:
        """Create temp table ``name`` (columns + SEQ) holding the batch's rows."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def checkpoint_if_due(self) -> None:
        """Maintenance the last batch made due, run once its STATE has gone out (``DuckDBStore``); none here."""
        return

    def alter_type_sql(self, table: str, column: Column) -> str:
        return f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column.name)} TYPE {column.sql_type(self.dialect)}"

    # -- layout ------------------------------------------------------------------------------------------------
    def fetchone(self, sql: str, params: t.Sequence[t.Any] | None = None) -> tuple[t.Any, ...] | None:
        rows = self.fetchall(sql, params)
        return rows[0] if rows else None

    def table_columns(self, table: str) -> dict[str, str]:
        rows = self.fetchall(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = ? AND table_schema = current_schema() ORDER BY ordinal_position",
            [table],
        )
        return {str(name): str(kind) for name, kind in rows}

    def tables_columns(self, tables: list[str]) -> dict[str, dict[str, str]]:
        """``table_columns`` of each of ``tables``, in their order."""
        return {table: self.table_columns(table) for table in tables}

    def ensure_layout(self) -> None:
        """Create the metadata tables when absent; refuse a layout this target does not know."""
        required = required_columns()
        with self.transaction():
            known = self.tables_columns([*ENGINE_TABLES, LEDGER_TABLE, DEAD_LETTER_TABLE])
            for table, present in known.items():
                if present:
                    missing = [c for c in required[table] if c not in present]
                    if missing:
                        raise LayoutError(
                            f"table {table} exists with an unknown layout (missing columns: {', '.join(missing)}); "
                            "this target writes the XLR8 engine layout only and will not alter it"
                        )
            for statement in ddl(self.dialect):
                self.execute(statement)

    def stored_pii_actions(self, table: str) -> dict[str, str | None] | None:
        """The PII action each column of ``table`` was written with (``_truths_fields``), or None when it holds no
        rows yet."""
        if not self.table_columns(table) or not self.fetchone(f"SELECT 1 FROM {quote(table)} LIMIT 1"):  # noqa: S608
            return None
        rows = self.fetchall(
            f"SELECT column_name, pii_action FROM {FIELDS_TABLE} WHERE project = ? AND table_name = ?",  # noqa: S608
            [self.run.project, table],
        )
        return {str(column): (str(action) if action is not None else None) for column, action in rows}

    def pii_key_check(self, check: str) -> str:
        """The key check value the project's protected columns were written with: ``check`` (this run's) when none
        was recorded, which it then is (the first of concurrent first runs wins)."""
        with self.transaction():
            self.execute(
                f"INSERT INTO {KEYS_TABLE} (project, key_check, created_at) VALUES (?, ?, ?) "  # noqa: S608
                "ON CONFLICT (project) DO NOTHING",
                [self.run.project, check, dt.datetime.now(dt.UTC)],
            )
            row = self.fetchone(f"SELECT key_check FROM {KEYS_TABLE} WHERE project = ?", [self.run.project])  # noqa: S608
        return str(row[0]) if row else check

    def table_owner(self, table: str) -> str | None:
        """The ``{product}:{stream}`` that wrote ``table`` (its latest ``_schema_metadata`` row), if any."""
        row = self.fetchone(
            "SELECT file_name FROM _schema_metadata WHERE LOWER(project) = ? AND table_name = ? "
            "ORDER BY version DESC LIMIT 1",
            [self.run.project, table],
        )
        return str(row[0]) if row else None

    def stored_keys(self, table: str) -> list[str] | None:
        """The key columns ``table``'s rows were upserted on, or None when it holds no rows yet."""
        if not self.table_columns(table) or not self.fetchone(f"SELECT 1 FROM {quote(table)} LIMIT 1"):  # noqa: S608
            return None
        row = self.fetchone(
            "SELECT likely_keys FROM _schema_metadata WHERE LOWER(project) = ? AND table_name = ? "
            "AND is_current = TRUE ORDER BY version DESC LIMIT 1",
            [self.run.project, table],
        )
        if not row or row[0] is None:
            return None
        keys = json.loads(row[0]) if isinstance(row[0], str) else row[0]
        return [str(k) for k in keys]

    def unset_columns(self, table: str, columns: list[str]) -> list[str]:
        """Of ``columns``, those ``table`` lacks or some live row holds no value in (none for a table not made)."""
        have = self.table_columns(table)
        if not have:
            return []
        live = " AND _sdc_deleted_at IS NULL" if "_sdc_deleted_at" in have else ""
        return [
            c
            for c in columns
            if c not in have or self.fetchone(f"SELECT 1 FROM {quote(table)} WHERE {quote(c)} IS NULL{live} LIMIT 1")  # noqa: S608
        ]

    def archive_table(self, table: str) -> str:
        """Rename ``table`` (rows, metadata, profiles, mappings) to ``{table}__v{version}`` (the first free version
        from the table's own) so a stream whose key changed starts a new table version under the old name; returns
        the archive's name."""
        row = self.fetchone(
            "SELECT COALESCE(MAX(version), 1) FROM _schema_metadata WHERE LOWER(project) = ? AND table_name = ?",
            [self.run.project, table],
        )
        archived = self._free_archive_name(table, int(row[0]) if row else 1)
        with self.one_commit():
            self._rename(table, archived)
            # what its columns mean goes with the rows (erasure finds a person's columns by it: audit25e F17); the
            # new table's first write records its own
            self.execute(
                f"UPDATE {FIELDS_TABLE} SET table_name = ? WHERE LOWER(project) = ? AND table_name = ?",  # noqa: S608
                [archived, self.run.project, table],
            )
        return archived

    def _free_archive_name(self, table: str, version: int) -> str:
        """``{table}__v{version}`` (cut to the identifier limit), or the next version along when that table exists: a
        key that changed before left its archive there, and a rename onto it would fail."""
        while True:
            suffix = f"__v{version}"
            archived = f"{table[: 63 - len(suffix)]}{suffix}"
            if not self.table_columns(archived):
                return archived
            version += 1

    def adopt_table(self, table: str, to: str, owner: str, product: str) -> list[tuple[str, str]]:
        """Rename ``table`` to ``to`` for a new ``owner`` (``{product}:{stream}``), with everything that names it:
        rows, metadata (all versions, their owner too), profiles, mappings, fields, ledger and dead letters, the
        ledger's rows then naming ``product`` (``read_truths`` finds the table by it), and the archives a key change
        left of ``table`` (``archive_table``), renamed ``{to}__v{n}`` for the same owner. All in one transaction. For
        a stream whose table name changed (``formerly_unannotated``), so its rows and its history stay its own.
        Returns each archive moved, (old name, new name)."""
        archives = self._archives_of(table)
        moved = []
        with self.one_commit():
            self._rename(table, to, owner)
            for archive, version in archives:
                renamed = self._free_archive_name(to, version)
                self._rename(archive, renamed, owner)
                moved.append((archive, renamed))
            self.execute(
                f"UPDATE {LEDGER_TABLE} SET product = ? WHERE LOWER(project) = ? AND table_name = ?",  # noqa: S608
                [product, self.run.project, to],
            )
        return moved

    def _archives_of(self, table: str) -> list[tuple[str, int]]:
        """The tables ``archive_table`` made of ``table`` (its name with ``__v{n}``, the same owner in
        ``_schema_metadata``, still present), with their versions in order."""
        owner = self.table_owner(table)
        if owner is None:
            return []
        rows = self.fetchall(
            "SELECT DISTINCT table_name FROM _schema_metadata WHERE LOWER(project) = ? AND file_name = ? "
            "AND table_name <> ?",
            [self.run.project, owner, table],
        )
        found = []
        for name in (str(row[0]) for row in rows):
            stem, mark, number = name.rpartition("__v")
            if mark and number.isdigit() and stem == table[: 63 - len(mark + number)] and self.table_columns(name):
                found.append((name, int(number)))
        return sorted(found, key=lambda archive: archive[1])

    def _rename(self, table: str, to: str, owner: str | None = None) -> None:
        """``ALTER TABLE ... RENAME`` and the metadata rows that name the table, in one transaction; with an
        ``owner``, the owner recorded with them and this target's own tables' rows too."""
        self._unique_keys.pop(table, None)
        project = self.run.project
        with self.transaction():
            self.execute(f"ALTER TABLE {quote(table)} RENAME TO {quote(to)}")
            named: tuple[str, ...] = ("_schema_metadata", "_column_profiles", "_column_mappings")
            if owner is not None:
                named += (FIELDS_TABLE, LEDGER_TABLE, DEAD_LETTER_TABLE)
            for meta in named:
                self.execute(
                    f"UPDATE {meta} SET table_name = ? WHERE LOWER(project) = ? AND table_name = ?",  # noqa: S608
                    [to, project, table],
                )
            if owner is not None:
                for meta in ("_schema_metadata", "_column_mappings"):
                    self.execute(
                        f"UPDATE {meta} SET file_name = ? WHERE LOWER(project) = ? AND table_name = ?",  # noqa: S608
                        [owner, project, to],
                    )
        self._versioned_tables.discard(table)

    # -- data tables -------------------------------------------------------------------------------------------
    def evolve_table(self, table: str, columns: list[Column]) -> list[Column]:
        """Create or evolve ``table`` to hold ``columns``: add new ones, widen types. Returns the columns as stored."""
        existing = self.table_columns(table)
        self._live_columns = None
        if not existing:
            body = ", ".join(f"{quote(c.name)} {c.sql_type(self.dialect)}" for c in columns)
            self.execute(f"CREATE TABLE {quote(table)} ({body})")
            self._evolved = (table, True, frozenset())
            return list(columns)
        stored: list[Column] = []
        changed = False
        retyped: set[str] = set()
        for column in columns:
            if column.name not in existing:
                changed = True
                self.execute(
                    f"ALTER TABLE {quote(table)} ADD COLUMN {quote(column.name)} {column.sql_type(self.dialect)}"
                )
                stored.append(column)
                continue
            kind, scale = parse_sql_type(existing[column.name])
            wider = widen(kind, column.kind)
            new_scale = max(scale, column.scale) if wider == "decimal" else scale
            if wider != kind or new_scale != scale:
                changed = True
                target = Column(column.name, column.source, wider, new_scale)
                self.execute(self.alter_type_sql(table, target))
                retyped.add(column.name)
                stored.append(target)
            else:
                stored.append(Column(column.name, column.source, kind, scale))
        if not changed:
            self._live_columns = (table, existing)  # unchanged: _write_metadata need not ask again
        self._evolved = (table, False, frozenset(retyped))
        return stored

    def write_batch(self, batch: Batch) -> int:
        """Upsert the batch, record dead letters, metadata and ledger: all or nothing. Returns records loaded."""
        info = batch.info
        table = info.table_name
        self._stage_counter += 1
        stage = f"__xlr8_stage_{self._stage_counter}"
        self._live_columns = None
        self.replaced = 0
        key = info.key_columns[0] if self.sole_writer and len(info.key_columns) == 1 else None
        with self._key_knowledge(table) as known, self.transaction():
            stored = self.evolve_table(table, batch.columns)
            # the upsert on the one key keeps unique keys unique; a retype may merge values (BIGINT to DOUBLE)
            evolved, created, retyped = self._evolved
            unique = key is not None and evolved == table and (created or known == key) and key not in retyped
            loaded = 0
            in_place = self.insert_files(table, stored, batch) if batch.files else None
            if in_place is not None:
                loaded = in_place
            elif batch.rows or batch.files:
                self.stage(stage, batch.columns, batch)
                extracted = any(c.name == "_sdc_extracted_at" for c in batch.columns)
                self._replace_sets(info, quote(stage), "TRUE", batch.hard_delete, source_extracted=extracted)
                loaded = self._merge(table, stage, stored, info.key_columns, batch.hard_delete)
            if unique and key is not None:
                self._unique_keys[table] = key
            self._insert_dead_letters(info, batch.dead_letters)
            self._write_metadata(info, stored)
            received = batch.received if not batch.files else loaded + len(batch.dead_letters)
            self._write_ledger(info, received, loaded, batch)
            if self._profile_due(table):
                self.refresh_profiles(info)
            self.before_commit()
        self._versioned_tables.add(table)
        return loaded

    @contextmanager
    def _key_knowledge(self, table: str) -> t.Iterator[str | None]:
        """``_unique_keys[table]``, taken for one write: the write sets it again when its rows keep it; a write rolled
        back puts back what was known of the rows before it (its upsert undone)."""
        known = self._unique_keys.pop(table, None)
        try:
            yield known
        except BaseException:
            self._unique_keys.pop(table, None)
            if known is not None:
                self._unique_keys[table] = known
            raise

    def insert_files(self, table: str, stored: list[Column], batch: Batch) -> int | None:
        """Load ``batch.files`` straight into ``table`` (upserted as ``_merge`` does) and return the rows read, or
        None when this store stages them instead."""
        return None

    def before_commit(self) -> None:
        """Test seam (E2): a fault injector may stop the process here, inside the open transaction."""
        from target_xlr8_truths.faults import hold_before_commit

        hold_before_commit()

    def _merge(self, table: str, stage: str, columns: list[Column], keys: list[str], hard_delete: bool) -> int:
        qt, qs = quote(table), quote(stage)
        received = int((self.fetchone(f"SELECT COUNT(*) FROM {qs}") or (0,))[0])  # noqa: S608
        names = [c.name for c in columns]
        source = qs
        if keys:
            partition = ", ".join(quote(k) for k in keys)
            if self._has_repeated_keys(qs, partition):  # the last record of the batch wins
                source = (
                    f"(SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY {partition} ORDER BY {quote(SEQ)} "  # noqa: S608
                    f"DESC) AS __xlr8_rn FROM {qs}) AS ranked WHERE __xlr8_rn = 1)"
                )
            match = " AND ".join(f"{qt}.{quote(k)} = {qs}.{quote(k)}" for k in keys)
            if self.fetchone(f"SELECT 1 FROM {qt} LIMIT 1"):  # noqa: S608 - nothing to replace in an empty table
                self.execute(f"DELETE FROM {qt} WHERE EXISTS (SELECT 1 FROM {qs} WHERE {match})")  # noqa: S608
        where = ""
        if hard_delete and "_sdc_deleted_at" in names:
            where = f" WHERE {quote('_sdc_deleted_at')} IS NULL"
        select = ", ".join(f"CAST({quote(c.name)} AS {c.sql_type(self.dialect)})" for c in columns)
        column_list = ", ".join(quote(n) for n in names)
        self.execute(f"INSERT INTO {qt} ({column_list}) SELECT {select} FROM {source} AS src{where}")  # noqa: S608
        self.execute(f"DROP TABLE {qs}")
        return received

    def _replace_sets(
        self, info: StreamInfo, source: str, older: str, hard_delete: bool, *, source_extracted: bool = True
    ) -> int:
        """For a stream with ``replace_by``: the rows of ``info``'s table matching ``older`` (rows earlier writes
        landed) whose set (their ``replace_by`` values) has rows in ``source`` (this batch's) and was not replaced
        yet in this run are deleted with ``hard_delete``, else marked deleted (``_sdc_deleted_at``), as superseded
        rows are (``activate_version``); the upsert then replaces rows of the same key as ever. The sets replaced
        are kept in a temporary table, so a set whose rows span two batches of one run keeps the first batch's
        rows; it is written in the batch's transaction, so a batch rolled back replaced nothing. Returns the rows
        deleted (none when marked); ``replaced`` counts those and the rows marked, for the run's summary.
        A row extracted after this batch's earliest row of its set is never replaced: a run whose read overlapped
        this one and landed first read it later (review27f M1, the M5 guard of ``empty_sets`` for sets with rows;
        ``source_extracted``: ``source`` has ``_sdc_extracted_at``)."""
        if not info.replace_by:
            return 0
        table = quote(info.table_name)
        parts = [quote(c) for c in info.replace_by]
        done_name = _replaced_sets_name(info)
        done = quote(done_name)
        self._replaced_sets_table(done_name, ", ".join(parts), table)
        evolved, _created, retyped = self._evolved
        if evolved == info.table_name and retyped & set(info.replace_by):
            # a set column this batch widened is widened here too, keeping the run's sets (else the compare fails)
            types = self.table_columns(info.table_name)
            for name in sorted(retyped & set(info.replace_by)):
                kind = types[name]
                self.execute(
                    f"ALTER TABLE {done} ALTER COLUMN {quote(name)} TYPE {kind} USING CAST({quote(name)} AS {kind})"
                )

        def same(left: str, right: str) -> str:
            return " AND ".join(f"{left}.{p} = {right}.{p}" for p in parts)

        in_batch = f"EXISTS (SELECT 1 FROM {source} AS s WHERE {same('s', table)})"  # noqa: S608
        if source_extracted and "_sdc_extracted_at" in self.table_columns(info.table_name):
            ext = quote("_sdc_extracted_at")
            in_batch += (
                f" AND NOT EXISTS (SELECT 1 FROM {source} AS s WHERE {same('s', table)}"  # noqa: S608
                f" AND s.{ext} < {table}.{ext})"
            )
        not_done = f"NOT EXISTS (SELECT 1 FROM {done} AS d WHERE {same('d', table)})"  # noqa: S608
        deleted = 0
        if hard_delete or "_sdc_deleted_at" not in self.table_columns(info.table_name):
            deleted = self.execute_count(f"DELETE FROM {table} WHERE {older} AND {in_batch} AND {not_done}")  # noqa: S608
            self.replaced += deleted
            self.replaced_how = "deleted"
        else:
            marked = quote("_sdc_deleted_at")
            self.replaced_how = "marked deleted (_sdc_deleted_at)"
            self.replaced += self.execute_count(
                f"UPDATE {table} SET {marked} = ? WHERE {older} AND {marked} IS NULL AND {in_batch} AND {not_done}",  # noqa: S608
                [dt.datetime.now(dt.UTC)],
            )
        self.execute(
            f"INSERT INTO {done} SELECT DISTINCT {', '.join(f's.{p}' for p in parts)} FROM {source} AS s "  # noqa: S608
            f"WHERE NOT EXISTS (SELECT 1 FROM {done} AS d WHERE {same('d', 's')})"
        )
        return deleted

    def empty_sets(
        self,
        info: StreamInfo,
        sets: list[dict[str, list[t.Any]]],
        hard_delete: bool,
        kept: t.Sequence[tuple[t.Any, ...]] = (),
        read_start: dt.datetime | None = None,
    ) -> int:
        """The rows of the sets a tap read whole (``sets``: per ``replace_by`` column its values, every combination
        one set) that this run sent no row of are deleted with ``hard_delete``, else marked deleted: such a set is
        now empty in the source. A set with rows in this run is left to ``_replace_sets`` (the run's replaced
        sets, in their temporary table); so is a set in ``kept`` (its values per ``replace_by`` column: a set whose
        rows were dead-lettered). With ``read_start`` (when the announcing read began) a row extracted then or
        later is never deleted: a run whose read overlapped the announcing one landed it (review26c M5; a row
        without ``_sdc_extracted_at`` counts as older). One transaction; returns the rows so marked or deleted."""
        columns = self.table_columns(info.table_name)
        if not info.replace_by or not sets or any(c not in columns for c in info.replace_by):
            return 0  # no row ever landed (no table, or no such column yet): nothing to delete
        table = quote(info.table_name)
        parts = [quote(c) for c in info.replace_by]
        done = quote(_replaced_sets_name(info))
        marked = quote("_sdc_deleted_at")
        soft = not hard_delete and "_sdc_deleted_at" in columns
        count = 0
        self._live_columns = None
        if soft and self._unique_keys.get(info.table_name) == "_sdc_deleted_at":
            del self._unique_keys[info.table_name]  # the soft delete gives many rows one value
        with self.transaction():
            self._replaced_sets_table(_replaced_sets_name(info), ", ".join(parts), table)
            not_done = "NOT EXISTS (SELECT 1 FROM {d} AS d WHERE {m})".format(  # noqa: S608
                d=done, m=" AND ".join(f"d.{p} = {table}.{p}" for p in parts)
            )
            guard_params: list[t.Any] = []
            if kept:  # in a table, not one parameter each: PostgreSQL takes 65,535 per statement (review27f L3)
                held = quote(_kept_sets_name(info))
                self._replaced_sets_table(_kept_sets_name(info), ", ".join(parts), table)
                self._fill_kept_sets(held, [columns[c] for c in info.replace_by], kept)
                not_done += " AND NOT EXISTS (SELECT 1 FROM {k} AS k_ WHERE {m})".format(  # noqa: S608
                    k=held, m=" AND ".join(f"k_.{p} = {table}.{p}" for p in parts)
                )
            if read_start is not None and "_sdc_extracted_at" in columns:
                extracted = quote("_sdc_extracted_at")
                not_done += f" AND ({table}.{extracted} IS NULL OR {table}.{extracted} < ?)"
                guard_params.append(read_start)
            for listed in sets:
                per_column = [[_set_value(v) for v in listed[column] if v is not None] for column in info.replace_by]
                if not all(per_column):
                    continue
                sizes = _set_chunk_sizes([len(vs) for vs in per_column])
                chunked = [
                    [vs[i : i + n] for i in range(0, len(vs), n)] for vs, n in zip(per_column, sizes, strict=True)
                ]
                for chunks in itertools.product(*chunked):  # every combination of chunks: the same sets, in parts
                    terms: list[str] = []
                    params: list[t.Any] = []
                    for column, part, values in zip(info.replace_by, parts, chunks, strict=True):
                        rows = ", ".join("(?)" for _ in values)
                        kind = columns[column]
                        terms.append(f"{part} IN (SELECT CAST(v AS {kind}) FROM (VALUES {rows}) AS v_(v))")  # noqa: S608
                        params += values
                    where = " AND ".join([*terms, not_done])
                    if soft:
                        count += self.execute_count(
                            f"UPDATE {table} SET {marked} = ? WHERE {marked} IS NULL AND {where}",  # noqa: S608
                            [dt.datetime.now(dt.UTC), *params, *guard_params],
                        )
                    else:
                        count += self.execute_count(f"DELETE FROM {table} WHERE {where}", [*params, *guard_params])  # noqa: S608
            if kept:  # made and dropped in this transaction: the next announcement makes it with the columns'
                # types of then (a ``replace_by`` column widened mid-run, review29b M1), and no temporary table
                # outlives the transaction (a pooled PostgreSQL connection, review28d L5)
                self._drop_sets_table(_kept_sets_name(info))
        return count

    def _fill_kept_sets(self, held: str, kinds: list[str], kept: t.Sequence[tuple[t.Any, ...]]) -> None:
        """The kept sets into the temporary table ``held``, cast by the same text path as announced values, in
        statements of at most ``_SET_VALUES`` parameters."""
        names = [f"k{i}" for i in range(len(kinds))]
        casts = ", ".join(f"CAST({n} AS {kind})" for n, kind in zip(names, kinds, strict=True))
        per = max(1, _SET_VALUES // len(kinds))
        for start in range(0, len(kept), per):
            part = kept[start : start + per]
            rows = ", ".join("(" + ", ".join("?" for _ in kinds) + ")" for _ in part)
            self.execute(
                f"INSERT INTO {held} SELECT {casts} FROM (VALUES {rows}) AS k_({', '.join(names)})",  # noqa: S608
                [_set_value(v) for key in part for v in key],
            )

    def _replaced_sets_table(self, name: str, listed: str, table: str) -> None:
        """The run's temporary table ``name`` of the sets ``_replace_sets`` replaced (columns ``listed`` of
        ``table``), created when missing (in the batch's transaction: a batch rolled back leaves none)."""
        self.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote(name)} AS SELECT {listed} FROM {table} WHERE FALSE")  # noqa: S608

    def _drop_sets_table(self, name: str) -> None:
        """The temporary table ``name`` made by ``_replaced_sets_table`` dropped."""
        self.execute(f"DROP TABLE IF EXISTS {quote(name)}")

    def _has_repeated_keys(self, stage: str, partition: str) -> bool:
        """A grouping of the keys alone is far cheaper than ranking every (wide) row when no key repeats."""
        row = self.fetchone(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {stage} GROUP BY {partition} HAVING COUNT(*) > 1) AS d"  # noqa: S608
        )
        return bool(row and int(row[0]))

    def activate_version(self, info: StreamInfo, version: int, hard_delete: bool) -> None:
        """Rows from earlier versions of a full-table sync are gone (or soft-deleted) once the new one is active."""
        table = quote(info.table_name)
        if not self.table_columns(info.table_name) or "_sdc_table_version" not in self.table_columns(info.table_name):
            return
        stale = f"({quote('_sdc_table_version')} IS NULL OR {quote('_sdc_table_version')} < ?)"
        self._live_columns = None
        if not hard_delete and self._unique_keys.get(info.table_name) == "_sdc_deleted_at":
            del self._unique_keys[info.table_name]  # the soft delete gives many rows one value
        with self.transaction():
            if hard_delete:
                self.execute(f"DELETE FROM {table} WHERE {stale}", [version])  # noqa: S608
            else:
                self.execute(
                    f"UPDATE {table} SET {quote('_sdc_deleted_at')} = ? WHERE {stale} AND "  # noqa: S608
                    f"{quote('_sdc_deleted_at')} IS NULL",
                    [dt.datetime.now(dt.UTC), version],
                )
            self._write_metadata(info, None)
        self._versioned_tables.add(info.table_name)

    # -- metadata ------------------------------------------------------------------------------------------------
    def _write_metadata(self, info: StreamInfo, stored: list[Column] | None) -> None:
        table = info.table_name
        known, self._live_columns = self._live_columns, None
        live = known[1] if known is not None and known[0] == table else self.table_columns(table)
        columns = [{"name": name, "type": kind} for name, kind in live.items()]
        row_count = self._row_count(table)
        project = self.run.project
        if table not in self._versioned_tables:
            self._write_fields(info, list(live))
            previous = self.fetchone(
                "SELECT COALESCE(MAX(version), 0) FROM _schema_metadata WHERE LOWER(project) = ? AND table_name = ?",
                [project, table],
            )
            version = int(previous[0] if previous else 0) + 1
            self.execute(
                "UPDATE _schema_metadata SET is_current = FALSE WHERE LOWER(project) = ? AND table_name = ? "
                "AND is_current = TRUE",
                [project, table],
            )
            self.execute(
                "INSERT INTO _schema_metadata (id, project, project_id, file_name, sheet_name, table_name, "
                "display_name, entity_type, category, columns, column_count, row_count, likely_keys, "
                "encrypted_columns, truth_type, uploaded_by, version, is_current, created_at, domain) "
                "VALUES (nextval('schema_metadata_seq'), ?, ?, ?, 'data', ?, ?, ?, 'api', ?, ?, ?, ?, ?, ?, ?, ?, "
                "TRUE, now(), ?)",
                [
                    project,
                    self.run.project_id,
                    info.file_name,
                    table,
                    info.display_name,
                    info.entity,
                    json.dumps(columns),
                    len(columns),
                    row_count,
                    json.dumps(info.key_columns),
                    json.dumps(info.encrypted_columns),
                    info.truth_type,
                    UPLOADED_BY,
                    version,
                    info.domain,
                ],
            )
        else:
            self.execute(
                "UPDATE _schema_metadata SET columns = ?, column_count = ?, row_count = ?, likely_keys = ?, "
                "encrypted_columns = ? WHERE LOWER(project) = ? AND table_name = ? AND is_current = TRUE",
                [
                    json.dumps(columns),
                    len(columns),
                    row_count,
                    json.dumps(info.key_columns),
                    json.dumps(info.encrypted_columns),
                    project,
                    table,
                ],
            )

    def _row_count(self, table: str) -> int:
        """The current rows of ``table`` inside the open transaction (``_schema_metadata.row_count``): a row marked
        deleted (``_sdc_deleted_at``) is history, not a row of the table, and is counted apart (``row_counts``)."""
        stored, marked = self.row_counts(table)
        return stored - marked

    def row_counts(self, table: str) -> tuple[int, int]:
        """The rows ``table`` stores, and of those the rows marked deleted (``_sdc_deleted_at`` set)."""
        row = self.fetchone(row_counts_sql(table, DELETED_MARK in self.table_columns(table)))
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _write_fields(self, info: StreamInfo, columns: list[str]) -> None:
        """What each stored column means (canonical field) and how it was protected, for erasure and audits: one
        statement for all columns (names are unique, so no row conflicts with another of the same statement)."""
        if not columns:
            return
        now = dt.datetime.now(dt.UTC)
        params: list[t.Any] = []
        for column in columns:
            canonical, action = info.canonical_columns.get(column), info.pii_actions.get(column)
            params += [self.run.project, info.table_name, column, canonical, action, now]
        values = ", ".join(["(?, ?, ?, ?, ?, ?)"] * len(columns))
        self.execute(
            f"INSERT INTO {FIELDS_TABLE} (project, table_name, column_name, canonical_field, pii_action, "  # noqa: S608
            f"updated_at) VALUES {values} ON CONFLICT (project, table_name, column_name) DO UPDATE SET "
            "canonical_field = EXCLUDED.canonical_field, pii_action = EXCLUDED.pii_action, "
            "updated_at = EXCLUDED.updated_at",
            params,
        )

    def _write_ledger(self, info: StreamInfo, received: int, loaded: int, batch: Batch) -> None:
        """One ledger row per (project, run, stream), its counts summed over the run's batches. After a run's first
        batch the row exists: a plain UPDATE (the upsert's own SET) costs about half the upsert's index probe and
        conflict handling; the upsert runs when the UPDATE found no row."""
        now = dt.datetime.now(dt.UTC)
        dead = len(batch.dead_letters)
        start, end = batch.window
        updated = self.fetchall(
            f"UPDATE {LEDGER_TABLE} SET rows_received = rows_received + ?, rows_loaded = rows_loaded + ?, "  # noqa: S608
            "rows_dead_lettered = rows_dead_lettered + ?, window_start = LEAST(window_start, ?), "
            "window_end = GREATEST(window_end, ?), updated_at = ? WHERE project = ? AND run_id = ? AND stream = ? "
            "RETURNING 1",
            [received, loaded, dead, start, end, now, self.run.project, self.run.run_id, info.stream],
        )
        if updated:
            return
        self.execute(
            f"INSERT INTO {LEDGER_TABLE} (project, run_id, product, instance, stream, table_name, entity_type, "  # noqa: S608
            "truth_type, rows_received, rows_loaded, rows_dead_lettered, window_start, window_end, started_at, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (project, run_id, stream) DO UPDATE SET "
            f"rows_received = {LEDGER_TABLE}.rows_received + EXCLUDED.rows_received, "
            f"rows_loaded = {LEDGER_TABLE}.rows_loaded + EXCLUDED.rows_loaded, "
            f"rows_dead_lettered = {LEDGER_TABLE}.rows_dead_lettered + EXCLUDED.rows_dead_lettered, "
            f"window_start = LEAST({LEDGER_TABLE}.window_start, EXCLUDED.window_start), "
            f"window_end = GREATEST({LEDGER_TABLE}.window_end, EXCLUDED.window_end), "
            "updated_at = EXCLUDED.updated_at",
            [
                self.run.project,
                self.run.run_id,
                info.product,
                self.run.instance,
                info.stream,
                info.table_name,
                info.entity,
                info.truth_type,
                received,
                loaded,
                dead,
                start,
                end,
                self.run.started_at,
                now,
            ],
        )

    def _insert_dead_letters(self, info: StreamInfo, letters: list[DeadLetter]) -> None:
        now = dt.datetime.now(dt.UTC)
        for letter in letters:
            self.execute(
                f"INSERT INTO {DEAD_LETTER_TABLE} (project, run_id, stream, table_name, record_key, error, "  # noqa: S608
                "error_path, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    self.run.project,
                    self.run.run_id,
                    info.stream,
                    info.table_name,
                    json.dumps(letter.key, default=str) if letter.key is not None else None,
                    letter.error,
                    letter.path,
                    letter.payload,
                    now,
                ],
            )

    # -- profiles and mappings -----------------------------------------------------------------------------------
    def _profile_due(self, table: str) -> bool:
        last = self._last_profiled.setdefault(table, self._clock())
        return self._clock() - last >= self.profile_interval_seconds

    def refresh_profiles(self, info: StreamInfo) -> dict[str, int]:
        """One ``_column_profiles`` row per column, measured on the whole table. Returns the distinct non-null
        values each column's profile counted (protected columns are not counted)."""
        table = info.table_name
        key = info.key_columns[0] if len(info.key_columns) == 1 else None
        unique = key is not None and self._unique_keys.get(table) == key
        rows = profile_rows(self, table, self.table_columns(table), set(info.protected_columns), key, unique)
        if self.sole_writer and key is not None and not unique:  # counted: distinct values = non-null values
            counted = next((row for row in rows if row[0] == key and row[5] is not None), None)
            if counted is not None and counted[5] == counted[3] - counted[4]:
                self._unique_keys[table] = key
        self.execute(
            "DELETE FROM _column_profiles WHERE LOWER(project) = ? AND table_name = ?", [self.run.project, table]
        )
        next_id = int((self.fetchone("SELECT COALESCE(MAX(id), 0) FROM _column_profiles") or (0,))[0])
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        params: list[t.Any] = []
        for offset, profile in enumerate(rows, start=1):
            params += [next_id + offset, self.run.project, self.run.project_id, table, *profile, now]
        if rows:  # one statement for every column's profile
            values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(rows))
            self.execute(
                "INSERT INTO _column_profiles (id, project, project_id, table_name, column_name, inferred_type, "  # noqa: S608
                "original_dtype, total_count, null_count, distinct_count, min_value, max_value, mean_value, "
                "distinct_values, value_distribution, min_date, max_date, sample_values, is_likely_key, "
                f"is_categorical, filter_category, filter_priority, created_at) VALUES {values}",
                params,
            )
        self._last_profiled[table] = self._clock()
        return {row[0]: row[5] for row in rows if row[5] is not None}

    def refresh_mappings(self, info: StreamInfo, counted: dict[str, int] | None = None) -> None:
        """Hub row for a configuration stream's key; spoke rows (with measured coverage) for its references.
        ``counted``: each column's distinct values as its profile just counted them in this transaction (the
        spokes' and the hub's cardinality: not counted again)."""
        project, table = self.run.project, info.table_name
        counted = counted or {}
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        self.execute(
            "DELETE FROM _column_mappings WHERE LOWER(project) = ? AND table_name = ? AND is_discovered = FALSE",
            [project, table],
        )
        next_id = int((self.fetchone("SELECT COALESCE(MAX(id), 0) FROM _column_mappings") or (0,))[0])
        insert = (
            "INSERT INTO _column_mappings (id, project, file_name, table_name, original_column, semantic_type, "
            "confidence, is_override, needs_review, is_hub, hub_table, hub_column, hub_cardinality, "
            "spoke_cardinality, coverage_pct, is_subset, created_at, updated_at, is_discovered, join_priority) "
            "VALUES (?, ?, ?, ?, ?, ?, 1.0, FALSE, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE, ?)"
        )
        live = self.table_columns(table)
        if info.hub_column and info.hub_semantic_type and info.hub_column in live:
            cardinality = spoke_coverage(self, table, info.hub_column, None, None, counted.get(info.hub_column))[0]
            next_id += 1
            self.execute(
                insert,
                [next_id, project, info.file_name, table, info.hub_column, info.hub_semantic_type, False, True,
                 table, info.hub_column, cardinality, None, None, None, now, now, 10],
            )  # fmt: skip
            self._refresh_spokes_of(info.hub_semantic_type, table, info.hub_column, now)
        for column, semantic_type in info.references.items():
            if column not in live:
                continue
            hub = self.fetchone(
                "SELECT hub_table, hub_column FROM _column_mappings WHERE LOWER(project) = ? AND semantic_type = ? "
                "AND is_hub = TRUE ORDER BY updated_at DESC LIMIT 1",
                [project, semantic_type],
            )
            hub_table, hub_column = (hub[0], hub[1]) if hub else (None, None)
            spoke_card, hub_card, matched = spoke_coverage(
                self, table, column, hub_table, hub_column, counted.get(column)
            )
            coverage = (100.0 * matched / spoke_card) if hub and spoke_card else None
            next_id += 1
            self.execute(
                insert,
                [next_id, project, info.file_name, table, column, semantic_type,
                 coverage is None or coverage < 95.0, False, hub_table, hub_column, hub_card if hub else None,
                 spoke_card, coverage, (matched == spoke_card) if hub else None, now, now, 50],
            )  # fmt: skip

    def _refresh_spokes_of(self, semantic_type: str, hub_table: str, hub_column: str, now: dt.datetime) -> None:
        """Spokes landed before their hub get their hub and coverage once the hub lands."""
        spokes = self.fetchall(
            "SELECT id, table_name, original_column FROM _column_mappings WHERE LOWER(project) = ? "
            "AND semantic_type = ? AND is_hub = FALSE",
            [self.run.project, semantic_type],
        )
        for mapping_id, table, column in spokes:
            if column not in self.table_columns(table):
                continue
            spoke_card, hub_card, matched = spoke_coverage(self, table, column, hub_table, hub_column)
            coverage = (100.0 * matched / spoke_card) if spoke_card else None
            self.execute(
                "UPDATE _column_mappings SET hub_table = ?, hub_column = ?, hub_cardinality = ?, "
                "spoke_cardinality = ?, coverage_pct = ?, is_subset = ?, needs_review = ?, updated_at = ? WHERE id = ?",
                [hub_table, hub_column, hub_card, spoke_card, coverage, matched == spoke_card,
                 coverage is None or coverage < 95.0, now, mapping_id],
            )  # fmt: skip

    def finalize(self, infos: list[StreamInfo]) -> None:
        """End of run: profiles and mappings of every table this run touched, configuration (hubs) first."""
        ordered = sorted(infos, key=lambda i: 0 if i.truth_type == "configuration" else 1)
        for info in ordered:
            if not self.table_columns(info.table_name):
                continue
            with self.transaction():
                counted = self.refresh_profiles(info)
                # a sole writer's table holds still between the two; another writer's may not
                self.refresh_mappings(info, counted if self.sole_writer else None)


def _replaced_sets_name(info: StreamInfo) -> str:
    """The run's temporary table of the sets of ``info``'s table replaced so far (``Store._replace_sets``)."""
    return "__xlr8_replaced_" + hashlib.sha256(info.table_name.encode()).hexdigest()[:16]


def _kept_sets_name(info: StreamInfo) -> str:
    """The temporary table of the sets of ``info``'s table an announcement keeps (dead-lettered this run), made and
    dropped by each announcement."""
    return "__xlr8_kept_" + hashlib.sha256(info.table_name.encode()).hexdigest()[:16]


#: Values bound in one statement of ``Store.empty_sets`` per list: far under PostgreSQL's 65,535 parameters.
_SET_VALUES = 10_000
#: Values one ``empty_sets`` statement binds at most, all columns together (PostgreSQL takes 65,535 parameters).
_SET_STATEMENT_VALUES = 60_000


def _set_chunk_sizes(counts: list[int]) -> list[int]:
    """Per ``replace_by`` column, the values of it one statement takes: at most ``_SET_VALUES``, and the largest
    halved until all together fit ``_SET_STATEMENT_VALUES`` (review28d L4: 7 columns of 10,000 values each bound
    70,000). Halving only what overflows keeps the statements (every combination of chunks) few."""
    sizes = [max(1, min(n, _SET_VALUES)) for n in counts]
    while sum(sizes) > _SET_STATEMENT_VALUES:
        widest = max(range(len(sizes)), key=sizes.__getitem__)
        if sizes[widest] == 1:
            break
        sizes[widest] = (sizes[widest] + 1) // 2
    return sizes


def _set_value(value: t.Any) -> str:
    """A value of an announced set as text, cast to its column's type in SQL (JSON gives text, numbers, booleans)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
