"""Retention and erasure on a project's truths: ``xlr8 truths purge``, ``xlr8 truths erase --person`` and
``xlr8 truths rekey-dead-letters`` (old dead letters' clear PII key values hashed).

Purge removes superseded and soft-deleted rows (``_sdc_deleted_at`` set) older than ``keep_days`` or from table
versions older than the newest ``keep_versions``. Erasure removes one person's rows from every table of the project
(columns the tap mapped to the vocabulary's person keys, ``employee_id``/``person_id``), clears references to them
(``manager_id``), drops their dead letters and re-profiles the touched tables so no sample keeps them. Each action
writes one ledger row per table (stream ``xlr8:purge:<table>`` / ``xlr8:erase:<table>``): counts only, never the
person's id.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import typing as t
import uuid
from dataclasses import dataclass

from target_xlr8_truths.layout import DEAD_LETTER_TABLE, FIELDS_TABLE, LEDGER_TABLE, MARKS_TABLE
from target_xlr8_truths.naming import column_names, normalise_project, quote
from target_xlr8_truths.store import RunContext, Store, StreamInfo

PERSON_KEYS = ("employee_id", "person_id")
#: The ``_truths_marks`` mark: no dead letter of the project keeps a hashed key column's value in clear. Versioned:
#: the first mark (``dead_letter_keys_hashed``) was also recorded by a scan that skipped letters of an older key
#: width (review27c L3), so each store is scanned once more under this name (review28d M4).
LETTER_KEYS_HASHED = "dead_letter_keys_hashed_v2"
PERSON_REFERENCES = ("manager_id",)


@dataclass(frozen=True)
class TableChange:
    table: str
    removed: int
    cleared: int = 0


def _tables(store: Store) -> list[str]:
    rows = store.fetchall(
        "SELECT DISTINCT table_name FROM _schema_metadata WHERE LOWER(project) = ? AND is_current = TRUE "
        "ORDER BY table_name",
        [store.run.project],
    )
    return [str(r[0]) for r in rows if store.table_columns(str(r[0]))]


def _count(store: Store, table: str, where: str = "TRUE", params: t.Sequence[t.Any] = ()) -> int:
    row = store.fetchone(f"SELECT COUNT(*) FROM {quote(table)} WHERE {where}", list(params))  # noqa: S608
    return int(row[0]) if row else 0


def _current(store: Store, table: str) -> int:
    """``_schema_metadata.row_count``: the table's rows not marked deleted."""
    stored, marked = store.row_counts(table)
    return stored - marked


def _record(store: Store, action: str, table: str, change: TableChange) -> None:
    now = dt.datetime.now(dt.UTC)
    store.execute(
        f"INSERT INTO {LEDGER_TABLE} (project, run_id, product, instance, stream, table_name, entity_type, "  # noqa: S608
        "truth_type, rows_received, rows_loaded, rows_dead_lettered, window_start, window_end, started_at, "
        "updated_at) VALUES (?, ?, 'xlr8', NULL, ?, ?, NULL, NULL, ?, ?, 0, NULL, NULL, ?, ?)",
        [store.run.project, store.run.run_id, f"xlr8:{action}:{table}", table, change.removed, change.cleared,
         store.run.started_at, now],
    )  # fmt: skip
    store.execute(
        "UPDATE _schema_metadata SET row_count = ? WHERE LOWER(project) = ? AND table_name = ? AND is_current = TRUE",
        [_current(store, table), store.run.project, table],
    )


def _fields(store: Store, table: str) -> dict[str, tuple[str | None, str | None]]:
    rows = store.fetchall(
        f"SELECT column_name, canonical_field, pii_action FROM {FIELDS_TABLE} "  # noqa: S608
        "WHERE project = ? AND table_name = ?",
        [store.run.project, table],
    )
    return {str(c): (f, a) for c, f, a in rows}


