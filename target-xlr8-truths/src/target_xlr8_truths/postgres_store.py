"""The shared-server delivery: the same layout in one PostgreSQL schema, for many pipelines at once.

Rows reach a temp table through COPY, then the same upsert SQL as DuckDB runs in one transaction.

Many target processes may share one schema (every project, product and partition of a fleet). Each transaction
that changes a data table first takes ``pg_advisory_xact_lock`` on (schema, project, table): one writer per
project's table at a time, so the delete-then-insert upsert cannot interleave and lose or double rows, and the
table's metadata version cannot be counted twice. Schema and layout creation take a schema-wide lock, and the
profile and mapping rows (whose ids are counted per schema) one more, always after the table's lock, so no two
writers wait on each other in a cycle. Each keyed data table gets a unique index on its key columns: the upsert's
lookup uses it, and the database itself refuses a doubled key.
"""

from __future__ import annotations

import hashlib
import logging
import re
import typing as t
from contextlib import contextmanager

import psycopg
from psycopg import sql as pgsql

from target_xlr8_truths.columns import Column
from target_xlr8_truths.naming import quote
from target_xlr8_truths.store import SEQ, Batch, RunContext, Store, StreamInfo

log = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\?")


def _pg(sql: str) -> str:
    """Our SQL uses ``?`` placeholders (DuckDB); psycopg wants ``%s`` and literal ``%`` doubled."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


def advisory_key(*parts: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` (the same in every process and on every host)."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def key_index_name(table: str, keys: t.Sequence[str]) -> str:
    """At most 63 characters (PostgreSQL's identifier limit), distinct per table and key list."""
    digest = hashlib.blake2b("\x1f".join([table, *keys]).encode(), digest_size=5).hexdigest()
    return f"{table[:40]}__key_{digest}"


class PostgresStoreError(RuntimeError):
    """The PostgreSQL server could not be reached or refused the connection (DSN redacted)."""


class PostgresStore(Store):
    dialect = "postgres"

    def __init__(self, dsn: str, schema: str, run: RunContext, profile_interval_seconds: float = 300.0) -> None:
        super().__init__(run, profile_interval_seconds)
        try:
            self.conn = psycopg.connect(dsn, autocommit=True)
        except psycopg.OperationalError as exc:
            detail = str(exc).replace(dsn, "***").splitlines()[0] if str(exc) else type(exc).__name__
            raise PostgresStoreError(
                f"cannot connect to PostgreSQL with setting 'postgres_dsn': {detail[:200]}"
            ) from None
        self.schema = schema
        with self.conn.transaction():  # concurrent CREATE SCHEMA IF NOT EXISTS can still collide on the catalog
            self._lock("*", "schema")
            self.conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema)))
        self.conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(schema)))

    # -- concurrency -------------------------------------------------------------------------------------------
    def _lock(self, *parts: str) -> None:
        """Held until the surrounding transaction ends (commit, rollback, or the connection dying)."""
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", [advisory_key(self.schema, *parts)])

    def lock_table(self, table: str) -> None:
        """One writer per project's table at a time; re-entrant within a transaction."""
        self._lock(self.run.project, table)

    def ensure_layout(self) -> None:
        with self.transaction():
            self._lock("*", "layout")
            super().ensure_layout()

    def evolve_table(self, table: str, columns: list[Column]) -> list[Column]:
        self.lock_table(table)  # the first statement of every batch transaction
        return super().evolve_table(table, columns)

    def _merge(self, table: str, stage: str, columns: list[Column], keys: list[str], hard_delete: bool) -> int:
        if keys:
            self._ensure_key_index(table, keys)
        return super()._merge(table, stage, columns, keys, hard_delete)

    def _ensure_key_index(self, table: str, keys: list[str]) -> None:
        """Unique on the keys; a table that already holds doubled keys (loaded before this index existed) gets a
        plain index instead, and a warning, rather than a failed run. The index of an earlier key (one the target
        let extend, ``check_key_change``) is dropped: left, it refused every row new only in the added columns."""
        name = key_index_name(table, keys)
        if self.fetchone("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = ?", [name]):
            return
        prefix = f"{table[:40]}__key_"
        rows = self.fetchall(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?", [table]
        )
        for old in (str(row[0]) for row in rows if str(row[0]).startswith(prefix)):
            self.execute(f"DROP INDEX {quote(old)}")
        body = ", ".join(quote(k) for k in keys)
        try:
            with self.conn.transaction():  # a savepoint: a refused unique index must not abort the batch
                self.execute(f"CREATE UNIQUE INDEX {quote(name)} ON {quote(table)} ({body})")
        except psycopg.errors.UniqueViolation:
            log.warning("table %s holds repeated keys (%s): indexed without uniqueness", table, ", ".join(keys))
            self.execute(f"CREATE INDEX {quote(name)} ON {quote(table)} ({body})")

    def _rename(self, table: str, to: str, owner: str | None = None) -> None:
        """As ``Store._rename``, with the key index renamed too: its name derives from the table's, so a kept old
        name made the next write build a second unique index on the renamed table, and left a new table under the
        old name without one (``_ensure_key_index`` found the name taken). Both names are locked for writers."""
        with self.transaction():
            self.lock_table(table)
            self.lock_table(to)
            keys = self.stored_keys(table) or []
            current = key_index_name(table, keys) if keys else None
            prefix = f"{table[:40]}__key_"
            rows = self.fetchall(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = ?", [table]
            )
            for name in (str(row[0]) for row in rows if str(row[0]).startswith(prefix)):
                if name == current:
                    self.execute(f"ALTER INDEX {quote(name)} RENAME TO {quote(key_index_name(to, keys))}")
                else:  # an index of keys no longer stored: the next write builds the right one
                    self.execute(f"DROP INDEX {quote(name)}")
            super()._rename(table, to, owner)

    def activate_version(self, info: StreamInfo, version: int, hard_delete: bool) -> None:
        with self.transaction():
            self.lock_table(info.table_name)
            super().activate_version(info, version, hard_delete)

    def refresh_profiles(self, info: StreamInfo) -> dict[str, int]:
        self.lock_table(info.table_name)
        self._lock("*", "metadata-ids")  # ids are MAX(id) + n over the schema: one counter at a time
        return super().refresh_profiles(info)

    def refresh_mappings(self, info: StreamInfo, counted: dict[str, int] | None = None) -> None:
        self.lock_table(info.table_name)
        self._lock("*", "metadata-ids")
        super().refresh_mappings(info, counted)

    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> None:
        if params is None:
            self.conn.execute(sql.encode())
        else:
            self.conn.execute(_pg(sql).encode(), list(params))

    def execute_count(self, sql: str, params: t.Sequence[t.Any] | None = None) -> int:
        cursor = self.conn.execute(_pg(sql).encode(), list(params)) if params else self.conn.execute(sql.encode())
        return max(cursor.rowcount, 0)

    def fetchall(self, sql: str, params: t.Sequence[t.Any] | None = None) -> list[tuple[t.Any, ...]]:
        cursor = self.conn.execute(_pg(sql).encode(), list(params)) if params else self.conn.execute(sql.encode())
        return list(cursor.fetchall())

    @contextmanager
    def transaction(self) -> t.Iterator[None]:
        with self.conn.transaction():
            yield

    def stage(self, name: str, columns: list[Column], batch: Batch) -> None:
        body = ", ".join(f"{quote(c.name)} {c.sql_type('postgres')}" for c in columns)
        self.execute(f"CREATE TEMP TABLE {quote(name)} ({body}, {quote(SEQ)} BIGINT) ON COMMIT DROP")
        names = [c.name for c in columns] + [SEQ]
        copy_sql = f"COPY {quote(name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
        with self.conn.cursor() as cursor, cursor.copy(copy_sql.encode()) as copy:
            for row in batch.rows:
                copy.write_row([row.get(n) for n in names])

    def alter_type_sql(self, table: str, column: Column) -> str:
        kind = column.sql_type("postgres")
        name = quote(column.name)
        return f"ALTER TABLE {quote(table)} ALTER COLUMN {name} TYPE {kind} USING {name}::{kind}"

    def close(self) -> None:
        self.conn.close()
