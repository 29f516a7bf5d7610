"""Names the engine looks for: the project prefix, snake-case table and column names."""

from __future__ import annotations

import hashlib
import re
import typing as t
import uuid

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names silently; refuse to rely on that


class ProjectIdError(ValueError):
    """The project_id setting is not a UUID."""


def normalise_project(project_id: str) -> str:
    """The lowercase canonical UUID the engine filters on (``LOWER(project) = LOWER(uuid)``)."""
    try:
        return str(uuid.UUID(str(project_id).strip()))
    except ValueError as exc:
        raise ProjectIdError(
            f"setting 'project_id' must be the engine project's UUID (e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427), "
            f"got {len(str(project_id))} characters that are not a UUID"
        ) from exc


def project_prefix(project_id: str) -> str:
    """The engine lists a project's tables by the first 8 hex characters of its UUID, hyphens removed."""
    return normalise_project(project_id).replace("-", "")[:8].lower()


def snake_case(name: str) -> str:
    """``AccountId`` -> ``account_id``; ``Pay Group/Code`` -> ``pay_group_code``; keeps a leading ``_sdc``."""
    leading = "_" if name.startswith("_") else ""
    spaced = _CAMEL_BOUNDARY.sub("_", name)
    snake = _NON_WORD.sub("_", spaced).strip("_").lower()
    snake = re.sub(r"_+", "_", snake)
    if not snake:
        snake = "column"
    if snake[0].isdigit():
        snake = f"c_{snake}"
    return f"{leading}{snake}"


HASH_CHARS = 10  # 40 bits of sha256: a collision between two lossy names of one project is not a practical risk
_READABLE_STREAM = re.compile(r"[A-Za-z][A-Za-z0-9_\-. ]*")


def stream_owner(product: str, stream: str) -> str:
    """Who a table belongs to, as recorded in ``_schema_metadata.file_name``: ``{product}:{stream}``."""
    return f"{product}:{stream}"


def readable_table_name(project_id: str, product: str, stream: str) -> str | None:
    """``{p8}_{product}_{stream}`` in snake case (today's name) when the stream name is readable ASCII and the result
    fits, else None. Snake case is lossy (``Acct``/``acct``, ``pay-group``/``pay_group``), so this name is only a
    preference: ``TableNames`` gives it to the first stream that claims it. It never contains ``__``."""
    if not _READABLE_STREAM.fullmatch(stream):
        return None
    name = f"{project_prefix(project_id)}_{snake_case(product)}_{snake_case(stream)}"
    return name if len(name) <= MAX_IDENTIFIER else None


def hashed_table_name(project_id: str, product: str, stream: str) -> str:
    """``{p8}_{product}_{slug}__{hash}``: the slug for people, the hash of the exact product and stream names for
    uniqueness. The double underscore never occurs in a readable name, so the two kinds never meet."""
    digest = hashlib.sha256(stream_owner(product, stream).encode("utf-8", "surrogatepass")).hexdigest()[:HASH_CHARS]
    stem = f"{project_prefix(project_id)}_{snake_case(product)}_{snake_case(stream)}"
    return f"{stem[: MAX_IDENTIFIER - HASH_CHARS - 2].rstrip('_')}__{digest}"


class TableNameCollisionError(RuntimeError):
    """Two streams would share one table (only possible for a sha256-prefix collision): refused, never merged."""


class TableNames:
    """Stream -> table, injective and stable across runs.

    A stream keeps its readable name unless another stream already owns that table (in this run, or in the store
    per ``owner_of``, which reads ``_schema_metadata``); then, and whenever the readable name is lossy beyond
    repair (no ASCII letters, too long), it gets the hashed name. Two streams therefore never write one table.
    """

    def __init__(self, project_id: str, owner_of: t.Callable[[str], str | None]) -> None:
        self.project_id = project_id
        self._owner_of = owner_of
        self._tables: dict[str, str] = {}  # owner -> table
        self._owners: dict[str, str] = {}  # table -> owner

    def _holder(self, table: str) -> str | None:
        return self._owners.get(table) or self._owner_of(table)

    def table_for(self, product: str, stream: str) -> str:
        owner = stream_owner(product, stream)
        if owner in self._tables:
            return self._tables[owner]
        readable = readable_table_name(self.project_id, product, stream)
        if readable is not None and self._holder(readable) in (None, owner):
            table = readable
        else:
            table = hashed_table_name(self.project_id, product, stream)
            holder = self._holder(table)
            if holder not in (None, owner):
                raise TableNameCollisionError(
                    f"stream {stream!r} of {product} and {holder!r} both map to table {table}; refusing to merge them"
                )
        self._tables[owner] = table
        self._owners[table] = owner
        return table

    def stored_table(self, product: str, stream: str) -> str | None:
        """The table ``table_for`` gave ``{product}:{stream}`` in an earlier run, per the store's owners (readable
        name first, then hashed), or None: found without claiming any name in this run."""
        owner = stream_owner(product, stream)
        readable = readable_table_name(self.project_id, product, stream)
        for table in (readable, hashed_table_name(self.project_id, product, stream)):
            if table is not None and self._owner_of(table) == owner:
                return table
        return None


def column_names(properties: list[str]) -> dict[str, str]:
    """Map each property to a unique snake-case column, suffixing collisions (``Name`` and ``name``) in order."""
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for prop in properties:
        base = snake_case(prop)[:MAX_IDENTIFIER]
        candidate, n = base, 2
        while candidate in taken:
            candidate = f"{base[: MAX_IDENTIFIER - 4]}_{n}"
            n += 1
        taken.add(candidate)
        mapping[prop] = candidate
    return mapping


def quote(identifier: str) -> str:
    """Double-quoted identifier, safe in DuckDB and PostgreSQL."""
    return '"' + identifier.replace('"', '""') + '"'


#: The column a row marked deleted has set (gone from a full-table read, replaced with its set, deleted at the source).
DELETED_MARK = "_sdc_deleted_at"


def row_counts_sql(table: str, marked: bool) -> str:
    """One scan giving the rows ``table`` stores and, of those, the rows marked deleted (``DELETED_MARK``, when the
    table has the column: ``marked``). A table's rows are its current ones; marked rows are counted apart."""
    deleted = f"COUNT({quote(DELETED_MARK)})" if marked else "0"
    return f"SELECT COUNT(*), {deleted} FROM {quote(table)}"  # noqa: S608