def _person_fields(store: Store, table: str) -> dict[str, tuple[str | None, str | None]]:
    """``_fields`` of ``table``; for an archive a key change left before its fields moved with it (``__v{n}``, no
    fields of its own), those of the current table of the same stream for the columns the archive has (audit25e
    F17: erasure found no person column in it and left every row)."""
    fields = _fields(store, table)
    if fields or "__v" not in table:
        return fields
    owner = store.table_owner(table)
    rows = store.fetchall(
        "SELECT DISTINCT table_name FROM _schema_metadata WHERE LOWER(project) = ? AND file_name = ? "
        "AND table_name <> ? AND is_current = TRUE",
        [store.run.project, owner, table],
    )
    columns = store.table_columns(table)
    for (other,) in rows:
        found = {c: f for c, f in _fields(store, str(other)).items() if c in columns}
        if found:
            return found
    return {}


def _letter_matches(
    key: t.Any, payload: t.Any, key_columns: list[str], person_columns: set[str], values: set[str]
) -> bool:
    """A dead letter holds the person: a person column's part of its ``record_key`` (by the table's key order), or
    a payload field landing in a person column, is the id or its hash (audit25e F17: only a key that was the person
    id alone was matched, so letters of composite-key streams kept the person)."""
    if isinstance(key, list) and len(key) == 1 and key[0] is not None and str(key[0]) in values:
        return True  # a key that is the id alone (what erasure matched before, annotated or not)
    if isinstance(key, list):
        for column, part in zip(key_columns, key, strict=False):
            if column in person_columns and part is not None and str(part) in values:
                return True
    if isinstance(payload, dict):
        names = column_names([str(k) for k in payload])
        for source, value in payload.items():
            if names.get(str(source)) in person_columns and value is not None and str(value) in values:
                return True
    return False


def _erase_dead_letters(store: Store, table: str, person_columns: set[str], values: set[str]) -> int:
    """Remove the dead letters of ``table`` that hold the person (``_letter_matches``); how many."""
    keys = store.fetchone(
        "SELECT likely_keys FROM _schema_metadata WHERE LOWER(project) = ? AND table_name = ? "
        "ORDER BY is_current DESC, version DESC LIMIT 1",
        [store.run.project, table],
    )
    key_columns = _json(keys[0]) if keys else None
    letters = store.fetchall(
        f"SELECT run_id, CAST(record_key AS VARCHAR), CAST(payload AS VARCHAR) FROM {DEAD_LETTER_TABLE} "  # noqa: S608
        "WHERE LOWER(project) = ? AND table_name = ?",
        [store.run.project, table],
    )
    removed = 0
    for run_id, key, payload in letters:
        if not _letter_matches(_json(key), _json(payload), list(key_columns or []), person_columns, values):
            continue
        store.execute(
            f"DELETE FROM {DEAD_LETTER_TABLE} WHERE LOWER(project) = ? AND table_name = ? "  # noqa: S608
            "AND run_id = ? AND CAST(record_key AS VARCHAR) IS NOT DISTINCT FROM ? "
            "AND CAST(payload AS VARCHAR) IS NOT DISTINCT FROM ?",
            [store.run.project, table, run_id, key, payload],
        )
        removed += 1
    return removed


def _json(value: t.Any) -> t.Any:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return None


def _reprofile(store: Store, table: str, fields: dict[str, tuple[str | None, str | None]]) -> None:
    protected = [c for c, (_, action) in fields.items() if action in {"encrypt", "hash"}]
    info = StreamInfo(table, "xlr8", "", "reality", table, table, table, [], protected_columns=protected)
    store.refresh_profiles(info)


def purge(store: Store, *, keep_days: int | None = None, keep_versions: int | None = None) -> list[TableChange]:
    """Remove superseded/soft-deleted rows beyond the retention; live rows are never touched."""
    if keep_days is None and keep_versions is None:
        raise ValueError("give keep_days and/or keep_versions (setting 'retention_days' / 'retention_versions')")
    changes = []
    deleted_at, version = quote("_sdc_deleted_at"), quote("_sdc_table_version")
    with store.transaction():
        for table in _tables(store):
            columns = store.table_columns(table)
            if "_sdc_deleted_at" not in columns:
                continue
            clauses, params = [], []
            if keep_days is not None:
                clauses.append(f"{deleted_at} < ?")
                params.append(dt.datetime.now(dt.UTC) - dt.timedelta(days=keep_days))
            if keep_versions is not None and "_sdc_table_version" in columns:
                versions = store.fetchall(
                    f"SELECT DISTINCT {version} FROM {quote(table)} WHERE {version} IS NOT NULL "  # noqa: S608
                    f"ORDER BY 1 DESC LIMIT {int(keep_versions)}"
                )
                if len(versions) == keep_versions:
                    clauses.append(f"({version} IS NULL OR {version} < ?)")
                    params.append(versions[-1][0])
            if not clauses:
                continue
            where = f"{deleted_at} IS NOT NULL AND ({' OR '.join(clauses)})"
            removed = _count(store, table, where, params)
            if removed:
                store.execute(f"DELETE FROM {quote(table)} WHERE {where}", params)  # noqa: S608
                change = TableChange(table, removed)
                _record(store, "purge", table, change)
                changes.append(change)
                _reprofile(store, table, _fields(store, table))
    return changes


