"""The embedded delivery: one DuckDB file, one writing process. Batches are spooled to JSONL and read by DuckDB's
``read_json`` (no per-row inserts); BATCH message files are read directly.
"""

from __future__ import annotations

import json
import os
import tempfile
import typing as t
from contextlib import contextmanager
from pathlib import Path

import duckdb

from target_xlr8_truths.columns import Column
from target_xlr8_truths.naming import quote
from target_xlr8_truths.store import SEQ, Batch, RunContext, Store

MAX_OBJECT = 16 * 1024 * 1024  # a JSON line larger than this takes the record path (fields cap at 8 MiB)
#: A digit run this long (or an exponent, or >9 decimals) may not survive DuckDB's double-based number parsing.
INEXACT_NUMBER = r"[0-9]{16,}|[0-9][eE][-+]?[0-9]|\.[0-9]{10,}"


class FastPathRefused(ValueError):
    """A BATCH file needs record-level handling (missing keys, inexact numbers); the transaction rolls back."""


class StoreLockedError(RuntimeError):
    """Another process (a running engine, another pipeline) holds the DuckDB file."""


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_json_columns(columns: list[Column], *, with_seq: bool = True, by_source: bool = False) -> str:
    # spooled JSON columns hold JSON text (cast to JSON on insert); BATCH files hold the nested value itself
    spec = {
        (c.source if by_source else c.name): "VARCHAR" if c.kind == "json" and not by_source else c.sql_type("duckdb")
        for c in columns
    }
    if with_seq:
        spec[SEQ] = "BIGINT"
    return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in spec.items()) + "}"


class DuckDBStore(Store):
    dialect = "duckdb"

    def __init__(
        self, path: str, run: RunContext, profile_interval_seconds: float = 300.0, memory_limit: str = "1GB"
    ) -> None:
        super().__init__(run, profile_interval_seconds)
        self.path = path
        Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        try:
            # a bounded buffer pool: large batches spill to disk instead of growing the process
            self.con = duckdb.connect(str(Path(path).expanduser()), config={"memory_limit": memory_limit})
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise StoreLockedError(
                    f"DuckDB file {path} is locked by another process (a running XLR8 engine or another pipeline); "
                    "DuckDB allows one writer. Stop that process, or set delivery to 'postgres' (many pipelines at "
                    "once) or 'upload' (send to the running engine's /api/upload)."
                ) from None
            raise

    def execute(self, sql: str, params: t.Sequence[t.Any] | None = None) -> None:
        self.con.execute(sql, list(params) if params is not None else None)

    def fetchall(self, sql: str, params: t.Sequence[t.Any] | None = None) -> list[tuple[t.Any, ...]]:
        return self.con.execute(sql, list(params) if params is not None else None).fetchall()

    @contextmanager
    def transaction(self) -> t.Iterator[None]:
        self.con.begin()
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        self.con.commit()

    def stage(self, name: str, columns: list[Column], batch: Batch) -> None:
        if batch.files:
            files = ", ".join(_literal(f) for f in batch.files)
            # BATCH files carry no sequence: file and line order stand in for it
            spec = _read_json_columns(columns, with_seq=False, by_source=True)
            select = ", ".join(f"{quote(c.source)} AS {quote(c.name)}" for c in columns)
            self.execute(
                f"CREATE TEMP TABLE {name} AS SELECT {select}, CAST(row_number() OVER () AS BIGINT) AS {SEQ} "  # noqa: S608
                f"FROM read_json([{files}], format='newline_delimited', columns={spec}, "
                f"maximum_object_size={MAX_OBJECT})"
            )
            keys = batch.info.key_columns
            if keys:
                missing = " OR ".join(f"{quote(k)} IS NULL" for k in keys)
                row = self.fetchone(f"SELECT COUNT(*) FROM {name} WHERE {missing}")  # noqa: S608
                if row and int(row[0]):
                    raise FastPathRefused(f"{row[0]} rows lack a key: they go through the record path")
            return
        spec = _read_json_columns(columns)
        fd, path = tempfile.mkstemp(prefix="xlr8-truths-spool-", suffix=".jsonl")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as spool:
                dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
                spool.writelines(dumps(row) + "\n" for row in batch.rows)
            self.execute(
                f"CREATE TEMP TABLE {name} AS SELECT * FROM read_json({_literal(path)}, format='newline_delimited', "  # noqa: S608
                f"columns={spec}, maximum_object_size={MAX_OBJECT})"
            )
        finally:
            os.unlink(path)

    def numbers_are_exact(self, path: str) -> bool:
        row = self.fetchone(
            f"SELECT COUNT(*) FROM read_csv({_literal(path)}, columns={{'line': 'VARCHAR'}}, "  # noqa: S608
            f"delim='{chr(1)}', quote='', escape='', header=false, max_line_size={MAX_OBJECT}) "
            "WHERE regexp_matches(line, ?)",
            [INEXACT_NUMBER],
        )
        return row is not None and int(row[0]) == 0

    def close(self) -> None:
        self.con.close()
