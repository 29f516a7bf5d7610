"""The SDK's type conformance of a record, compiled once per stream schema (issue 14).

``singer_sdk.helpers._typing.conform_record_data_types`` walks every property of every record through a chain of
``isinstance`` checks and re-reads the property's schema each time: a third of a tap's CPU on a 23-column stream.
Most records hold only strings, integers, booleans and nulls, which conformance leaves as they are except under an
exclusively boolean property. ``Conformer`` decides that with type sets built in C, converts only what the SDK
would change, and hands every record it cannot vouch for to the SDK function itself (a property missing from the
schema, an unusual type), so the result, and the SDK's "not found in catalog schema" warning, are always the same.
Mirrors singer-sdk 0.54.9 (pinned).
"""

from __future__ import annotations

import logging
import math
import typing as t
from decimal import Decimal

from singer_sdk.helpers._typing import (
    _conform_record_data_types,
    _is_exclusive_boolean_type,
    conform_record_data_types,
)
from singer_sdk.helpers.conform import TypeConformanceLevel

#: Values conformance leaves untouched (under a property that is not exclusively boolean).
_SCALARS = frozenset({str, int, bool, type(None)})
#: Values the SDK keeps unless they are NaN or infinite (then null), checked one by one.
_NUMBERS = frozenset({Decimal, float})
_CONTAINERS = frozenset({dict, list})
_HANDLED = _SCALARS | _NUMBERS | _CONTAINERS
#: Top-level kinds after which every value of the conformed record is one both JSON encoders write alike (a NaN
#: Decimal becomes null, a boolean column's integer a bool: still plain).
_PLAIN = _SCALARS | {Decimal}


class Conformer:
    """``conform_record_data_types`` for one stream, schema and level (see the module docstring)."""

    def __init__(
        self, stream_name: str, schema: dict[str, t.Any], level: TypeConformanceLevel, logger: logging.Logger
    ) -> None:
        self._stream_name = stream_name
        self._schema = schema
        self._level = level
        self._logger = logger
        properties: dict[str, t.Any] = schema.get("properties", {})
        self._known = frozenset(properties)
        #: Properties whose non-null integers and strings the SDK turns into ``value != 0``.
        self._booleans = frozenset(
            name for name, prop in properties.items() if isinstance(prop, dict) and _is_exclusive_boolean_type(prop)
        )

    @property
    def is_identity(self) -> bool:
        """True when ``marked`` returns every record as it is, marked "not known plain" (level NONE)."""
        return self._level == TypeConformanceLevel.NONE

    def serves(self, schema: dict[str, t.Any], level: TypeConformanceLevel) -> bool:
        return schema is self._schema and level == self._level

    def _sdk(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        return conform_record_data_types(
            stream_name=self._stream_name, record=record, schema=self._schema, level=self._level, logger=self._logger
        )

    def __call__(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        return self.marked(record)[0]

    def marked(self, record: dict[str, t.Any]) -> tuple[dict[str, t.Any], bool]:
        """The conformed record, and whether every value in it is a string, integer, boolean, null or Decimal
        under a string key (what ``xlr8_kit.singer_io._is_plain`` would check again before encoding it); False
        means "not known", never "not plain"."""
        if self._level == TypeConformanceLevel.NONE:
            return record, False
        if not self._known.issuperset(record):
            return self._sdk(record), False  # unmapped properties: the SDK drops (or keeps) them and warns
        kinds = set(map(type, record.values()))
        out = dict(record)  # the SDK returns a new dict too, in the record's own key order
        plain = kinds <= _PLAIN
        if not kinds <= _SCALARS:
            if not kinds <= _HANDLED:
                return self._sdk(record), False
            for name, value in record.items():
                kind = type(value)
                if kind in _NUMBERS:
                    if not math.isfinite(value):
                        out[name] = None
                elif kind in _CONTAINERS:
                    # One property through the SDK's own walk: a path without a parent is the property's name,
                    # so an unmapped nested property is reported exactly as the whole-record walk reports it.
                    conformed, unmapped = _conform_record_data_types({name: value}, self._schema, self._level, None)
                    if unmapped:
                        return self._sdk(record), False
                    out[name] = conformed[name]
        for name in self._booleans.intersection(record):
            value = record[name]
            kind = type(value)
            if kind is int or kind is str:
                out[name] = value != 0
        return out, plain