def erase_person(
    store: Store, person_id: str, *, hash_value: t.Callable[[str], str] | None = None
) -> list[TableChange]:
    """Remove one person from every table of the project (all in one transaction)."""
    changes = []
    with store.transaction():
        for table in _tables(store):
            fields = _person_fields(store, table)
            removed = cleared = 0
            for column, (canonical, action) in fields.items():
                value: str = person_id
                if action == "hash" and canonical in PERSON_KEYS + PERSON_REFERENCES:
                    if hash_value is None:
                        raise ValueError(
                            f"{table}.{column} is hashed: erasure needs the PII key (setting 'pii_key_file')"
                        )
                    value = hash_value(person_id)
                if canonical not in PERSON_KEYS + PERSON_REFERENCES:
                    continue
                qt, match = quote(table), f"CAST({quote(column)} AS VARCHAR) = ?"
                n = _count(store, table, match, [value])
                if not n:
                    continue
                if canonical in PERSON_KEYS:
                    store.execute(f"DELETE FROM {qt} WHERE {match}", [value])  # noqa: S608
                    removed += n
                else:
                    store.execute(f"UPDATE {qt} SET {quote(column)} = NULL WHERE {match}", [value])  # noqa: S608
                    cleared += n
            person = {c for c, (canonical, _) in fields.items() if canonical in PERSON_KEYS}
            values = {person_id} | ({hash_value(person_id)} if hash_value is not None else set())
            # the letters keep a PII key hashed as its table does (audit25e F19)
            removed += _erase_dead_letters(store, table, person, values)
            if removed or cleared:
                change = TableChange(table, removed, cleared)
                _record(store, "erase", table, change)
                changes.append(change)
                _reprofile(store, table, fields)
    return changes


# -- ``xlr8 truths`` ------------------------------------------------------------------------------------------------
def register(commands: t.Any) -> None:
    """Adds ``xlr8 truths purge|erase|rekey-dead-letters`` to the kit's ``xlr8`` command (entry point group
    ``xlr8.commands``)."""
    truths = commands.add_parser("truths", help="retention and erasure on a project's landed truths")
    actions = truths.add_subparsers(dest="truths_command", required=True, metavar="ACTION")
    for name, text in (("purge", "remove superseded and soft-deleted rows beyond the retention"),
                       ("erase", "remove one person from every table of the project"),
                       ("rekey-dead-letters", "hash the PII key values older dead letters keep in clear")):  # fmt: skip
        sub = actions.add_parser(name, help=text)
        sub.add_argument("--project", required=True, help="engine project id (UUID)")
        sub.add_argument("--duckdb", default=".xlr8/truths.duckdb", help="DuckDB store (default %(default)s)")
        sub.add_argument("--postgres-dsn", help="PostgreSQL store instead of DuckDB (or $XLR8_POSTGRES_DSN)")
        sub.add_argument("--postgres-schema", help="the PostgreSQL store's schema (default xlr8); needs a DSN")
        if name == "purge":
            sub.add_argument("--keep-days", type=int, help="keep superseded/deleted rows this many days")
            sub.add_argument("--keep-versions", type=int, help="keep superseded rows of the newest N table versions")
        elif name == "erase":
            sub.add_argument("--person", required=True, help="the person's id (employee or person id)")
            sub.add_argument("--pii-key-file", help="engine key, needed when a person key column is hashed")
        else:
            sub.add_argument(
                "--pii-key-file", required=True, help="the engine key the project's columns were hashed with"
            )
            sub.add_argument(
                "--rewrite", action="store_true",
                help="rewrite the DuckDB file even when no letter is left to hash (a target hashed them), so the "
                "old values leave its free blocks",
            )  # fmt: skip
        sub.set_defaults(handler=_run_cli)


