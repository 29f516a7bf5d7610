"""The shared-server delivery: the same layout in one PostgreSQL schema, for many pipelines at once.

Rows reach a temp table through COPY, then the same upsert SQL as DuckDB runs in one transaction.
"""

from __future__ import annotations

import re
import typing as t
from contextlib import contextmanager

import psycopg
from psycopg import sql as pgsql

from target_xlr8_truths.columns import Column
from target_xlr8_truths.naming import quote
from target_xlr8_truths.store import SEQ, Batch, RunContext, Store

_PLACEHOLDER = re.compile(r"\?")


def _pg(sql: str) -> str:
    """Our SQL uses ``?`` placeholders (DuckDB); psycopg wants ``%s`` and literal ``%`` doubled."""
    return _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))


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
        self.conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(schema)))
        self.conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(schema)))

    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> None:
        if params is None:
            self.conn.execute(sql.encode())
        else:
            self.conn.execute(_pg(sql).encode(), list(params))

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
