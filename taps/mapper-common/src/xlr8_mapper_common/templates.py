"""Mapping templates: one YAML file per ERP, read in both directions (Common -> ERP, ERP -> Common).

Format (see ``templates/s4hana.yaml``)::

    name: s4hana                      # what the mapper's ``template`` setting names (or give a file path)
    erp: SAP S/4HANA                  # human name
    common_stream: purchase_orders    # stream name on the Common side
    erp_stream: A_PurchaseOrder       # stream name on the ERP side
    common_key: [po_number]           # key properties of each side's SCHEMA
    erp_key: [PurchaseOrder]
    single_item_lists: [to_PurchaseOrderItem]   # lists that must hold exactly one element (Common POs have one line)
    fixed:                            # ERP values Common's fields assume: checked from the ERP, written to it
      - {erp: "to_PurchaseOrderItem[0].NetPriceQuantity", value: 1, why: "Common's unit price is per one unit"}
    equal:                            # ERP fields that must hold the same value, or the record is refused
      - {erp: "to_PurchaseOrderItem[0].OrderPriceUnit", other: "to_PurchaseOrderItem[0].PurchaseOrderQuantityUnit",
         why: "NetPriceAmount is then a price per another unit"}
    deletion:                         # a deleted ERP order maps to one Common value; its deleted items are dropped
      erp: PurchasingDocumentDeletionCode   # the field, on the record and on each element of `lists`
      values: [L, S]                  # deleted / blocked (a boolean flag: [true], as Fusion's line CancelFlag)
      lists: [to_PurchaseOrderItem]   # dropped before single_item_lists counts (all gone: the order is deleted)
      common: {status: cancelled}     # what a deleted order sets on the Common side
    lines:                            # the mapper's multi_line: split: one Common PO per element of `list`,
      {list: to_PurchaseOrderItem, number: PurchaseOrderItem,   # numbered <erp_key>-<number> (separator "-");
       separator: "-", pattern: "[0-9]{5}"}   # an order number holding the separator is refused; to_erp reverses
                                              # only <order><separator><a line number matching pattern>
    fields:
      - common: quantity              # a Common field name
        erp: to_PurchaseOrderItem[0].OrderQuantity   # a path: dots for objects, [n] for list elements
        type: decimal                 # string (default) | decimal | date | currency | enum
        scale: 3                      # decimal: places; a value with more places is an error, never rounded
        price: false                  # true: the mapper's price_rounding: half_up may round it to scale instead
      - common: status
        erp: PurchasingProcessingStatus
        type: enum
        values: {draft: "01", ...}    # Common value -> ERP value, one to one; anything else is an error

Rules: decimals keep their exact value at ``scale`` places (``Decimal``; strings and numbers accepted); dates
are ISO 8601 ``YYYY-MM-DD`` out (ISO dates, date-times and OData ``/Date(ms)/`` in); currencies are ISO 4217
codes, upper-cased; enum values outside the table fail naming the value, the field and the record key. An error
quotes a value only as a dead letter keeps it (``xlr8_kit.dead_letters.quoted_value``): a value under a PII-named
or secret-named field (either side's path) is masked, since the text reaches logs and the letter's ``error``. A null
source field stays null; an *absent* one (the key not in the record at all, or a list the source did not expand)
is an error naming the field: a null there would read downstream as "unchanged" and lose the value without a
word. OData V2's ``{"results": [...]}`` list wrapper is read as a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from xlr8_kit.dead_letters import quoted_value
from xlr8_kit.redaction import Redactor

Direction = Literal["to_erp", "from_erp"]
FIELD_TYPES = ("string", "decimal", "date", "currency", "enum")
_STEP = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")
_ODATA_DATE = re.compile(r"^/Date\((-?\d+)(?:[+-]\d{4})?\)/$")


class MappingError(ValueError):
    """A record (or a template) the mapping cannot carry without guessing; the message says which field and why, and
    quotes the value as its dead letter would keep it (``_shown``)."""


def _shown(value: Any, names: tuple[str, ...]) -> str:
    """``value`` of a field going by ``names`` as an error may quote it: masked where its dead letter masks it."""
    return quoted_value(names, value, Redactor.default())


def path_steps(path: str) -> list[tuple[str, int | None]]:
    """``a[0].b`` -> ``[("a", 0), ("b", None)]``."""
    out = []
    for part in path.split("."):
        match = _STEP.match(part)
        if not match:
            raise MappingError(f"field path {path!r}: {part!r} is not name or name[index]")
        out.append((match[1], int(match[2]) if match[2] is not None else None))
    return out


@dataclass(frozen=True)
class FieldRule:
    common: str
    erp: str
    type: str = "string"
    scale: int | None = None
    values: tuple[tuple[str, str], ...] = ()
    #: a price: the mapper's ``price_rounding`` may round it to ``scale`` places (else more places are refused)
    price: bool = False

    def steps(self, side: str) -> list[tuple[str, int | None]]:
        return path_steps(self.common if side == "common" else self.erp)

    @cached_property
    def names(self) -> tuple[str, ...]:
        """Every key the field's paths pass through, both sides: an error masks its value if any is personal."""
        return tuple(name for side in ("common", "erp") for name, _ in self.steps(side))

    def json_schema(self) -> dict[str, Any]:
        if self.type == "decimal":
            return {"type": ["number", "null"]}
        if self.type == "date":
            return {"type": ["string", "null"], "format": "date"}
        if self.type == "enum":
            return {"type": ["string", "null"]}
        return {"type": ["string", "null"]}