def _check_key(store: Store, hash_value: t.Callable[[str], str], undone: str = "erased") -> None:
    """The key given must be the one the project's protected columns were written with (``_truths_keys``):
    another matches no hashed value, and the erasure would report nothing found as done (audit25e F10)."""
    from target_xlr8_truths.layout import KEYS_TABLE
    from target_xlr8_truths.privacy import KEY_CHECK_TEXT

    row = store.fetchone(f"SELECT key_check FROM {KEYS_TABLE} WHERE project = ?", [store.run.project])  # noqa: S608
    if row and str(row[0]) != hash_value(KEY_CHECK_TEXT):
        raise ValueError(
            f"--pii-key-file is not the key project {store.run.project}'s protected columns were written with (its "
            f"check value in {KEYS_TABLE} differs); nothing was {undone}"
        )


class StoreChoiceError(ValueError):
    """The options name no existing store (an empty DSN, a schema without one, a DuckDB path with no file): the
    maintenance commands never create a store, so none reports an action done on an empty one (exit 2)."""


def open_store(args: argparse.Namespace, action: str) -> Store:
    import os

    run = RunContext(
        project=normalise_project(args.project),
        project_id=normalise_project(args.project),
        run_id=f"{action}-{uuid.uuid4()}",
        instance=None,
        started_at=dt.datetime.now(dt.UTC),
    )
    from pathlib import Path

    dsn = args.postgres_dsn if args.postgres_dsn is not None else os.environ.get("XLR8_POSTGRES_DSN")
    if dsn is not None and not dsn.strip():
        # a pasted `--postgres-dsn "$XLR8_POSTGRES_DSN"` with the variable unset: never fall back to a new DuckDB
        # file and report the action done on it (review27c M3)
        raise StoreChoiceError(
            "--postgres-dsn is empty (or $XLR8_POSTGRES_DSN is set but empty): give the PostgreSQL store's DSN (the "
            "target's postgres_dsn setting); nothing was done"
        )
    if dsn:
        from target_xlr8_truths.postgres_store import PostgresStore

        store: Store = PostgresStore(dsn, args.postgres_schema or "xlr8", run, 0.0)
    else:
        from target_xlr8_truths.duckdb_store import DuckDBStore
        from target_xlr8_truths.spool import Spool

        if args.postgres_schema is not None:
            raise StoreChoiceError(
                "--postgres-schema needs --postgres-dsn (or $XLR8_POSTGRES_DSN): without one the action would run "
                "on the DuckDB store; nothing was done"
            )
        if not Path(args.duckdb).expanduser().is_file():
            raise StoreChoiceError(
                f"--duckdb {args.duckdb}: no DuckDB store there (the target's duckdb_path); nothing was done"
            )
        spool = Spool(Path(args.duckdb).expanduser().parent / "truths-spool")
        store = DuckDBStore(args.duckdb, run, spool, 0.0)
    store.ensure_layout()
    return store


#: What a dead letter keeps at a hashed key column's place instead of the value: ``HMAC256:...``, or the mask for a
#: value the cipher refused (``TruthsSink._letter_key``).
_PROTECTED_KEY_PREFIXES = ("HMAC256:", "[PII]")


def _plain_positions(key: t.Any, positions: list[int]) -> list[int]:
    """The places of ``key`` (a dead letter's ``record_key``) that hold a hashed key column's value in clear."""
    if not isinstance(key, list):
        return []
    return [
        i for i in positions
        if i < len(key) and key[i] is not None and not str(key[i]).startswith(_PROTECTED_KEY_PREFIXES)
    ]  # fmt: skip


def plaintext_letter_keys(store: Store) -> dict[str, tuple[list[int], list[str]]]:
    """Per table, the places of its hashed key columns and the ``record_key`` texts of dead letters that keep such
    a column's value in clear: letters written before the key was kept hashed as the table keeps it (audit25e F19,
    16e03510: an SSN key in clear beside its hashed row). A key column is hashed when ``_truths_fields`` says so;
    its place is its place in the table's key columns (``likely_keys``). Reads only; needs no PII key."""
    return _scan_letter_keys(store)[0]


