"""Column profiles and hub/spoke coverage, measured in SQL on the landed table (portable DuckDB/PostgreSQL)."""

from __future__ import annotations

import json
import typing as t

from target_xlr8_truths.columns import parse_sql_type
from target_xlr8_truths.naming import quote

if t.TYPE_CHECKING:
    from target_xlr8_truths.store import Store

CATEGORICAL_LIMIT = 100
SAMPLE_SIZE = 5
DOUBLE = "DOUBLE PRECISION"

#: filter_category by column-name words, in the engine's priority order.
FILTER_CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("status", ("status", "active", "state_code")),
    ("company", ("company", "legal_entity", "employer")),
    ("organization", ("organization", "org", "department", "division", "cost_center", "business_unit")),
    ("location", ("location", "site", "work_location", "country", "city", "region")),
    ("pay_type", ("pay_type", "pay_group", "pay_frequency", "flsa", "salary_type", "pay_class")),
    ("employee_type", ("employee_type", "worker_type", "employment_type", "emp_type", "employee_class")),
    ("job", ("job", "position", "title", "occupation")),
]


def filter_category(column: str) -> tuple[str | None, int | None]:
    words = column.lower()
    for priority, (category, needles) in enumerate(FILTER_CATEGORIES, start=1):
        if any(needle == words or needle in words.split("_") or words.startswith(needle) for needle in needles):
            return category, priority
    return None, None


NUMERIC_KINDS = frozenset({"integer", "decimal", "double"})


def _inferred(kind: str, distinct: int, likely_key: bool) -> str:
    if kind in NUMERIC_KINDS:
        return "numeric"
    if kind in {"date", "timestamp"}:
        return "date"
    if kind == "boolean":
        return "boolean"
    return "categorical" if distinct <= CATEGORICAL_LIMIT and not likely_key else "text"


def profile_rows(
    store: Store,
    table: str,
    columns: dict[str, str],
    protected: t.Collection[str] = (),
    key: str | None = None,
    key_unique: bool = False,
) -> list[list[t.Any]]:
    """One profile per column; PII columns (encrypted, hashed) get counts only: no values, samples or ranges.
    ``key``: the stream's one key column, whose values the upserts keep unique (``_key_distribution``);
    ``key_unique``: its non-null values are known unique (``Store._unique_keys``), so they are not counted again."""
    if not columns:
        return []
    qt = quote(table)
    selects = ["COUNT(*)"]
    for name, data_type in columns.items():
        kind, _ = parse_sql_type(data_type)
        q = quote(name)
        selects.append(f"COUNT({q})")
        if name in protected:
            selects += ["NULL", "NULL", "NULL"]
        elif kind in NUMERIC_KINDS:
            selects += [f"CAST(MIN({q}) AS {DOUBLE})", f"CAST(MAX({q}) AS {DOUBLE})", f"CAST(AVG({q}) AS {DOUBLE})"]
        elif kind in {"date", "timestamp"}:
            selects += [f"CAST(MIN({q}) AS VARCHAR)", f"CAST(MAX({q}) AS VARCHAR)", "NULL"]
        else:
            selects += ["NULL", "NULL", "NULL"]
    row = store.fetchone(f"SELECT {', '.join(selects)} FROM {qt}")  # noqa: S608
    assert row is not None
    total = int(row[0])
    out: list[list[t.Any]] = []
    for index, (name, data_type) in enumerate(columns.items()):
        kind, _ = parse_sql_type(data_type)
        non_null, low, high, mean = row[1 + index * 4 : 5 + index * 4]
        non_null = int(non_null)
        if name in protected:
            out.append([name, "pii", data_type, total, total - non_null, None, *[None] * 8, False, False, None, None])
            continue
        distribution: list[tuple[str, int]] = []
        if non_null == 0:  # no value to group (as often the ``_sdc_deleted_at`` of a whole table)
            distinct = 0
        elif name == key:
            distinct, distribution = _key_distribution(store, qt, quote(name), non_null if key_unique else None)
        else:
            distinct, distribution = _distribution(store, qt, quote(name))
        categorical = distinct <= CATEGORICAL_LIMIT
        distinct_values = sorted(str(v) for v, _ in distribution) if categorical else None
        category, priority = filter_category(name) if categorical else (None, None)
        numeric = kind in NUMERIC_KINDS
        dated = kind in {"date", "timestamp"}
        likely_key = total > 0 and distinct > 10 and distinct / total > 0.95
        out.append(
            [
                name,
                _inferred(kind, distinct, likely_key),
                data_type,
                total,
                total - non_null,
                distinct,
                float(low) if numeric and low is not None else None,
                float(high) if numeric and high is not None else None,
                float(mean) if numeric and mean is not None else None,
                json.dumps(distinct_values) if distinct_values is not None else None,
                json.dumps({str(v): int(n) for v, n in distribution}),
                low if dated else None,
                high if dated else None,
                json.dumps([str(v) for v, _ in distribution[:SAMPLE_SIZE]]),
                likely_key,
                categorical,
                category,
                priority,
            ]
        )
    return out