@dataclass(frozen=True)
class Deletion:
    """How the ERP marks a deleted (or blocked) order or line: such lines are not lines of the order any more, and
    such an order (or one left without a live line) is not a live order, whatever its processing status says."""

    erp: str
    values: frozenset[str]
    lists: tuple[str, ...]
    common: tuple[tuple[str, Any], ...]

    def live(self, record: dict[str, Any], lines: Lines | None = None, where: str = "") -> tuple[dict[str, Any], bool]:
        """``record`` with its deleted list elements dropped, and whether the order itself counts as deleted.

        The order's own number stands for what ``split`` lands under it, its lowest line as read (``lines``; without
        it the first element), so ``refuse`` agrees (review29f H1): an order whose lowest line is deleted while
        another is live is refused by name (landed whole it would carry the other line's values under the number
        ``split`` later cancels); one whose every line is deleted keeps its lowest line only, so the cancellation
        carries the values the order's PO was landed with (review29f M1)."""
        deleted = _mark(record.get(self.erp)) in self.values
        out = record
        for name in self.lists:
            steps = path_steps(name)
            items = _as_list(_get(record, steps)) if _present(record, steps) else None
            if not items:
                continue
            gone = [_mark((item or {}).get(self.erp)) in self.values for item in items]
            if not any(gone):
                continue
            order_lines = lines if lines is not None and lines.list == name else None
            lowest = _lowest(items, order_lines)
            if all(gone):
                deleted = True
                kept = [items[lowest]] if lowest is not None else items
            else:
                kept = [item for item, dead in zip(items, gone, strict=True) if not dead]
                if len(kept) == 1 and (lowest is None or gone[lowest]):
                    raise MappingError(_lowest_gone(where, name, self.erp, items, lowest, kept[0], order_lines))
            if len(kept) != len(items):
                out = dict(out) if out is record else out
                out[name] = kept
        return out, deleted


def _lowest(items: list[Any], lines: Lines | None) -> int | None:
    """Which element of ``items`` ``split`` lands under the order's own number: the lowest line number (``lines``),
    else the first as read; None when the line numbers do not tell (malformed, absent or repeated)."""
    if lines is None or len(items) == 1:
        return 0
    numbers = [str(item.get(lines.number)) if isinstance(item, dict) and item.get(lines.number) is not None else None
               for item in items]  # fmt: skip
    if not all(n is not None and re.fullmatch(lines.pattern, n) for n in numbers):
        return None
    if len({int(str(n)) for n in numbers}) != len(numbers):
        return None
    return min(range(len(items)), key=lambda i: int(str(numbers[i])))


def _lowest_gone(
    where: str, name: str, erp: str, items: list[Any], lowest: int | None, live: Any, lines: Lines | None
) -> str:
    """The refusal of an order whose one live line is not the line its own number stands for (review29f H1)."""
    if lines is None:
        return (
            f"{where}: the first of its {name} is deleted ({erp}) while a later one is live; the order's own number "
            "stands for its first line, so it is not landed with another line's values"
        )
    live_number = (live or {}).get(lines.number) if isinstance(live, dict) else None
    if lowest is None:
        first = f"not all its {name} have a well-formed, distinct {lines.number}, so its lowest line is not known"
    else:
        first = f"its lowest line ({lines.number} {(items[lowest] or {}).get(lines.number)}) is cancelled ({erp})"
    return (
        f"{where}: {first} while {lines.number} {live_number} is live; the order's own number stands for its lowest "
        "line, so the order is not landed with another line's values (mapper setting multi_line: split lands the "
        f"live line as <order>{lines.separator}{live_number} and the cancelled one under the order's number)"
    )