def unfit_letter_keys(store: Store) -> dict[str, int]:
    """Per table with a hashed column, the dead letters whose key has another number of values than the table's
    key now (the key changed since they were written) and holds a value in clear: which place held the PII column
    cannot be told, so they cannot be re-keyed; they must be named, never reported clean (review27c L3)."""
    return _scan_letter_keys(store)[1]


def _scan_letter_keys(store: Store) -> tuple[dict[str, tuple[list[int], list[str]]], dict[str, int]]:
    """``plaintext_letter_keys`` and ``unfit_letter_keys`` from one read of the letters."""
    rows = store.fetchall(
        f"SELECT table_name, column_name FROM {FIELDS_TABLE} WHERE project = ? AND pii_action = 'hash'",  # noqa: S608
        [store.run.project],
    )
    hashed: dict[str, set[str]] = {}
    for table, column in rows:
        hashed.setdefault(str(table), set()).add(str(column))
    found: dict[str, tuple[list[int], list[str]]] = {}
    unfit: dict[str, int] = {}
    for table, columns in sorted(hashed.items()):
        versions = store.fetchall(
            "SELECT likely_keys FROM _schema_metadata WHERE LOWER(project) = ? AND table_name = ? "
            "ORDER BY is_current DESC, version DESC",
            [store.run.project, table],
        )
        known = [json.loads(v) if isinstance(v, str) else (v or []) for (v,) in versions]
        names = known[0] if known else []
        positions = [i for i, name in enumerate(names) if name in columns]
        # an older key's places of the hashed columns, by width: a letter written under it is judged on those
        # places only (a clear Dept or date beside a hashed SSN is no PII; review28d M2)
        older: dict[int, set[int]] = {}
        for old_names in known[1:]:
            if isinstance(old_names, list) and len(old_names) != len(names):
                places = older.setdefault(len(old_names), set())
                places.update(i for i, name in enumerate(old_names) if name in columns)
        letters = store.fetchall(
            f"SELECT CAST(record_key AS VARCHAR), COUNT(*) FROM {DEAD_LETTER_TABLE} WHERE LOWER(project) = ? "  # noqa: S608
            "AND table_name = ? AND record_key IS NOT NULL GROUP BY 1",
            [store.run.project, table],
        )
        old = []
        for text, count in letters:
            key = json.loads(str(text))
            if not isinstance(key, list):
                continue
            if len(key) != len(names):
                # the key it was written under, when the table's versions still name one of its width: its hashed
                # columns' places; else any place could be one
                judged = sorted(older[len(key)]) if len(key) in older else list(range(len(key)))
                if _plain_positions(key, judged):
                    unfit[table] = unfit.get(table, 0) + int(count)
            elif positions and _plain_positions(key, positions):
                old.append(str(text))
        if old:
            found[table] = (positions, sorted(old))
    return found, unfit


def letter_keys_migrated(store: Store) -> bool:
    """Whether the project's dead letters were found free of clear key values once (``mark_letter_keys_migrated``):
    letters written since then keep them hashed, so the start-up needs no scan (one indexed row, review27c M2)."""
    row = store.fetchone(
        f"SELECT 1 FROM {MARKS_TABLE} WHERE project = ? AND mark = ?",  # noqa: S608
        [store.run.project, LETTER_KEYS_HASHED],
    )
    return row is not None


def mark_letter_keys_migrated(store: Store) -> None:
    """Record that no dead letter of the project keeps a hashed key column's value in clear (idempotent)."""
    with store.transaction():
        store.execute(
            f"INSERT INTO {MARKS_TABLE} (project, mark, created_at) VALUES (?, ?, ?) "  # noqa: S608
            "ON CONFLICT (project, mark) DO NOTHING",
            [store.run.project, LETTER_KEYS_HASHED, dt.datetime.now(dt.UTC)],
        )


def letters_to_rekey(store: Store) -> dict[str, tuple[list[int], list[str]]]:
    """``plaintext_letter_keys`` once per project: nothing (one row read) when the mark says the letters were
    migrated; the mark is recorded when the scan finds nothing, so a store's start-up pays the scan until then."""
    return letters_to_rekey_and_unfit(store)[0]


