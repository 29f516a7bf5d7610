"""Reading truths back: ``read_truths`` returns objects shaped like the engine's ``Truth``.

One truth per stream (table) currently registered for the project: its latest ledger row says which run and
window produced it, and the table's rows are its content.
"""

from __future__ import annotations

import json
import typing as t
from dataclasses import dataclass, field

from target_xlr8_truths.extras import import_psycopg
from target_xlr8_truths.layout import LEDGER_TABLE
from target_xlr8_truths.naming import DELETED_MARK, normalise_project, quote, row_counts_sql


@dataclass(frozen=True)
class Truth:
    source_type: str  # "reality" or "configuration"
    source_name: str  # stable per stream, e.g. "salesforce:accounts"
    content: list[dict[str, t.Any]]
    confidence: float
    location: str  # where the engine finds it: "<store>#<table>"
    metadata: dict[str, t.Any] = field(default_factory=dict)


def _connect(duckdb_path: str | None, postgres_dsn: str | None, postgres_schema: str) -> t.Any:
    if postgres_dsn:
        psycopg = import_psycopg()
        from psycopg import sql as pgsql

        conn = psycopg.connect(postgres_dsn, autocommit=True)
        conn.execute(pgsql.SQL("SET search_path TO {}").format(pgsql.Identifier(postgres_schema)))
        return conn
    import duckdb

    return duckdb.connect(duckdb_path or ".xlr8/truths.duckdb", read_only=True)


def read_truths(
    project: str,
    *,
    duckdb_path: str | None = None,
    postgres_dsn: str | None = None,
    postgres_schema: str = "xlr8",
    product: str | None = None,
    truth_type: str | None = None,
    entity: str | None = None,
    max_rows: int = 1000,
    include_deleted: bool = False,
) -> list[Truth]:
    """Truths of ``project`` (UUID, any case), optionally filtered; each carries at most ``max_rows`` rows, those
    still current: a row marked deleted (``_sdc_deleted_at``: gone from a full-table read, replaced with its set,
    deleted at the source) is history, not a truth, unless ``include_deleted``. ``row_count`` in the metadata
    counts the current rows, ``deleted_rows`` those marked deleted, counted now (a store written before
    ``_schema_metadata.row_count`` left marked rows out counted them too)."""
    project_key = normalise_project(project)
    conn = _connect(duckdb_path, postgres_dsn, postgres_schema)
    mark = "%s" if postgres_dsn else "?"
    try:
        sql = (
            "SELECT m.table_name, m.file_name, m.entity_type, m.truth_type, m.row_count, m.version, m.columns, "  # noqa: S608
            "l.product, l.instance, l.stream, l.run_id, l.rows_loaded, l.rows_dead_lettered, l.window_start, "
            "l.window_end, l.updated_at "
            f"FROM _schema_metadata m JOIN {LEDGER_TABLE} l ON l.table_name = m.table_name "
            "AND LOWER(l.project) = LOWER(m.project) "
            f"WHERE m.is_current = TRUE AND LOWER(m.project) = {mark} AND LEFT(l.stream, 5) <> 'xlr8:' "
            f"AND l.updated_at = (SELECT MAX(updated_at) FROM {LEDGER_TABLE} x WHERE x.table_name = m.table_name "
            "AND LOWER(x.project) = LOWER(m.project) AND LEFT(x.stream, 5) <> 'xlr8:')"
        )
        params: list[t.Any] = [project_key]
        for column, value in (("l.product", product), ("m.truth_type", truth_type), ("m.entity_type", entity)):
            if value is not None:
                sql += f" AND {column} = {mark}"
                params.append(value)
        sql += " ORDER BY m.table_name"
        rows = conn.execute(sql, params).fetchall()
        truths = []
        for row in rows:
            (table, file_name, entity_type, kind, _row_count, version, columns, prod, instance, stream, run_id,
             loaded, dead, window_start, window_end, updated_at) = row  # fmt: skip
            stored = [d[0] for d in conn.execute(f"SELECT * FROM {quote(table)} LIMIT 0").description]  # noqa: S608
            has_marks = DELETED_MARK in stored
            counts = conn.execute(row_counts_sql(table, has_marks)).fetchone()
            kept, marked = (int(counts[0]), int(counts[1])) if counts else (0, 0)
            live = "" if include_deleted or not has_marks else f" WHERE {quote(DELETED_MARK)} IS NULL"
            cursor = conn.execute(f"SELECT * FROM {quote(table)}{live} LIMIT {int(max_rows)}")  # noqa: S608
            names = [d[0] for d in cursor.description]
            content = [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]
            store = f"postgres:{postgres_schema}" if postgres_dsn else f"duckdb:{duckdb_path}"
            truths.append(
                Truth(
                    source_type=str(kind),
                    source_name=str(file_name),
                    content=content,
                    confidence=1.0,
                    location=f"{store}#{table}",
                    metadata={
                        "table_name": table,
                        "entity_type": entity_type,
                        "product": prod,
                        "instance": instance,
                        "stream": stream,
                        "run_id": run_id,
                        "row_count": kept - marked,
                        "deleted_rows": marked,
                        "version": version,
                        "rows_loaded": loaded,
                        "rows_dead_lettered": dead,
                        "window_start": window_start,
                        "window_end": window_end,
                        "loaded_at": updated_at,
                        "columns": columns if isinstance(columns, list) else json.loads(columns),
                    },
                )
            )
        return truths
    finally:
        conn.close()