def _distribution(store: Store, qt: str, q: str) -> tuple[int, list[tuple[str, int]]]:
    """Distinct count and the top value counts from one grouping pass on the column's own values (text only for
    the groups, not every row; values and their text correspond one to one for every column type written here).
    The groups are materialized once and counted by a subquery: a window over every group (``COUNT(*) OVER ()``)
    cost a third more on a column of 500,000 distinct values. PostgreSQL materializes a CTE read twice by itself,
    and before version 12 refuses the keyword (review 19a), so only DuckDB is told."""
    materialized = "MATERIALIZED " if store.dialect == "duckdb" else ""
    top = store.fetchall(
        f"WITH g AS {materialized}(SELECT {q} AS v, COUNT(*) AS n FROM {qt} WHERE {q} IS NOT NULL GROUP BY {q}) "  # noqa: S608
        f"SELECT CAST(v AS VARCHAR), n, (SELECT COUNT(*) FROM g) AS groups FROM g "
        f"ORDER BY n DESC, CAST(v AS VARCHAR) LIMIT {CATEGORICAL_LIMIT}"
    )
    return (int(top[0][2]) if top else 0), [(str(v), int(n)) for v, n, _ in top]


def _key_distribution(
    store: Store, qt: str, q: str, unique_count: int | None = None
) -> tuple[int, list[tuple[str, int]]]:
    """``_distribution`` of a key column, at about half its cost on 1M rows: a grouping that only counts (no window,
    no text per group) shows whether every value is unique; then every count is 1, so the top values are the first
    by text, found by a top-N sort of the column. A key holding a repeated value takes ``_distribution``.
    ``unique_count``: the column's non-null values, known unique; then nothing is grouped."""
    if unique_count is None:
        row = store.fetchone(
            f"SELECT COUNT(*), MAX(n) FROM (SELECT COUNT(*) AS n FROM {qt} WHERE {q} IS NOT NULL GROUP BY {q}) AS g"  # noqa: S608
        )
        if row is None or int(row[0]) == 0 or int(row[1]) != 1:
            return _distribution(store, qt, q)
        unique_count = int(row[0])
    if unique_count == 0:
        return 0, []
    first = store.fetchall(
        f"SELECT v FROM (SELECT CAST({q} AS VARCHAR) AS v FROM {qt} WHERE {q} IS NOT NULL) AS c "  # noqa: S608
        f"ORDER BY v LIMIT {CATEGORICAL_LIMIT}"
    )
    return unique_count, [(str(v), 1) for (v,) in first]


def spoke_coverage(
    store: Store,
    table: str,
    column: str,
    hub_table: str | None,
    hub_column: str | None,
    spoke_distinct: int | None = None,
) -> tuple[int, int, int]:
    """(distinct spoke values, distinct hub values, spoke values found in the hub), compared as text.
    ``spoke_distinct``: the spoke column's distinct values, when its profile has just counted them."""
    q = quote(column)
    spoke = spoke_distinct
    if spoke is None:
        spoke = int((store.fetchone(f"SELECT COUNT(DISTINCT {q}) FROM {quote(table)}") or (0,))[0])  # noqa: S608
    if not hub_table or not hub_column or hub_column not in store.table_columns(hub_table):
        return spoke, 0, 0
    hq = quote(hub_column)
    hub = int((store.fetchone(f"SELECT COUNT(DISTINCT {hq}) FROM {quote(hub_table)}") or (0,))[0])  # noqa: S608
    matched_row = store.fetchone(
        f"SELECT COUNT(*) FROM (SELECT DISTINCT CAST({q} AS VARCHAR) AS v FROM {quote(table)} WHERE {q} IS NOT NULL) s "  # noqa: S608
        f"WHERE s.v IN (SELECT CAST({hq} AS VARCHAR) FROM {quote(hub_table)} WHERE {hq} IS NOT NULL)"
    )
    return spoke, hub, int((matched_row or (0,))[0])
