"""Compact column declarations for streams whose schema is written by hand: ``{"po_number": "s", "quantity": "n"}``.

Codes: ``s`` string, ``i`` integer, ``n`` number, ``b`` boolean, ``o`` object (any keys), ``d`` ISO date,
``dt`` ISO date-time; every column is nullable.
"""

from __future__ import annotations

import typing as t

TYPE_CODES: dict[str, dict[str, t.Any]] = {
    "s": {"type": ["string", "null"]},
    "i": {"type": ["integer", "null"]},
    "n": {"type": ["number", "null"]},
    "b": {"type": ["boolean", "null"]},
    "o": {"type": ["object", "null"], "additionalProperties": True},
    "d": {"type": ["string", "null"], "format": "date"},
    "dt": {"type": ["string", "null"], "format": "date-time"},
}


def schema_of(columns: dict[str, str]) -> dict[str, t.Any]:
    """``{"employeeID": "s", "originalHireDate": "d"}`` as a JSON schema."""
    return {"type": "object", "properties": {name: dict(TYPE_CODES[code]) for name, code in columns.items()}}


__all__ = ["TYPE_CODES", "schema_of"]