def letters_to_rekey_and_unfit(store: Store) -> tuple[dict[str, tuple[list[int], list[str]]], dict[str, int]]:
    """``letters_to_rekey`` and ``unfit_letter_keys`` from one scan (none once the mark is there)."""
    if letter_keys_migrated(store):
        return {}, {}
    found, unfit = _scan_letter_keys(store)
    if not found and not unfit:  # letters that do not fit keep the scan (and its WARNING) until they are gone
        mark_letter_keys_migrated(store)
    return found, unfit


#: Distinct old keys re-keyed per UPDATE (and commit): a few scans of the letters, and an undo a store's
#: ``memory_limit`` holds (1M letters / 200k keys in one UPDATE ran out of DuckDB's memory).
_REKEY_CHUNK = 20000


def rekey_dead_letters(
    store: Store, hash_value: t.Callable[[str], str], found: dict[str, tuple[list[int], list[str]]]
) -> int:
    """The dead letters ``plaintext_letter_keys`` found, their clear key values hashed as the table's are (the
    project's key, checked by the caller): set-based UPDATEs (old text -> new text as two arrays, a hash join;
    not one scan of the letters per key, review27c M4) of ``_REKEY_CHUNK`` keys each, each committed, so a stopped
    run keeps what it did (each letter is rewritten on its own; a re-run finds the rest). Records the mark when all
    are done. Returns the letters changed."""
    from target_xlr8_truths.privacy import _text

    json_type = "JSONB" if store.dialect == "postgres" else "JSON"
    changed = 0
    for table, (positions, texts) in found.items():
        new = []
        for text in texts:
            key = json.loads(text)
            for i in _plain_positions(key, positions):
                key[i] = hash_value(_text(key[i]))
            new.append(json.dumps(key))
        for start in range(0, len(texts), _REKEY_CHUNK):  # each chunk one scan; bounded undo (memory_limit)
            with store.transaction():
                changed += store.execute_count(
                    f"UPDATE {DEAD_LETTER_TABLE} AS d SET record_key = CAST(m.new_key AS {json_type}) "  # noqa: S608
                    "FROM (SELECT UNNEST(CAST(? AS VARCHAR[])) AS old_key, UNNEST(CAST(? AS VARCHAR[])) AS new_key) "
                    "AS m WHERE LOWER(d.project) = ? AND d.table_name = ? "
                    "AND CAST(d.record_key AS VARCHAR) = m.old_key",
                    [texts[start : start + _REKEY_CHUNK], new[start : start + _REKEY_CHUNK], store.run.project, table],
                )
    mark_letter_keys_migrated(store)
    return changed


def rewrite_duckdb_file(store: Store) -> bool:
    """DuckDB writes an updated row to new blocks and leaves the old ones, plaintext and all, on its free list until
    reused (review27c M1): the store's data copied into a fresh file (``COPY FROM DATABASE``) that replaces it,
    while this process holds the store (DuckDB's one writer), so nothing written meanwhile is lost. False (nothing
    done) for a store that is not a DuckDB file."""
    import os
    from pathlib import Path

    path = getattr(store, "path", None)
    con = getattr(store, "con", None)
    if store.dialect == "postgres" or not path or con is None:
        return False
    target = Path(str(path)).expanduser()
    fresh = target.with_name(target.name + ".rewrite")
    fresh.unlink(missing_ok=True)  # a rewrite killed before its replace
    con.execute("CHECKPOINT")
    name = str(con.execute("SELECT current_database()").fetchone()[0])
    con.execute(f"ATTACH {_sql_text(str(fresh))} AS xlr8_rewrite")
    try:
        con.execute(f"COPY FROM DATABASE {quote(name)} TO xlr8_rewrite")
    finally:
        con.execute("DETACH xlr8_rewrite")
    os.chmod(fresh, os.stat(target).st_mode & 0o777)
    os.replace(fresh, target)
    return True


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _after_rekey(store: Store, out: t.TextIO) -> None:
    """What leaves the old values' copies: the DuckDB file rewritten; on PostgreSQL, what the operator must run."""
    if rewrite_duckdb_file(store):
        print("rekey-dead-letters: the DuckDB file was rewritten, so the old values left its free blocks; copies "
              "and backups taken before keep them", file=out)  # fmt: skip
    else:
        schema = getattr(store, "schema", "xlr8")
        print(f"rekey-dead-letters: PostgreSQL keeps the old row versions until `VACUUM FULL {schema}._dead_letters`"
              " (run it), and in WAL segments, archives and base backups until they are rotated", file=out)  # fmt: skip


