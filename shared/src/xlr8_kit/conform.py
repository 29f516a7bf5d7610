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
from itertools import chain, compress, repeat

from singer_sdk.helpers._typing import (
    _conform_record_data_types,
    _is_exclusive_boolean_type,
    conform_record_data_types,
    is_object_type,
    is_uniform_list,
)
from singer_sdk.helpers.conform import TypeConformanceLevel

from xlr8_kit.singer_io import FLOAT_ALIKE_BOUND, FLOAT_ALIKE_LEAST

#: Values conformance leaves untouched (under a property that is not exclusively boolean).
_SCALARS = frozenset({str, int, bool, type(None)})
#: Values the SDK keeps unless they are NaN or infinite (then null), checked one by one.
_NUMBERS = frozenset({Decimal, float})
_CONTAINERS = frozenset({dict, list})
_HANDLED = _SCALARS | _NUMBERS | _CONTAINERS
#: Top-level kinds after which every value of the conformed record is one both JSON encoders write alike (a NaN
#: Decimal becomes null, a boolean column's integer a bool: still plain).
_PLAIN = _SCALARS | {Decimal}
_PLAIN_OR_CONTAINER = _PLAIN | _CONTAINERS


_DECIMAL = frozenset({Decimal})
_BOOLEAN_OR_NONE = frozenset({bool, type(None)})
#: Values ``Conformer.vouches_records`` judges (lists and objects by the compiled walk).
_VOUCHABLE = _SCALARS | _NUMBERS | _CONTAINERS
_FLOAT = frozenset({float})
_DICT_ONLY = frozenset({dict})


def _all_finite(obj: dict[str, t.Any], kinds: frozenset[type]) -> bool:
    """True when every value of ``obj`` of one of ``kinds`` (Decimal, float) is finite as a float (the SDK's test:
    ``Decimal("1E+400")`` is not), so conformance leaves them all as they are. False (also for a signaling NaN,
    which cannot be tested) sends the caller through its per-value loop. A plain loop: cheaper here than chains
    of ``map``/``compress`` over a record of a few dozen values. A Decimal is first judged by
    ``_decimal_surely_finite`` (two C calls), and only otherwise converted to a float as the SDK does."""
    isfinite = math.isfinite
    try:
        for value in obj.values():
            kind = type(value)
            if kind is Decimal:
                if not (value.is_finite() and value.adjusted() < _FLOAT_SAFE_ADJUSTED) and not isfinite(value):
                    return False
            elif kind in kinds and not isfinite(value):
                return False
    except ValueError:
        return False
    return True


#: A Decimal whose ``adjusted()`` exponent is below this is smaller than 10**308 in magnitude, below the largest
#: float (about 1.8e308): ``float()`` of it is finite, so ``math.isfinite`` (a conversion through its text) is
#: spared. Larger finite Decimals are converted and tested as the SDK tests them.
_FLOAT_SAFE_ADJUSTED = 308


def decimals_finite_as_float(values: t.Iterable[t.Any]) -> bool:
    """True when every value is None or a Decimal (exactly) that is finite and below 10**308 in magnitude, so
    conformance keeps each as it is (``math.isfinite`` of it is True); False otherwise, also for a Decimal that is
    merely too large to tell this way (the caller then lets ``Conformer.marked`` judge its records). The loops run
    in C: meant for one column of a block of rows."""
    found = list(values)
    if not set(map(type, found)) <= _DECIMAL_OR_NONE:
        return False
    present = list(filter(None, found))  # None and zeros (finite) dropped
    return all(map(Decimal.is_finite, present)) and max(map(Decimal.adjusted, present), default=0) < (
        _FLOAT_SAFE_ADJUSTED
    )


_DECIMAL_OR_NONE = frozenset({Decimal, type(None)})


def _to_booleans(booleans: frozenset[str], obj: dict[str, t.Any], out: dict[str, t.Any]) -> None:
    """The SDK's conformance under exclusively boolean properties: a non-null integer or string becomes
    ``value != 0`` (booleans, nulls and numbers stay as they are)."""
    for name in booleans.intersection(obj):
        value = obj[name]
        kind = type(value)
        if kind is int or kind is str:
            out[name] = value != 0


class _ToSdk(Exception):
    """A nested value the compiled walk does not vouch for: the whole record goes to the SDK's function."""


def _safely(test: t.Callable[[dict[str, t.Any]], t.Any], schema: dict[str, t.Any]) -> t.Any:
    """The SDK's schema test, or ``_ToSdk`` when it raises (the SDK then raises the same way, for that record)."""
    try:
        return test(schema)
    except Exception:  # noqa: BLE001 - re-raised by the SDK's own walk of the record that needs it
        return _ToSdk