@dataclass(frozen=True)
class Lines:
    """Where an ERP order keeps its lines, for the mapper's ``multi_line: split``: one Common PO per line, numbered
    ``<order><separator><line number>`` so the number is stable (a line keeps its number when others come or go)
    and reversible. Unambiguous (review27e M4): an order number holding the separator is refused when split, and
    ``to_erp`` reverses only a number with one separator and a line number of the ERP's shape (``pattern``), so
    ``ORA-1001`` is never read as order ``ORA`` line 1001."""

    list: str
    number: str
    separator: str = "-"
    #: the ERP's line numbers (a full match): S/4 ``PurchaseOrderItem`` is NUMC 5, Fusion's ``LineNumber`` a number
    pattern: str = "[0-9]+"
    #: the ERP's type of the line number, as ``to_erp`` writes it: S/4 ``PurchaseOrderItem`` is a string (NUMC),
    #: Fusion's ``LineNumber`` a number (review27e L5)
    type: str = "string"

    def plain(self, order: Any, where: str) -> str:
        """An order's own number as split lands an order of one line: refused when it holds the separator."""
        if self.separator in str(order):
            raise MappingError(
                f"{where}: the order number {str(order)!r} holds {self.separator!r}, which multi_line: split puts "
                "between order and line number; refusing rather than land a number that reads back as another order"
            )
        return str(order)

    def numbered(self, order: Any, line: Any, where: str) -> str:
        self.plain(order, where)
        if not re.fullmatch(self.pattern, str(line)):
            raise MappingError(
                f"{where}: {self.number} {str(line)!r} is not a line number of this ERP ({self.pattern}); multi_line: "
                "split numbers each Common PO by it"
            )
        return f"{order}{self.separator}{line}"

    def parts(self, po_number: Any, where: str) -> tuple[str, str]:
        order, sep, line = str(po_number or "").partition(self.separator)
        if not sep or not order or self.separator in line or not re.fullmatch(self.pattern, line):
            raise MappingError(
                f"{where}: po_number {po_number!r} is not <order>{self.separator}<line number> (multi_line: split "
                f"numbers one Common PO per ERP line so: one {self.separator!r}, a line number {self.pattern})"
            )
        return order, line


@dataclass(frozen=True)
class MapOptions:
    """The mapper's explicit choices (settings ``multi_line``, ``price_rounding``); the defaults refuse."""

    #: one Common PO per ERP line (the template's ``lines``) instead of refusing an order of several
    split: bool = False
    #: round a ``price`` field with more places than its scale half up instead of refusing the record
    round_prices: bool = False
    #: put before every po_number this mapping lands in Common (and required, then cut off, on the way back): the
    #: ERP's own numbering space in Common's one po_number space, so two ERPs (or Common's own POs) never share a
    #: number (review27e M3)
    po_number_prefix: str = ""


REFUSE = MapOptions()


class LinePiece(dict[str, Any]):
    """One line of an order of several, cut out by ``Template.pieces``: numbered ``<order><separator><line>``,
    except the order's first line (``first``), which keeps the order's own number (review28f H1)."""

    first: bool = False
    #: why the order has no first line (a line number malformed, absent or repeated): then no line of it lands
    unsettled: str | None = None