def _rekey_cli(store: Store, key_file: str, out: t.TextIO, rewrite: bool = False) -> int:
    """``xlr8 truths rekey-dead-letters``: with the project's own key (its check value must be the store's), the
    clear key values of older dead letters hashed; raises ValueError (exit 2) otherwise, nothing changed."""
    from target_xlr8_truths.layout import KEYS_TABLE
    from xlr8_kit.privacy import FieldCipher, load_key

    found, unfit = letters_to_rekey_and_unfit(store)
    if not found:
        if unfit:  # the purge asked for still runs: a start-up's re-key left clear values in free blocks (review28d M3)
            code = _unfit_cli(unfit, out)
            if rewrite:
                _after_rekey(store, out)
            return code
        print("rekey-dead-letters: no dead letter keeps a hashed key column's value in clear", file=out)
        if rewrite:
            _after_rekey(store, out)
        return 0
    hasher = FieldCipher(load_key(key_file=key_file, setting="--pii-key-file")).hash
    if not store.fetchone(f"SELECT 1 FROM {KEYS_TABLE} WHERE project = ?", [store.run.project]):  # noqa: S608
        raise ValueError(
            f"project {store.run.project} has no PII key check value in {KEYS_TABLE}, so --pii-key-file cannot be "
            "checked against the key its columns were hashed with; nothing was changed"
        )
    _check_key(store, hasher, "changed")
    changed = rekey_dead_letters(store, hasher, found)
    for table, (_, texts) in found.items():
        print(f"{table}: {len(texts)} dead-letter key(s) hashed", file=out)
    print(f"rekey-dead-letters: {changed} dead letter(s) changed in {len(found)} table(s)", file=out)
    _after_rekey(store, out)
    return _unfit_cli(unfit, out) if unfit else 0


def _unfit_cli(unfit: dict[str, int], out: t.TextIO) -> int:
    """The letters that could not be re-keyed (``unfit_letter_keys``), by table; exit 1: the store is not clean."""
    for table, count in sorted(unfit.items()):
        print(f"{table}: {count} dead letter(s) whose key no longer fits the table's key (it changed) may keep a "
              "PII value in clear and cannot be re-keyed: if one holds a person's value, erase that person's letters "
              "(`xlr8 truths erase --person`)",
              file=out)  # fmt: skip
    print(f"rekey-dead-letters: {sum(unfit.values())} dead letter(s) left as they are", file=out)
    return 1


def _run_cli(args: argparse.Namespace, out: t.TextIO, err: t.TextIO) -> int:
    action = args.truths_command
    try:
        store = open_store(args, action)
    except StoreChoiceError as exc:
        print(f"xlr8 truths {action}: error: {exc}", file=err)
        return 2
    except Exception as exc:  # noqa: BLE001 - one clear line for the user
        print(f"xlr8 truths {action}: error: cannot open the store: {exc}", file=err)
        return 1
    try:
        if action == "purge":
            changes = purge(store, keep_days=args.keep_days, keep_versions=args.keep_versions)
        elif action == "rekey-dead-letters":
            return _rekey_cli(store, args.pii_key_file, out, args.rewrite)
        else:
            hasher = None
            if args.pii_key_file:
                from xlr8_kit.privacy import FieldCipher, load_key

                hasher = FieldCipher(load_key(key_file=args.pii_key_file, setting="--pii-key-file")).hash
                _check_key(store, hasher)
            changes = erase_person(store, args.person, hash_value=hasher)
    except ValueError as exc:
        print(f"xlr8 truths {action}: error: {exc}", file=err)
        return 2
    finally:
        store.close()
        spool = getattr(store, "spool", None)
        if spool is not None:
            spool.close()  # this process's spool directory, empty after the purge/erase
    for change in changes:
        extra = f", {change.cleared} reference(s) cleared" if change.cleared else ""
        print(f"{change.table}: {change.removed} row(s) removed{extra}", file=out)
    total = sum(c.removed for c in changes)
    print(f"{action}: {total} row(s) removed from {len(changes)} table(s); recorded in {LEDGER_TABLE}", file=out)
    return 0
