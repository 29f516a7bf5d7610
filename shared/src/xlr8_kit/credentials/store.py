"""The embedded default store: one SQLite file (``.xlr8/credentials.db``), WAL mode, ciphertext only.

Every write is one ``BEGIN IMMEDIATE`` transaction, so a process killed at any point leaves either the old row or
the new one (never a mix), and the compare-and-swap on ``version`` has exactly one winner across processes.
``secure_delete`` overwrites freed pages so an old ciphertext (or anything else) does not linger in free space.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from xlr8_kit.credentials.backends import SealedCredential
from xlr8_kit.credentials.errors import (
    CredentialAlreadyExistsError,
    CredentialConflictError,
    CredentialError,
)

DEFAULT_STORE_PATH = Path(".xlr8") / "credentials.db"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    credential_id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    product_id TEXT NOT NULL,
    auth_type TEXT NOT NULL,
    instance_url TEXT,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    last_used TEXT,
    status TEXT NOT NULL,
    version INTEGER NOT NULL,
    refresh_started_at TEXT
);
CREATE INDEX IF NOT EXISTS credentials_project ON credentials (project_id);
CREATE TABLE IF NOT EXISTS secret_fields (
    credential_id TEXT NOT NULL REFERENCES credentials (credential_id) ON DELETE CASCADE,
    field TEXT NOT NULL,
    blob TEXT NOT NULL,
    PRIMARY KEY (credential_id, field)
);
CREATE TABLE IF NOT EXISTS key_usage (kid TEXT PRIMARY KEY, encryptions INTEGER NOT NULL);
"""

_META_COLUMNS = (
    "credential_id, project_id, product_id, auth_type, instance_url, created_at, expires_at, last_used, status, "
    "version, refresh_started_at"
)
# Constant SQL built from the fixed column list above; values always go through placeholders.
_INSERT_META = f"INSERT INTO credentials ({_META_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_SELECT_META = f"SELECT {_META_COLUMNS} FROM credentials"  # noqa: S608