@dataclass(frozen=True)
class Template:
    name: str
    erp: str
    common_stream: str
    erp_stream: str
    common_key: tuple[str, ...]
    erp_key: tuple[str, ...]
    single_item_lists: tuple[str, ...]
    fields: tuple[FieldRule, ...]
    #: (ERP path, value, why): a record whose value differs is refused from the ERP; the value is written to it.
    fixed: tuple[tuple[str, str, str], ...] = ()
    #: (ERP path, other ERP path, why): a record whose two values differ (or either is null) is refused from the ERP.
    equal: tuple[tuple[str, str, str], ...] = ()
    deletion: Deletion | None = None
    lines: Lines | None = None

    def source_stream(self, direction: Direction) -> str:
        return self.common_stream if direction == "to_erp" else self.erp_stream

    def target_stream(self, direction: Direction) -> str:
        return self.erp_stream if direction == "to_erp" else self.common_stream

    def target_key(self, direction: Direction) -> list[str]:
        return list(self.erp_key if direction == "to_erp" else self.common_key)

    def target_schema(self, direction: Direction, options: MapOptions = REFUSE) -> dict[str, Any]:
        """The JSON schema of mapped records (nested objects and one-element lists for ERP paths)."""
        root: dict[str, Any] = {"type": "object", "properties": {}}
        side = "erp" if direction == "to_erp" else "common"
        placed = [(rule.steps(side), rule.json_schema()) for rule in self.fields]
        if direction == "to_erp":
            placed += [
                (path_steps(path), {"type": ["number", "null"]} if _is_number(value) else {"type": ["string", "null"]})
                for path, value, _ in self.fixed
            ]
            placed += [(path_steps(path), {"type": ["string", "null"]}) for path, _, _ in self.equal]
            if options.split and self.lines is not None:
                placed.append((self._line_number_steps(), {"type": [self.lines.type, "null"]}))
        if direction == "from_erp" and self._total_from_exact_price(options):
            placed.append(([("total_amount", None)], {"type": ["number", "null"]}))
        for steps, leaf in placed:
            node = root
            for name, index in steps[:-1]:
                props = node["properties"]
                if index is None:
                    node = props.setdefault(name, {"type": ["object", "null"], "properties": {}})
                else:
                    holder = props.setdefault(
                        name, {"type": ["array", "null"], "items": {"type": "object", "properties": {}}}
                    )
                    node = holder["items"]
            node["properties"][steps[-1][0]] = leaf
        return root

    def _total_from_exact_price(self, options: MapOptions) -> bool:
        """Whether a rounded price's order goes with ``total_amount`` = quantity x the ERP's price: a template that
        maps no total (S/4: its item carries none), when ``price_rounding`` may round."""
        return options.round_prices and not any(rule.common == "total_amount" for rule in self.fields)

    def _line_number_steps(self) -> list[tuple[str, int | None]]:
        assert self.lines is not None
        return [(self.lines.list, 0), (self.lines.number, None)]

    def pieces(
        self, record: dict[str, Any], direction: Direction, options: MapOptions = REFUSE
    ) -> list[dict[str, Any]]:
        """What one source record maps as: itself, or with ``multi_line: split`` from the ERP, for an order of
        several lines, one copy per line (``LinePiece``), each holding that line alone (a deleted line too: its
        Common PO is cancelled, not left live). The order's first line (its lowest line number) keeps the order's
        own number, the others are ``<order><separator><line>``: so an order of one line lands as ``refuse`` lands
        it (switching refuse -> split lands no one-line order twice, review27e H2), and one that grows lines keeps its
        PO, whatever Common did with it since, and gains one per new line; nothing is ever renumbered, so nothing is
        cancelled for it (review28f H1). An order without lines stays whole, so it is refused by name. The first
        line's piece comes first (target-common, review29a H2)."""
        if not (options.split and self.lines is not None and direction == "from_erp"):
            return [record]
        items = _as_list(record.get(self.lines.list))
        if not items or len(items) == 1:
            return [record]
        pieces = [LinePiece({**record, self.lines.list: [item]}) for item in items]
        number = self.lines.number
        numbers = [str(item.get(number)) if isinstance(item, dict) and item.get(number) is not None else None
                   for item in items]  # fmt: skip
        unsettled = None
        if not all(n is not None and re.fullmatch(self.lines.pattern, n) for n in numbers):
            unsettled = f"not all its {self.lines.list} have a well-formed {self.lines.number}"
        elif len({int(str(n)) for n in numbers}) != len(numbers):
            unsettled = f"a {self.lines.number} appears twice in its {self.lines.list}"
        if unsettled is None:
            first = min(range(len(items)), key=lambda i: int(str(numbers[i])))
            pieces[first].first = True
            # sent first: target-common holds back a new line of an order whose own PO it refused as another line
            # in the same run (review29a H2), so it must have seen the order's own number before the others
            pieces.insert(0, pieces.pop(first))
        else:  # review28h L1: no first line is known, so every piece is refused (``map_record``); landed numbered
            # now, the true first line would land again under the order's own number once the order is well-formed
            for piece in pieces:
                piece.unsettled = unsettled
        out: list[dict[str, Any]] = [*pieces]
        return out

    def map_record(
        self,
        record: dict[str, Any],
        direction: Direction,
        options: MapOptions = REFUSE,
        rounded: list[str] | None = None,
    ) -> dict[str, Any]:
        """One piece (``pieces``) in the target's shape; ``rounded`` collects the prices ``options`` rounded."""
        source_side, target_side = ("common", "erp") if direction == "to_erp" else ("erp", "common")
        key = self.describe_key(record, direction, options)
        split = options.split and self.lines is not None
        piece = record if split and direction == "from_erp" and isinstance(record, LinePiece) else None
        deleted = False
        line_number = None
        if direction == "to_erp" and options.po_number_prefix:
            record = {**record, self.common_key[0]: self._unprefixed(record.get(self.common_key[0]), key, options)}
        if (
            split
            and direction == "to_erp"
            and self.lines is not None
            and self.lines.separator in str(record.get(self.common_key[0]) or "")
        ):  # a number without the separator is an order of one line, landed under its own number
            order, line_number = self.lines.parts(record.get(self.common_key[0]), f"{self.name}: {key}")
            record = {**record, self.common_key[0]: order}
        if direction == "from_erp":
            if self.deletion is not None:
                record, deleted = self.deletion.live(record, self.lines, f"{self.name}: {self.erp_stream} {key}")
            for list_name in self.single_item_lists:  # outer lists first: an inner path goes through [0]
                steps = path_steps(list_name)
                if not _present(record, steps):
                    expand = list_name.replace("[0].", "/")
                    raise MappingError(
                        f"{self.name}: {self.erp_stream} {key}: {list_name} is absent; the source must carry the "
                        f"items (tap-sap-s4hana: setting 'expand' with {self.erp_stream}: [{expand}])"
                    )
                items = _as_list(_get(record, steps))
                if items is not None and len(items) != 1:
                    hint = (
                        " (mapper setting multi_line: split lands one Common PO per line, numbered "
                        f"<order>{self.lines.separator}<line>; the order's first line keeps the order's own number)"
                        if self.lines is not None and list_name == self.lines.list and not split and items
                        else ""
                    )
                    raise MappingError(
                        f"{self.name}: {self.erp_stream} {key}: {list_name} has {len(items)} items; a Common purchase "
                        f"order carries exactly one line{hint}"
                    )
            for path, expected, why in self.fixed:
                steps = path_steps(path)
                if not _present(record, steps):
                    raise MappingError(
                        f"{self.name}: field {path!r} of {key} is absent from the source record (not null: missing); "
                        "the tap must read it"
                    )
                value = _get(record, steps)
                if value is None and not isinstance(_get(record, steps[:-1]), dict):
                    continue  # a null list or object on the way: nothing there to be wrong
                if value is None or not _same_value(value, expected):  # null too: the ERP never sends a null one
                    raise MappingError(
                        f"{self.name}: {self.erp_stream} {key}: {path} is {value}, not {expected}: {why}; "
                        "refusing rather than sending a wrong value"
                    )
            for path, other, why in self.equal:
                values = []
                if not isinstance(_get(record, path_steps(path)[:-1]), dict) and _present(record, path_steps(path)):
                    continue  # a null list or object on the way: nothing there to be wrong
                for each in (path, other):
                    if not _present(record, path_steps(each)):
                        raise MappingError(
                            f"{self.name}: field {each!r} of {key} is absent from the source record (not null: "
                            "missing); the tap must read it"
                        )
                    values.append(_get(record, path_steps(each)))
                if (values[0] is None) != (values[1] is None) or str(values[0]) != str(values[1]):
                    raise MappingError(
                        f"{self.name}: {self.erp_stream} {key}: {path} is {values[0]!r} but {other} is "
                        f"{values[1]!r}: {why}; refusing rather than sending a wrong value"
                    )
        out: dict[str, Any] = {}
        exact: dict[str, Decimal] = {}  # a price as the ERP has it, where price_rounding rounded it
        for rule in self.fields:
            value = _get(record, rule.steps(source_side))
            if value is None and not _present(record, rule.steps(source_side)):
                path = rule.common if direction == "to_erp" else rule.erp
                raise MappingError(
                    f"{self.name}: field {path!r} of {key} is absent from the source record (not null: missing); "
                    f"{'the catalog must select it' if direction == 'to_erp' else 'the tap must read it'}"
                )
            converted = self._convert(rule, value, direction, key, options, rounded)
            if rule.price and isinstance(converted, Decimal) and Decimal(str(value)) != converted:
                exact[rule.common] = Decimal(str(value))
            _set(out, rule.steps(target_side), converted)
        # review27e M2: Common works an absent total out of quantity x unit price, the rounded one; the ERP's line
        # value is quantity x its own price, so the total goes with the rounded price, rounded once
        total_wanted = direction == "from_erp" and self._total_from_exact_price(options) and "unit_price" in exact
        if total_wanted and out.get("quantity") is not None:
            out["total_amount"] = (Decimal(str(out["quantity"])) * exact["unit_price"]).quantize(
                Decimal("0.01"), ROUND_HALF_UP
            )
        if piece is not None:
            assert self.lines is not None
            number = _get(record, self._line_number_steps())
            if number is None or str(number) == "":
                raise MappingError(
                    f"{self.name}: {self.erp_stream} {key}: {self.lines.list}[0].{self.lines.number} is absent or "
                    "null; multi_line: split numbers each Common PO by it"
                )
            numbered = self.lines.numbered(out[self.common_key[0]], number, f"{self.name}: {key}")
            if piece.unsettled is not None:
                raise MappingError(
                    f"{self.name}: {self.erp_stream} {key}: {piece.unsettled}, so which line is the order's first "
                    "(landed under the order's own number) is not known; no line of the order is sent until it is"
                )
            out[self.common_key[0]] = self.lines.plain(out[self.common_key[0]], key) if piece.first else numbered
        elif split and direction == "from_erp" and out.get(self.common_key[0]) is not None:
            assert self.lines is not None
            self.lines.plain(out[self.common_key[0]], f"{self.name}: {key}")
        if direction == "from_erp" and options.po_number_prefix and out.get(self.common_key[0]) is not None:
            out[self.common_key[0]] = f"{options.po_number_prefix}{out[self.common_key[0]]}"
        if line_number is not None:
            assert self.lines is not None
            _set(out, self._line_number_steps(), int(line_number) if self.lines.type == "integer" else line_number)
        if direction == "to_erp":
            for path, expected, _ in self.fixed:
                _set(out, path_steps(path), Decimal(expected) if _is_number(expected) else expected)
            for path, other, _ in self.equal:  # written as the field it must equal
                _set(out, path_steps(path), _get(out, path_steps(other)))
        if deleted and self.deletion is not None:
            out.update(dict(self.deletion.common))
        return out

    def _unprefixed(self, po_number: Any, key: str, options: MapOptions) -> str:
        """``po_number`` without the mapping's prefix; a number without it is another source's PO (another ERP's,
        or Common's own), never this ERP's, so it is refused by name rather than sent to this ERP."""
        prefix = options.po_number_prefix
        text = str(po_number or "")
        if not text.startswith(prefix) or text == prefix:
            raise MappingError(
                f"{self.name}: {key}: po_number {po_number!r} does not start with po_number_prefix {prefix!r}: not a "
                f"purchase order this mapping landed from {self.erp} (another source's, or Common's own); refusing "
                f"to send it to {self.erp}"
            )
        return text[len(prefix) :]

    def describe_key(self, record: dict[str, Any], direction: Direction, options: MapOptions = REFUSE) -> str:
        """The record's key as errors and dead letters name it; a split order's piece names its line too."""
        names = self.common_key if direction == "to_erp" else self.erp_key
        key = ", ".join(f"{n}={record.get(n)!r}" for n in names)
        if options.split and self.lines is not None and direction == "from_erp":
            items = _as_list(record.get(self.lines.list))
            if items and len(items) == 1 and isinstance(items[0], dict):
                key += f", {self.lines.number}={items[0].get(self.lines.number)!r}"
        return key

    def _convert(
        self,
        rule: FieldRule,
        value: Any,
        direction: Direction,
        key: str,
        options: MapOptions = REFUSE,
        rounded: list[str] | None = None,
    ) -> Any:
        if value is None or value == "":
            return None
        where = f"{self.name}: field {rule.common if direction == 'to_erp' else rule.erp!r} of {key}"
        names = rule.names
        if rule.type == "decimal":
            if rule.price and options.round_prices:
                number = exact_decimal(value, None, where, names)
                out = number.quantize(Decimal(1).scaleb(-(rule.scale or 0)), ROUND_HALF_UP)
                if out != number and rounded is not None:
                    rounded.append(f"{key} {rule.common if direction == 'from_erp' else rule.erp} {number} -> {out}")
                return out
            try:
                return exact_decimal(value, rule.scale or 0, where, names)
            except MappingError as exc:
                if rule.price and "refusing to round" in str(exc):
                    raise MappingError(f"{exc} (mapper setting price_rounding: half_up rounds prices)") from None
                raise
        if rule.type == "date":
            return iso_date(value, where, names)
        if rule.type == "currency":
            code = str(value).strip().upper()
            if not re.fullmatch(r"[A-Z]{3}", code):
                raise MappingError(f"{where}: {_shown(value, names)} is not an ISO 4217 currency code")
            return code
        if rule.type == "enum":
            table = dict(rule.values) if direction == "to_erp" else {erp: common for common, erp in rule.values}
            text = str(value)
            if text not in table:
                raise MappingError(
                    f"{where}: value {_shown(text, names)} has no mapping in template {self.name!r} "
                    f"(mapped values: {', '.join(sorted(table))})"
                )
            return table[text]
        return value