class _Object:
    """``_conform_record_data_types`` (RECURSIVE) for one object schema with ``properties``, compiled: what the SDK
    does to each kind of value under each property, decided once. Raises ``_ToSdk`` for anything else (an
    unmapped or additional property, an unusual type, a container under a boolean or a schema the SDK trips on),
    so the SDK's own walk decides the whole record, with its warnings and errors."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        properties: dict[str, t.Any] = schema["properties"]
        self.known = frozenset(properties)
        self.booleans = frozenset(
            name for name, prop in properties.items() if isinstance(prop, dict) and _is_exclusive_boolean_type(prop)
        )
        #: Per property: the walk of a dict value (None: kept as it is) and of a list value.
        self.dicts: dict[str, t.Any] = {}
        self.lists: dict[str, t.Any] = {}
        for name, prop in properties.items():
            if not isinstance(prop, dict) or name in self.booleans:
                self.dicts[name] = self.lists[name] = _ToSdk
                continue
            uniform = _safely(is_uniform_list, prop)
            if uniform is _ToSdk:
                self.lists[name] = _ToSdk
            else:
                self.lists[name] = _safely(_List, prop["items"]) if uniform else None
            is_object = _safely(is_object_type, prop)
            if is_object and is_object is not _ToSdk and "properties" in prop:
                self.dicts[name] = _safely(_Object, prop)
            else:
                self.dicts[name] = _ToSdk if is_object is _ToSdk else None

    def __call__(self, obj: dict[str, t.Any], kinds: set[type] | None = None) -> tuple[dict[str, t.Any], bool]:
        """``obj`` conformed, and whether it is known plain; ``kinds`` (the types of its values) when the caller
        has them already and has checked that every key of ``obj`` is a known property."""
        if kinds is None:  # a nested object (the top-level caller checked its keys and has its kinds)
            if not self.known.issuperset(obj):
                raise _ToSdk
            kinds = set(map(type, obj.values()))
        out = dict(obj)
        plain = kinds <= _PLAIN_OR_CONTAINER  # a container's values are checked below
        if not kinds <= _SCALARS:
            if not kinds <= _HANDLED:
                raise _ToSdk
            if not kinds.isdisjoint(_NUMBERS) and not _all_finite(obj, _NUMBERS):
                for name, value in obj.items():
                    if type(value) in _NUMBERS:
                        try:
                            finite = math.isfinite(value)
                        except ValueError:  # a signaling NaN: the SDK raises, at its own place in the walk
                            raise _ToSdk from None
                        if not finite:
                            out[name] = None
            if not kinds.isdisjoint(_CONTAINERS):
                # only the containers, picked out in C (a record of many scalars and a few refs)
                for name, value in compress(obj.items(), map(_CONTAINERS.__contains__, map(type, obj.values()))):
                    walk = (self.dicts if type(value) is dict else self.lists)[name]
                    if walk is _ToSdk:
                        raise _ToSdk
                    if walk is None:
                        plain = False  # kept as it is, unchecked
                    else:
                        out[name], nested_plain = walk(value)
                        plain = plain and nested_plain
        if self.booleans:
            _to_booleans(self.booleans, obj, out)
        return out, plain


class _List:
    """``_conform_uniform_list`` (RECURSIVE) for one ``items`` schema, compiled (see ``_Object``)."""

    def __init__(self, items: dict[str, t.Any]) -> None:
        is_object = _safely(is_object_type, items)
        #: The SDK tests every item against the item schema; a test that raises raises for any item.
        self.trips = is_object is _ToSdk
        #: The walk of a dict item; None when a dict item is a primitive to the SDK.
        self.objects: t.Any = None
        if is_object and not self.trips:
            # without properties the SDK's walk of a dict item raises: left to it
            self.objects = _safely(_Object, items) if "properties" in items else _ToSdk
        self.boolean = _safely(_is_exclusive_boolean_type, items)
        #: The item walk when it keeps every dict item of known keys and scalar values as it is (no exclusively
        #: boolean property turns its integers or strings into booleans).
        self.flat_objects = self.objects if isinstance(self.objects, _Object) and not self.objects.booleans else None

    def keeps(self, items: list[t.Any]) -> bool:
        """True when ``__call__`` returns every list of items taken from ``items`` (the items of several lists,
        joined) equal to itself, plain: scalars that are not Decimals, or only dicts of known keys and scalar
        values under an object schema without exclusively boolean properties (its two C paths)."""
        if not items:
            return True
        if self.trips or self.boolean is not False:
            return False
        kinds = set(map(type, items))
        return kinds <= _SCALARS or self._flat_copies(items, kinds)

    def _flat_copies(self, items: list[t.Any], kinds: set[type]) -> bool:
        """True for dict items (``kinds``: their types) of known keys and scalar values only, under an object schema
        without exclusively boolean properties: the item walk would copy each as it is, plain (scans in C)."""
        flat = self.flat_objects
        return (
            flat is not None
            and kinds == _DICT_ONLY
            and all(map(flat.known.issuperset, items))
            and set(map(type, chain.from_iterable(map(dict.values, items)))) <= _SCALARS
        )

    def __call__(self, items: list[t.Any]) -> tuple[list[t.Any], bool]:
        if not items:
            return [], True
        if self.trips or self.boolean is not False:
            raise _ToSdk  # items under a boolean schema (or one the SDK trips on): rare, left to the SDK
        kinds = set(map(type, items))
        if kinds <= _PLAIN and Decimal not in kinds:
            return list(items), True
        if not kinds <= _HANDLED:
            raise _ToSdk
        if self._flat_copies(items, kinds):
            return list(map(dict, items)), True
        out: list[t.Any] = []
        plain = True
        objects = self.objects
        for item in items:
            kind = type(item)
            if kind is dict:
                if objects is _ToSdk:
                    raise _ToSdk
                if objects is None:
                    out.append(item)
                    plain = False
                else:
                    conformed, nested_plain = objects(item)
                    out.append(conformed)
                    plain = plain and nested_plain
            elif kind in _NUMBERS:
                out.append(item if math.isfinite(item) else None)
                plain = plain and kind is Decimal
            else:
                out.append(item)
                plain = plain and kind is not list
        return out, plain


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
        #: The compiled walk of nested objects and lists (RECURSIVE only: ROOT_ONLY keeps them as they are).
        self._walk: _Object | None = None
        if level == TypeConformanceLevel.RECURSIVE and "properties" in schema:
            self._walk = _Object(schema)

    #: True while the stream vouches that every record it hands over is its own conformance and plain (see
    #: ``keeps_columns``): ``marked`` then returns the record itself, marked plain, without looking at it. A stream
    #: sets it per block of records, before yielding them, and clears it before yielding any other record and when
    #: it stops (``finally``), as it does ``records_plain``: its consumers conform each record as soon as they get it.
    #: The one mark, for every loop and the BATCH writer, that a record needs no conformance (``MarkedPage`` sets it
    #: per parsed page).
    vouched: bool = False

    #: ``marked``'s second value for vouched records: True unless the stream says its conformed records may hold
    #: other values (the writer then checks them before encoding).
    vouched_plain: bool = True

    def keeps_columns(self, columns: t.Mapping[str, t.Sequence[t.Any]]) -> bool:
        """True when conformance returns every record made of one value per column of ``columns`` (name -> that
        column's values across a block of rows) equal to itself, in the same key order, and every such record is
        plain: each name is a property of the schema; each value a string, integer, boolean, None or a Decimal
        that is finite even as a float (``decimals_finite_as_float``); under an exclusively boolean property only
        booleans and None (the SDK turns integers and strings there into booleans). The type scans run in C; a
        column that is not a list or tuple gets False. A stream may then set ``vouched`` for those records."""
        if self._level == TypeConformanceLevel.NONE:
            return False  # nothing to spare: ``marked`` is not called
        if not self._known.issuperset(columns):
            return False
        for name, values in columns.items():
            if type(values) is not list and type(values) is not tuple:
                return False
            kinds = set(map(type, values))
            if name in self._booleans:
                if not kinds <= _BOOLEAN_OR_NONE:
                    return False
            elif not kinds <= _SCALARS:
                if not kinds <= _PLAIN:
                    return False
                decimals = values if kinds <= _DECIMAL_OR_NONE else [v for v in values if type(v) is Decimal]
                if not decimals_finite_as_float(decimals):
                    return False
        return True

    def vouches_records(self, records: t.Sequence[dict[str, t.Any]]) -> tuple[bool, bool]:
        """``(conformed, plain)`` for a block or page of records (dicts whose keys may differ from record to record,
        as in a report that leaves empty fields out), judged at once with the type scans in C. Conformed when
        ``marked`` would return each record equal to itself, in the same key order: every key a property of the
        schema; every value a string, integer, boolean, None, or a float or Decimal finite as a float; under an
        exclusively boolean property only booleans and None; a list only under a property whose items are
        (RECURSIVE level) objects without exclusively boolean properties, holding only dicts of known keys and
        string, integer, boolean or None values, or only such scalars; a dict only under a property whose schema is
        such an object (RECURSIVE level), holding only known keys and such scalars. Plain, besides, when the kit's
        writer would find every record plain (``xlr8_kit.singer_io._is_plain``: floats only where both encoders
        write them alike). A stream may then mark the block (``vouched``, ``MarkedPage``) so that neither the loop
        nor the writer looks at each record again. ``(False, False)`` for anything else and at level NONE."""
        if self._level == TypeConformanceLevel.NONE:
            return False, False  # nothing to spare: ``marked`` is not called
        names = set().union(*records)  # a dict's keys join a set with their stored hashes: half of chaining them
        if not self._known.issuperset(names):
            return False, False
        values = list(chain.from_iterable(map(dict.values, records)))
        kinds = list(map(type, values))
        found = set(kinds)
        plain = True
        if not found <= _SCALARS:
            if not found <= _VOUCHABLE:
                return False, False
            if Decimal in found and not decimals_finite_as_float(compress(values, map(_DECIMAL.__contains__, kinds))):
                return False, False
            if float in found:
                floats = list(compress(values, map(_FLOAT.__contains__, kinds)))
                if not all(map(math.isfinite, floats)):
                    return False, False
                # every float alike (the writer's ``_float_alike``): 0, or its size within the bounds
                sizes = list(filter(None, map(abs, floats)))
                plain = not sizes or (min(sizes) >= FLOAT_ALIKE_LEAST and max(sizes) < FLOAT_ALIKE_BOUND)
            if list in found and not self._lists_kept(records, names, kinds.count(list)):
                return False, False
            if dict in found and not self._objects_kept(records, names, kinds.count(dict)):
                return False, False
        if not self._booleans_kept(records, names):
            return False, False
        return True, plain

    def keeps_records(self, records: t.Sequence[dict[str, t.Any]]) -> bool:
        """``vouches_records`` says conformed and plain: a stream that hands blocks to ``records_of_blocks`` (which
        carries no plain mark of its own) may set ``vouched`` for them."""
        return all(self.vouches_records(records))

    def _booleans_kept(self, records: t.Sequence[dict[str, t.Any]], names: set[str]) -> bool:
        """Only booleans and None under the exclusively boolean properties among ``names``."""
        return all(
            set(map(type, map(dict.get, records, repeat(name)))) <= _BOOLEAN_OR_NONE
            for name in self._booleans.intersection(names)
        )

    def _lists_kept(self, records: t.Sequence[dict[str, t.Any]], names: set[str], lists: int) -> bool:
        """Each of the ``lists`` list values of ``records`` is one the compiled walk copies as it is, plain."""
        walk = self._walk
        if walk is None:
            return False  # ROOT_ONLY: the SDK's own walk of a container decides (and plain is not known)
        seen = 0
        for name in names:
            kept = walk.lists.get(name)
            if type(kept) is not _List:
                continue
            column = [value for value in map(dict.get, records, repeat(name)) if type(value) is list]
            if not column:
                continue
            if not kept.keeps(list(chain.from_iterable(column))):
                return False
            seen += len(column)
        return seen == lists  # else a list sits where the walk does not copy it as it is

    def _objects_kept(self, records: t.Sequence[dict[str, t.Any]], names: set[str], objects: int) -> bool:
        """Each of the ``objects`` dict values of ``records`` is one the compiled walk copies as it is, plain: under
        a property with an object schema without exclusively boolean properties, of known keys and string, integer,
        boolean or None values only (a Workday reference ``{"id": ..., "descriptor": ...}``); scans in C."""
        walk = self._walk
        if walk is None:
            return False  # ROOT_ONLY: the SDK's own walk of a container decides (and plain is not known)
        seen = 0
        for name in names:
            nested = walk.dicts.get(name)
            if type(nested) is not _Object:
                continue
            column = [value for value in map(dict.get, records, repeat(name)) if type(value) is dict]
            if not column:
                continue
            if (
                nested.booleans
                or not all(map(nested.known.issuperset, column))
                or not set(map(type, chain.from_iterable(map(dict.values, column)))) <= _SCALARS
            ):
                return False
            seen += len(column)
        return seen == objects  # else a dict sits where the walk does not copy it as it is

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
        under a string key, however deep (what ``xlr8_kit.singer_io._is_plain`` would check again before encoding
        it); False means "not known", never "not plain"."""
        if self.vouched:
            return record, self.vouched_plain
        if self._level == TypeConformanceLevel.NONE:
            return record, False
        if not self._known.issuperset(record):
            return self._sdk(record), False  # unmapped properties: the SDK drops (or keeps) them and warns
        kinds = set(map(type, record.values()))
        if self._walk is not None and not kinds <= _SCALARS:
            try:
                return self._walk(record, kinds)
            except _ToSdk:
                return self._sdk(record), False
        out = dict(record)  # the SDK returns a new dict too, in the record's own key order
        plain = kinds <= _PLAIN
        if not kinds <= _SCALARS and not (plain and _all_finite(record, _DECIMAL)):
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
        if self._booleans:
            _to_booleans(self._booleans, record, out)
        return out, plain