class SQLiteCredentialStore:
    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE_PATH, *, create: bool = True) -> None:
        """``create=False`` (how runs open it) refuses a missing file instead of creating an empty store."""
        self._lock = threading.RLock()
        self.path = Path(path)
        self.location = str(self.path)
        if not create and not self.path.exists():
            raise CredentialError(
                f"credential store {self.path} does not exist; add credentials with `xlr8-credentials add` "
                "or set credential_store"
            )
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not self.path.exists():
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
        try:
            self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA secure_delete=ON")
            self._conn.execute("PRAGMA foreign_keys=ON")
            with self._write():
                for statement in filter(str.strip, _SCHEMA.split(";")):
                    self._conn.execute(statement)
                self._conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                )
        except sqlite3.DatabaseError as exc:
            raise CredentialError(f"credential store {self.path} is unreadable: {exc}") from None
        found = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0]
        if int(found) > SCHEMA_VERSION:
            raise CredentialError(
                f"credential store {self.path} has schema version {found}; this build reads up to {SCHEMA_VERSION}"
            )

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: the write lock is taken up front so CAS checks cannot interleave."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def insert(self, sealed: SealedCredential, *, encryptions: Mapping[str, int]) -> None:
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM credentials WHERE credential_id = ?", (sealed.credential_id,)).fetchone():
                raise CredentialAlreadyExistsError(
                    f"credential {sealed.credential_id!r} already exists in {self.path}; revoke it or pick another id"
                )
            conn.execute(
                _INSERT_META,
                _meta_row(sealed),
            )
            self._write_blobs(conn, sealed)
            self._count(conn, encryptions)

    def swap(self, sealed: SealedCredential, *, expected_version: int, encryptions: Mapping[str, int]) -> None:
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE credentials SET project_id = ?, product_id = ?, auth_type = ?, instance_url = ?, "
                "created_at = ?, expires_at = ?, last_used = ?, status = ?, version = ?, refresh_started_at = ? "
                "WHERE credential_id = ? AND version = ?",
                (*_meta_row(sealed)[1:], sealed.credential_id, expected_version),
            )
            if cur.rowcount != 1:
                row = conn.execute(
                    "SELECT version FROM credentials WHERE credential_id = ?", (sealed.credential_id,)
                ).fetchone()
                raise CredentialConflictError(sealed.credential_id, expected_version, row[0] if row else None)
            conn.execute("DELETE FROM secret_fields WHERE credential_id = ?", (sealed.credential_id,))
            self._write_blobs(conn, sealed)
            self._count(conn, encryptions)

    def touch(self, credential_id: str, last_used: datetime) -> None:
        """Bookkeeping only: does not bump ``version``, so it never makes a token refresh lose its CAS."""
        with self._write() as conn:
            conn.execute(
                "UPDATE credentials SET last_used = ? WHERE credential_id = ?", (last_used.isoformat(), credential_id)
            )

    def load(self, credential_id: str) -> SealedCredential | None:
        with self._lock, self._snapshot():
            row = self._conn.execute(_SELECT_META + " WHERE credential_id = ?", (credential_id,)).fetchone()
            if row is None:
                return None
            blobs = dict(
                self._conn.execute(
                    "SELECT field, blob FROM secret_fields WHERE credential_id = ? ORDER BY field", (credential_id,)
                ).fetchall()
            )
        return _sealed(row, blobs)

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """One read transaction: the metadata row and its field rows (the seal among them) from the same commit,
        never a row from before a concurrent write and fields from after it (which would look tampered)."""
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    def list(self, project_id: str | None = None) -> list[SealedCredential]:
        with self._lock, self._snapshot():
            query = _SELECT_META
            params: tuple[str, ...] = ()
            if project_id is not None:
                query += " WHERE project_id = ?"
                params = (project_id,)
            rows = self._conn.execute(query + " ORDER BY credential_id", params).fetchall()
            blobs: dict[str, dict[str, str]] = {}
            for cid, field_name, blob in self._conn.execute("SELECT credential_id, field, blob FROM secret_fields"):
                blobs.setdefault(cid, {})[field_name] = blob
        return [_sealed(row, blobs.get(row[0], {})) for row in rows]

    def key_usage(self) -> dict[str, int]:
        with self._lock:
            return dict(self._conn.execute("SELECT kid, encryptions FROM key_usage ORDER BY kid").fetchall())

    def close(self) -> None:
        self._conn.close()

    @staticmethod
    def _write_blobs(conn: sqlite3.Connection, sealed: SealedCredential) -> None:
        conn.executemany(
            "INSERT INTO secret_fields (credential_id, field, blob) VALUES (?, ?, ?)",
            [(sealed.credential_id, name, blob) for name, blob in sorted(sealed.blobs.items())],
        )

    @staticmethod
    def _count(conn: sqlite3.Connection, encryptions: Mapping[str, int]) -> None:
        for kid, count in encryptions.items():
            conn.execute(
                "INSERT INTO key_usage (kid, encryptions) VALUES (?, ?) "
                "ON CONFLICT (kid) DO UPDATE SET encryptions = encryptions + excluded.encryptions",
                (kid, count),
            )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _meta_row(s: SealedCredential) -> tuple[object, ...]:
    return (
        s.credential_id,
        s.project_id,
        s.product_id,
        s.auth_type,
        s.instance_url,
        s.created_at.isoformat(),
        _iso(s.expires_at),
        _iso(s.last_used),
        s.status,
        s.version,
        _iso(s.refresh_started_at),
    )


def _sealed(row: tuple[object, ...], blobs: dict[str, str]) -> SealedCredential:
    cid, project, product, auth, url, created, expires, last_used, status, version, refresh = row
    return SealedCredential(
        credential_id=str(cid),
        project_id=str(project),
        product_id=str(product),
        auth_type=str(auth),
        instance_url=url if isinstance(url, str) else None,
        created_at=datetime.fromisoformat(str(created)),
        expires_at=_dt(expires if isinstance(expires, str) else None),
        last_used=_dt(last_used if isinstance(last_used, str) else None),
        status=str(status),
        version=int(str(version)),
        refresh_started_at=_dt(refresh if isinstance(refresh, str) else None),
        blobs=blobs,
    )
