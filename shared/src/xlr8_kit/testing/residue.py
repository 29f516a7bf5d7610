"""Canary residue scans (RELIABILITY C6, D1): look for a secret in every form it could leak in, wherever a run
left bytes.

A clean scan proves something only if the scanner would have seen the leak, so the forms cover how secrets travel:
plain, URL-encoded (``%20`` and ``+``), JSON-escaped once and twice (a JSON log line quoting another), UTF-16,
base64 at every byte alignment (the secret inside a larger base64 blob such as a Basic header) and, when the
canary has a user, the exact base64 of ``user:secret``. Stores that compress (DuckDB) are read row by row as
well as byte by byte.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

#: Shorter canaries would match by chance (and their base64 core would be empty).
MIN_CANARY_LENGTH = 8


def derived_forms(secret: str) -> dict[str, bytes]:
    """The secret as it could leak: plain, URL- and JSON-escaped, UTF-16 and base64 at every alignment (core)."""
    if len(secret) < MIN_CANARY_LENGTH:
        raise ValueError(f"a canary needs at least {MIN_CANARY_LENGTH} characters to be found reliably")
    escaped = json.dumps(secret)[1:-1]
    forms = {
        "plain": secret.encode(),
        "url": quote(secret, safe="").encode(),
        "url_plus": quote_plus(secret).encode(),
        "json": escaped.encode(),
        "json2": json.dumps(escaped)[1:-1].encode(),
        "utf16": secret.encode("utf-16-le"),
    }
    for pad in range(3):
        encoded = base64.b64encode(b"\0" * pad + secret.encode())
        # Drop the characters that depend on what precedes or follows the secret.
        forms[f"base64_{pad}"] = encoded[4 if pad else 0 :][: -4 if len(encoded) > 8 else None]
    return forms


def basic_form(user: str, secret: str) -> bytes:
    """What HTTP Basic puts on the wire for this user and secret."""
    return base64.b64encode(f"{user}:{secret}".encode())


@dataclass(frozen=True)
class Canary:
    """A secret planted to be looked for; ``user`` adds the Basic ``user:secret`` form."""

    name: str
    value: str
    user: str | None = None

    def forms(self) -> dict[str, bytes]:
        forms = derived_forms(self.value)
        if self.user:
            forms["basic"] = basic_form(self.user, self.value)
        return forms


def scan_for(secret: str, blobs: Mapping[str, bytes]) -> list[str]:
    """``where:form`` for every place the secret (in some derived form) was found."""
    return [
        f"{where}:{form}"
        for where, data in blobs.items()
        for form, needle in derived_forms(secret).items()
        if needle in data
    ]


def scan(canaries: Iterable[Canary], blobs: Mapping[str, bytes]) -> list[str]:
    """``where: canary (form)`` for every canary found anywhere in ``blobs``; empty means clean."""
    found = []
    for canary in canaries:
        for form, needle in canary.forms().items():
            found += [f"{where}: {canary.name} ({form})" for where, data in blobs.items() if needle in data]
    return found


def store_files(db_path: Path) -> dict[str, bytes]:
    """A database file and its WAL, shared-memory and rollback-journal companions, by file name."""
    found = {}
    for suffix in ("", "-wal", "-shm", "-journal", ".wal"):
        candidate = db_path.with_name(db_path.name + suffix)
        if candidate.exists():
            found[candidate.name] = candidate.read_bytes()
    return found


def tree_files(root: Path, *, exclude: Iterable[Path] = ()) -> dict[str, bytes]:
    """Every regular file under ``root`` (symlinks not followed), keyed by path; ``exclude`` drops subtrees."""
    skipped = [path.resolve() for path in exclude]
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved == skip or skip in resolved.parents for skip in skipped):
            continue
        try:
            found[str(path)] = path.read_bytes()
        except FileNotFoundError:  # removed while we walked (a process still cleaning up)
            continue
    return found


def sqlite_dump(path: Path) -> bytes:
    """Every row of every table as text, read through SQLite (sees pages the raw bytes may split)."""
    uri = f"file:{path}?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        lines = [_row_text(table, row) for table in tables for row in conn.execute(_select_all(table))]
    conn.close()
    return "\n".join(lines).encode()


def duckdb_tables(path: Path) -> list[str]:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        return [row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]


def duckdb_dump(path: Path) -> bytes:
    """Every row of every table as text: DuckDB compresses strings, so a byte scan of the file alone can miss one."""
    import duckdb

    with duckdb.connect(str(path), read_only=True) as conn:
        tables = [row[0] for row in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()]
        lines = [_row_text(table, row) for table in tables for row in conn.execute(_select_all(table)).fetchall()]
    return "\n".join(lines).encode()


def _select_all(table: str) -> str:
    quoted = table.replace('"', '""')
    return f'SELECT * FROM "{quoted}"'  # noqa: S608  # a name read from the database's own catalog, quoted


def _row_text(table: str, row: Iterable[object]) -> str:
    """Strings as stored (no repr escaping); nested values as JSON, whose escaping the ``json`` forms cover."""
    cells = [value.decode(errors="replace") if isinstance(value, bytes) else value for value in row]
    return "\t".join([table, *(v if isinstance(v, str) else json.dumps(v, default=str) for v in cells)])
