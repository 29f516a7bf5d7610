"""Optional dependencies: PostgreSQL delivery needs psycopg, installed by the ``postgres`` extra only, so DuckDB and
upload users do not pull a PostgreSQL client."""

from __future__ import annotations

import importlib
import types

POSTGRES_HINT = (
    "delivery=postgres needs psycopg, which the target installs only with its postgres extra: "
    "pip install 'xlr8-target-truths[postgres]'"
)


class MissingExtraError(RuntimeError):
    """An optional dependency a setting needs is not installed; the message says which extra to install."""


def import_psycopg() -> types.ModuleType:
    """psycopg, or an error naming ``delivery=postgres`` and the extra that installs it."""
    try:
        return importlib.import_module("psycopg")
    except ModuleNotFoundError as exc:
        raise MissingExtraError(POSTGRES_HINT) from exc