def exact_decimal(value: Any, scale: int | None, where: str, names: tuple[str, ...]) -> Decimal:
    """``value`` at exactly ``scale`` places; more places than that (or not a number) is an error. ``None``: the
    number as it is."""
    if isinstance(value, bool):
        raise MappingError(f"{where}: {_shown(value, names)} is not a decimal number")
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise MappingError(f"{where}: {_shown(value, names)} is not a decimal number") from None
    if not number.is_finite():
        raise MappingError(f"{where}: {_shown(value, names)} is not a finite number")
    if scale is None:
        return number
    quantized = number.quantize(Decimal(1).scaleb(-scale))
    if quantized != number:
        places = -number.normalize().as_tuple().exponent  # type: ignore[operator]
        raise MappingError(
            f"{where}: {_shown(value, names)} has {places} decimal places, more than {scale}; refusing to round"
        )
    return quantized


def iso_date(value: Any, where: str, names: tuple[str, ...]) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date().isoformat() if value.tzinfo else value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    odata = _ODATA_DATE.match(text)
    if odata:
        return datetime.fromtimestamp(int(odata[1]) / 1000, tz=UTC).date().isoformat()
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"{where}: {_shown(value, names)} is not an ISO 8601 date") from None
    return (moment.astimezone(UTC) if moment.tzinfo else moment).date().isoformat()


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _same_value(value: Any, expected: str) -> bool:
    """``value`` equals the fixed value: as numbers when both are (``"1.000"``, ``1``, ``"1"``), else as text."""
    if _is_number(expected) and not isinstance(value, bool):
        try:
            return Decimal(str(value)) == Decimal(expected)
        except InvalidOperation:
            return False
    return str(value) == expected


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, dict) and isinstance(value.get("results"), list):
        return list(value["results"])
    return list(value) if isinstance(value, list) else None


