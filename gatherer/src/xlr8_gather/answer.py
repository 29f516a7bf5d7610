# ruff: noqa: S608 - SQL names only the store's own tables and columns (quoted); values are parameters
"""The answer to a question, computed with DuckDB from the rows a gather landed (not from memory): counts, sums,
averages or lists, optionally grouped. A measure or grouping column the store holds encrypted (PII, ``ENC256:``)
is not computed: the answer says why instead."""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field
from decimal import Decimal

from target_xlr8_truths.naming import snake_case

ENCRYPTED_PREFIX = "ENC256:"


@dataclass(frozen=True)
class Answer:
    product: str
    entity: str
    #: count, sum, average or list
    kind: str
    measure: str | None = None
    group_by: str | None = None
    #: The count, sum or average (list: the number of rows); None when it could not be computed.
    value: Decimal | int | None = None
    #: (group value, figure) per group, largest group key order (sorted by key)
    groups: tuple[tuple[t.Any, Decimal | int | None], ...] = ()
    #: Keys of the rows a list answer names (up to ``LIST_LIMIT``).
    items: tuple[t.Any, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def text(self) -> str:
        what = {"count": "count", "list": "rows"}.get(self.kind) or f"{self.kind} of {self.measure}"
        head = f"{self.product} {self.entity}: {what}"
        if self.group_by:
            head += f" by {self.group_by}"
        lines = [f"{head} = {_fmt(self.value)}" if not self.group_by else head + ":"]
        lines += [f"  {_fmt(key)}: {_fmt(value)}" for key, value in self.groups]
        if self.items:
            lines.append(
                "  " + ", ".join(str(i) for i in self.items) + (" ..." if len(self.items) >= LIST_LIMIT else "")
            )
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


LIST_LIMIT = 20


def _fmt(value: t.Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, Decimal):
        return format(value.normalize(), "f") if value == value.to_integral_value() else format(value, "f")
    return str(value)


def compute(
    *,
    duckdb_path: str,
    table: str,
    product: str,
    entity: str,
    kind: str,
    measure: str | None,
    group_by: str | None,
    canonical_fields: t.Mapping[str, str],
    key_properties: t.Sequence[str],
    rows: t.Sequence[t.Mapping[str, t.Any]],
    aggregated: str | None = None,
) -> Answer:
    """The answer over the landed rows of this read: the table's current rows whose keys were read now.

    ``aggregated`` (why the rows are aggregates, not one per entity) refuses a count, list or average: over
    balances those would be a number of dimension combinations presented as one of entities. Sums stay.
    """
    import duckdb

    column_of = {canonical: snake_case(column) for column, canonical in canonical_fields.items()}
    notes: list[str] = []
    with duckdb.connect() as conn:
        conn.execute("SET TimeZone = 'UTC'")  # as the target read a date-time without an offset
        conn.execute(f"ATTACH '{duckdb_path.replace(chr(39), chr(39) * 2)}' AS landed (READ_ONLY)")
        source = f'landed."{table}"'
        columns = {name: kind_ for name, kind_, *_ in conn.execute(f"DESCRIBE {source}").fetchall()}
        where = '"_sdc_deleted_at" IS NULL' if "_sdc_deleted_at" in columns else "TRUE"
        # every key part, compared in the stored type (a date or number key read back as text has another
        # spelling): a join on part of the key would answer over rows of other days or ids that this read never saw
        keys = [snake_case(k) for k in key_properties]
        missing = [k for k in keys if k not in columns]
        if missing or not rows:
            if missing:
                notes.append(f"key column(s) {', '.join(missing)} not in the store: no landed row located")
            source = f"(SELECT * FROM {source} WHERE FALSE)"
        elif keys:
            conn.execute("CREATE TEMP TABLE read_keys (" + ", ".join(f'"{k}" VARCHAR' for k in keys) + ")")
            conn.executemany(
                "INSERT INTO read_keys VALUES (" + ", ".join("?" for _ in keys) + ")",
                [[None if r.get(k) is None else str(r.get(k)) for k in key_properties] for r in rows],
            )
            join = " AND ".join(
                f'CAST(t."{k}" AS VARCHAR) = r."{k}"'
                if columns[k].startswith("VARCHAR")
                else f't."{k}" = TRY_CAST(r."{k}" AS {columns[k]})'
                for k in keys
            )
            source = f"(SELECT t.* FROM {source} t SEMI JOIN read_keys r ON {join})"
        landed = _one(conn, f"SELECT COUNT(*) FROM {source} WHERE {where}")
        if landed != len(rows):
            notes.append(f"{len(rows)} row(s) read, {landed} found in the store by key")

        def encrypted(column: str) -> bool:
            if not columns.get(column, "").startswith("VARCHAR"):
                return False
            hit = _one(conn, f'SELECT COUNT(*) FROM {source} WHERE "{column}" LIKE ?', [ENCRYPTED_PREFIX + "%"])
            return bool(hit)

        if aggregated and kind in ("count", "list", "average"):
            notes.append(f"{aggregated}: its rows are not one per {entity}, so their {kind} is not computed here")
            return Answer(product, entity, kind, measure, group_by, None, (), (), tuple(notes))
        figure = "COUNT(*)"
        if kind in ("sum", "average"):
            column = column_of.get(measure or "")
            if column is None or column not in columns:
                notes.append(f"{product} {entity} has no {measure} column: counted instead")
                kind = "count"
            elif encrypted(column):
                notes.append(
                    f"{measure} is encrypted in the store (PII, {ENCRYPTED_PREFIX}): its {kind} is not computed here"
                )
                return Answer(product, entity, kind, measure, group_by, None, (), (), tuple(notes))
            else:
                figure = f'{"SUM" if kind == "sum" else "AVG"}(TRY_CAST("{column}" AS DECIMAL(38, 9)))'
        group_column = column_of.get(group_by or "")
        if group_by and (group_column is None or group_column not in columns):
            notes.append(f"{product} {entity} has no {group_by} column: not grouped")
            group_by = None
        elif group_column and encrypted(group_column):
            notes.append(f"{group_by} is encrypted in the store (PII): not grouped")
            group_by = None
        if group_by:
            found = conn.execute(
                f'SELECT "{group_column}", {figure} FROM {source} WHERE {where} GROUP BY 1 ORDER BY 1 NULLS LAST'
            ).fetchall()
            groups = tuple((key, _number(value)) for key, value in found)
            return Answer(product, entity, kind, measure, group_by, None, groups, (), tuple(notes))
        value = _number(_one(conn, f"SELECT {figure} FROM {source} WHERE {where}"))
        items: tuple[t.Any, ...] = ()
        if kind == "list" and keys:
            found = conn.execute(
                f'SELECT "{keys[0]}" FROM {source} WHERE {where} ORDER BY 1 LIMIT {LIST_LIMIT}'
            ).fetchall()
            items = tuple(r[0] for r in found)
        return Answer(product, entity, kind, measure, None, value, (), items, tuple(notes))


def nothing_read(product: str, entity: str, kind: str, measure: str | None, group_by: str | None) -> Answer:
    """The answer when no row matched (nothing landed, so there is no table to ask)."""
    value: int | None = 0 if kind in ("count", "list") else None
    if kind == "sum":
        value = 0
    notes = ("no row matched",) if kind == "average" else ()
    return Answer(product, entity, kind, measure, group_by, None if group_by else value, (), (), notes)


def _one(conn: t.Any, sql: str, params: list[t.Any] | None = None) -> t.Any:
    row = conn.execute(sql, params or []).fetchone()
    assert row is not None
    return row[0]


def _number(value: t.Any) -> Decimal | int | None:
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return Decimal(str(round(value, 6)))
    number = Decimal(value)
    return number.quantize(Decimal("0.01")) if number != number.to_integral_value() else number