def _get(record: Any, steps: list[tuple[str, int | None]]) -> Any:
    node = record
    for name, index in steps:
        if not isinstance(node, dict):
            return None
        node = node.get(name)
        if index is not None:
            items = _as_list(node)
            if items is None or index >= len(items):
                return None
            node = items[index]
    return node


def _present(record: Any, steps: list[tuple[str, int | None]]) -> bool:
    """Whether the path exists (its value may be null); a null object or list on the way counts as present."""
    node = record
    for name, index in steps:
        if node is None:
            return True
        if not isinstance(node, dict) or name not in node:
            return False
        node = node[name]
        if index is not None:
            items = _as_list(node)
            if node is None:
                return True
            if items is None or index >= len(items):
                return False
            node = items[index]
    return True


def _set(record: dict[str, Any], steps: list[tuple[str, int | None]], value: Any) -> None:
    node: Any = record
    for position, (name, index) in enumerate(steps):
        last = position == len(steps) - 1
        if index is None:
            if last:
                node[name] = value
                return
            node = node.setdefault(name, {})
            continue
        items = node.setdefault(name, [])
        while len(items) <= index:
            items.append({})
        if last:
            items[index] = value
            return
        node = items[index]


def load_template(name_or_path: str) -> Template:
    """A packaged template by name (``s4hana``, ``oracle_erp``, ``workday_fins``) or a YAML file path."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") and path.exists():
        text = path.read_text()
    else:
        packaged = resources.files("xlr8_mapper_common") / "templates" / f"{name_or_path}.yaml"
        if not packaged.is_file():
            known = sorted(
                p.name.removesuffix(".yaml") for p in (resources.files("xlr8_mapper_common") / "templates").iterdir()
            )
            raise MappingError(f"setting 'template': unknown template {name_or_path!r} (packaged: {', '.join(known)})")
        text = packaged.read_text()
    return parse_template(yaml.safe_load(text), source=name_or_path)


def parse_template(data: Any, *, source: str = "template") -> Template:
    if not isinstance(data, dict):
        raise MappingError(f"{source}: a template is a mapping")
    try:
        fields = tuple(_rule(raw, source) for raw in data["fields"])
        template = Template(
            name=str(data["name"]),
            erp=str(data.get("erp") or data["name"]),
            common_stream=str(data["common_stream"]),
            erp_stream=str(data["erp_stream"]),
            common_key=tuple(data["common_key"]),
            erp_key=tuple(data["erp_key"]),
            single_item_lists=tuple(data.get("single_item_lists") or ()),
            fields=fields,
            fixed=tuple(_fixed(raw, source) for raw in data.get("fixed") or ()),
            equal=tuple(_equal(raw, source) for raw in data.get("equal") or ()),
            deletion=_deletion(data.get("deletion"), source),
            lines=_lines(data.get("lines"), source),
        )
    except KeyError as exc:
        raise MappingError(f"{source}: missing {exc.args[0]!r}") from None
    for side in ("common", "erp"):
        paths = [r.common if side == "common" else r.erp for r in fields]
        twice = sorted({p for p in paths if paths.count(p) > 1})
        if twice:
            raise MappingError(f"{source}: {side} path(s) {', '.join(twice)} mapped twice")
    if template.lines is not None and not any(
        (r.common, r.erp) == (template.common_key[0], template.erp_key[0]) for r in fields
    ):
        raise MappingError(
            f"{source}: 'lines' numbers the Common key {template.common_key[0]!r} from the ERP key "
            f"{template.erp_key[0]!r}: a field must map the one to the other"
        )
    return template


def _lines(raw: Any, source: str) -> Lines | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw.get("list") or not raw.get("number"):
        raise MappingError(f"{source}: 'lines' needs 'list' and 'number' ({raw!r})")
    name, number, separator = str(raw["list"]), str(raw["number"]), str(raw.get("separator") or "-")
    for path in (name, number):
        if len(path_steps(path)) != 1 or path_steps(path)[0][1] is not None:
            raise MappingError(f"{source}: lines {path!r} must be a plain name (the record's list, the line's field)")
    if not separator or any(c.isdigit() or c.isspace() for c in separator):
        raise MappingError(f"{source}: lines separator {separator!r} must not be digits or blank")
    pattern = str(raw.get("pattern") or Lines.pattern)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise MappingError(f"{source}: lines pattern {pattern!r} is not a regular expression ({exc})") from None
    kind = str(raw.get("type") or "string")
    if kind not in ("string", "integer"):
        raise MappingError(f"{source}: lines type {kind!r} must be string or integer")
    return Lines(name, number, separator, pattern, kind)


def _fixed(raw: Any, source: str) -> tuple[str, str, str]:
    if not isinstance(raw, dict) or "erp" not in raw or "value" not in raw:
        raise MappingError(f"{source}: every fixed value needs 'erp' and 'value' ({raw!r})")
    path = str(raw["erp"])
    path_steps(path)
    return path, str(raw["value"]), str(raw.get("why") or "the template assumes it")


def _equal(raw: Any, source: str) -> tuple[str, str, str]:
    if not isinstance(raw, dict) or "erp" not in raw or "other" not in raw:
        raise MappingError(f"{source}: every equal rule needs 'erp' and 'other' ({raw!r})")
    path_steps(str(raw["erp"]))
    path_steps(str(raw["other"]))
    return str(raw["erp"]), str(raw["other"]), str(raw.get("why") or "the template assumes it")


def _deletion(raw: Any, source: str) -> Deletion | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, dict)
        or not raw.get("erp")
        or not raw.get("values")
        or not isinstance(raw.get("common"), dict)
    ):
        raise MappingError(f"{source}: 'deletion' needs 'erp', 'values' and a 'common' mapping ({raw!r})")
    lists = tuple(str(name) for name in raw.get("lists") or ())
    for name in lists:
        if len(path_steps(name)) != 1 or path_steps(name)[0][1] is not None:
            raise MappingError(f"{source}: deletion list {name!r} must be a list of the record itself (no path)")
    common = tuple((str(k), v) for k, v in raw["common"].items())
    return Deletion(str(raw["erp"]), frozenset(_mark(v) for v in raw["values"]), lists, common)


def _mark(value: Any) -> str:
    """A deletion mark as text, the template's and the record's alike: a code as it is (S/4's ``L``), a boolean
    flag as ``true``/``false`` however it is spelled (review29f L4): a JSON/YAML boolean (Fusion's line
    ``CancelFlag`` over REST) or the text ``true``/``false``/``Y``/``N`` in any case (extracts write flags as Y/N);
    null or empty is no mark."""
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value or "")
    return BOOLEAN_MARKS.get(text.strip().casefold(), text)


#: the spellings of a boolean deletion flag ``_mark`` reads, compared case-insensitively
BOOLEAN_MARKS = {"true": "true", "y": "true", "false": "false", "n": "false"}


def _rule(raw: Any, source: str) -> FieldRule:
    if not isinstance(raw, dict) or "common" not in raw or "erp" not in raw:
        raise MappingError(f"{source}: every field needs 'common' and 'erp' ({raw!r})")
    kind = str(raw.get("type") or "string")
    if kind not in FIELD_TYPES:
        raise MappingError(f"{source}: field {raw['common']!r}: type {kind!r} is not one of {', '.join(FIELD_TYPES)}")
    values: tuple[tuple[str, str], ...] = ()
    if kind == "enum":
        table = raw.get("values")
        if not isinstance(table, dict) or not table:
            raise MappingError(f"{source}: enum field {raw['common']!r} needs a 'values' table")
        values = tuple((str(k), str(v)) for k, v in table.items())
        erp_values = [v for _, v in values]
        if len(set(erp_values)) != len(erp_values):
            raise MappingError(f"{source}: enum field {raw['common']!r} maps two Common values to one ERP value")
    scale = raw.get("scale")
    if kind == "decimal" and not isinstance(scale, int):
        raise MappingError(f"{source}: decimal field {raw['common']!r} needs an integer 'scale'")
    price = raw.get("price", False)
    if not isinstance(price, bool) or (price and kind != "decimal"):
        raise MappingError(f"{source}: field {raw['common']!r}: 'price' is true or false, on a decimal field")
    rule = FieldRule(str(raw["common"]), str(raw["erp"]), kind, scale, values, price)
    rule.steps("common")
    rule.steps("erp")
    return rule
