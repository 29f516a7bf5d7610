"""Filters, measures and groupings of a question, for any canonical entity, from the vocabulary's fields.

Rule-based and deterministic. What an entity can be asked about is the union of the canonical fields its product
streams carry (``stream_mappings``), so an entity or field a new tap adds to the vocabulary is understood without
a change here:

- statuses: an enumerated field's canonical values (``active``, ``on leave``, ``terminated`` ...);
- dates: ``in 2024``, ``in March 2024``, ``since``/``from``/``after``/``before`` a year or day, ``between .. and ..``,
  ``last``/``this`` ``month``/``year``; the field is the one whose name starts like the word before (``hired`` ->
  ``hire_date``, ``closing`` -> ``close_date``), else the entity's first date field;
- comparisons: ``amount over 10000``, ``more than 40 hours``, ``at least``, ``under``, ``below``, ``at most``;
- quoted values: ``stage 'Closed Won'``, ``status "Posted"``; ``in department D003``, ``at location BOS``;
- ``by X`` / ``per X``: the grouping; ``how many``/``total``/``average``: the measure.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from functools import cache

from xlr8_kit.query import And, Between, Compare, Filter, In
from xlr8_kit.vocabulary import (
    canonical_field,
    find_canonical_field,
    products_for_entity,
    stream_mappings,
)

_DAY = r"(\d{4}-\d{2}-\d{2}|\d{4})"
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTH = r"(" + "|".join(_MONTHS) + r") (\d{4})"
#: Status words in everyday speech -> canonical enumeration value.
_STATUS_WORDS = {
    "active": r"\bactive\b",
    "leave": r"\bon leave\b|\bleave of absence\b|\bon a leave\b",
    "terminated": r"\b(?:terminated|former|inactive|termed)\b",
}
_COMPARE_WORDS = {
    "more than": ">",
    "greater than": ">",
    "over": ">",
    "above": ">",
    "exceeding": ">",
    "at least": ">=",
    "less than": "<",
    "fewer than": "<",
    "under": "<",
    "below": "<",
    "at most": "<=",
}
_COMPARE = re.compile(
    r"(?:\b(?P<before>[a-z_]+(?: [a-z_]+)?) )?\b(?P<op>"
    + "|".join(_COMPARE_WORDS)
    + r")\s+\$?(?P<num>\d[\d,]*(?:\.\d+)?)"
    r"(?:\s+(?P<after>[a-z_]+(?: [a-z_]+)?))?"
)
GROUP = re.compile(
    r"\b(?:grouped by|broken down by|by|per|for each|for every) (?:the |each |every )?"
    r"(?P<field>[a-z_]+(?: [a-z_]+)?)(?=\s+(?:in|for|from|at|with|where|and)\b|\s*[?.,!]|\s*$)"
)
QUALIFIER = r"\b(?:in|at|for|from) (?:the )?(?:department|dept|location|site|office) [a-z0-9_-]+\b"


@dataclass(frozen=True)
class Fields:
    """The canonical fields an entity's streams carry, by type."""

    names: tuple[str, ...]

    def of_type(self, *types: str) -> list[str]:
        return [n for n in self.names if canonical_field(n).type in types]

    def phrase(self, words: str, *types: str) -> str | None:
        """The field a phrase names (``hours``, ``pay code``, ``department``, ``amount``), within ``types``."""
        wanted = words.strip().lower().replace(" ", "_")
        if not wanted:
            return None
        candidates = self.of_type(*types) if types else list(self.names)
        for name in candidates:
            if wanted in _phrases(name):
                return name
        # the last word of a field's name ("status" is employment_status when the entity has no plain status)
        ends = [n for n in candidates if n.split("_")[-1] == wanted or n.split("_")[0] == wanted]
        if len(ends) == 1:
            return ends[0]
        # synonyms through the vocabulary (``pay_code`` is the earning code)
        found = find_canonical_field(wanted)
        if found is not None and found.name in candidates:
            return found.name
        return None


def _phrases(name: str) -> set[str]:
    out = {name, name.rstrip("s")}
    for suffix in ("_code", "_id", "_date", "_name"):
        if name.endswith(suffix):
            out.add(name.removesuffix(suffix))
    out |= {p + "s" for p in list(out)}
    return out


@cache
def entity_fields(entity: str) -> Fields:
    """Canonical fields of every product stream carrying the entity, primary streams first."""
    names: dict[str, None] = {}
    for product in products_for_entity(entity):
        for mapping in sorted(stream_mappings(product, entity), key=lambda m: not m.primary):
            names.update(dict.fromkeys(mapping.fields))
    return Fields(tuple(names))


def default_date_field(fields: Fields) -> str | None:
    dates = fields.of_type("date") or [f for f in fields.of_type("datetime") if f not in ("last_modified",)]
    return dates[0] if dates else None


def _date_field(fields: Fields, before: str) -> str | None:
    """The date field a verb names (``hired`` -> ``hire_date``); None when the word names none."""
    word = before.strip().split(" ")[-1] if before.strip() else ""
    if len(word) < 4:
        return None
    for name in fields.of_type("date", "datetime"):
        stem = name.split("_")[0]
        if word[:4] == stem[:4]:
            return name
    return None


def _bound(text: str, *, end: bool) -> date:
    if len(text) == 4:
        return date(int(text), 12, 31) if end else date(int(text), 1, 1)
    return date.fromisoformat(text)


def date_filters(text: str, fields: Fields, today: date) -> list[Filter]:
    """Date phrases as filters on the field the preceding word names, else the entity's first date field."""
    default = default_date_field(fields)
    if default is None:
        return []
    found: list[Filter] = []

    def field_before(start: int) -> str:
        words = text[:start].split()[-2:]
        for word in reversed(words):
            if (name := _date_field(fields, word)) is not None:
                return name
        return default

    for match in re.finditer(rf"\b(?:in|during) {_MONTH}\b", text):
        month, year = _MONTHS[match.group(1)], int(match.group(2))
        last = calendar.monthrange(year, month)[1]
        found.append(Between(field_before(match.start()), date(year, month, 1), date(year, month, last)))
    for match in re.finditer(r"\b(?:in|during) (\d{4})\b(?!-)", text):
        found.append(
            Between(field_before(match.start()), _bound(match.group(1), end=False), _bound(match.group(1), end=True))
        )
    for match in re.finditer(rf"\bbetween {_DAY} and {_DAY}\b", text):
        low, high = match.groups()
        found.append(Between(field_before(match.start()), _bound(low, end=False), _bound(high, end=True)))
    for match in re.finditer(rf"\b(since|from|after) {_DAY}\b", text):
        word, when = match.groups()
        name = field_before(match.start())
        if word == "after":
            found.append(Compare(name, ">", _bound(when, end=True)))
        else:
            found.append(Compare(name, ">=", _bound(when, end=False)))
    for match in re.finditer(rf"\bbefore {_DAY}\b", text):
        found.append(Compare(field_before(match.start()), "<", _bound(match.group(1), end=False)))
    for match in re.finditer(r"\b(last|this|past) (month|year)\b", text):
        which, unit = match.groups()
        name = field_before(match.start())
        if unit == "year":
            year = today.year - (1 if which == "last" else 0)
            low, high = date(year, 1, 1), date(year, 12, 31)
        else:
            first = today.replace(day=1)
            if which == "last":
                high = first - timedelta(days=1)
                low = high.replace(day=1)
            else:
                low, high = first, today
        found.append(Between(name, low, high))
    return found


def status_filters(text: str, fields: Fields, original: str = "") -> list[Filter]:
    found: list[Filter] = []
    for name in fields.names:
        values = canonical_field(name).values
        if not values:
            continue
        wanted = [
            v
            for v in values
            if re.search(_STATUS_WORDS.get(v, rf"\b{re.escape(v)}\b"), text)
            # "terminated in 2023" dates the termination, it does not ask for terminated people only
            and not (v == "terminated" and re.search(r"\bterminated (?:in|since|before|after|during)\b", text))
        ]
        if len(wanted) == 1:
            found.append(Compare(name, "=", wanted[0]))
        elif wanted:
            found.append(In(name, tuple(wanted)))
    # quoted values keep the question's own spelling ('Closed Won')
    pattern = r"\b([a-z_]+(?: [a-z_]+)?) (?:is |of |= )?['\"]([^'\"]+)['\"]"
    for match in re.finditer(pattern, " ".join((original or text).split()), re.IGNORECASE):
        words = match.group(1).lower()
        named = fields.phrase(words.split(" ")[-1], "string") or fields.phrase(words, "string")
        if named is not None and not canonical_field(named).values:
            found.append(Compare(named, "=", match.group(2)))
    return found


def comparison_filters(text: str, fields: Fields) -> list[Filter]:
    numbers = fields.of_type("number", "integer")
    found: list[Filter] = []
    for match in _COMPARE.finditer(text):
        name: str | None = None
        for words in (match.group("after"), match.group("before")):
            if not words:
                continue
            name = fields.phrase(words, "number", "integer") or fields.phrase(words.split(" ")[-1], "number", "integer")
            if name is None and " " in words:
                name = fields.phrase(words.split(" ")[0], "number", "integer")
            if name is not None:
                break
        if (
            name is None
            and len(numbers) >= 1
            and not any((match.group(g) or "").split(" ")[0] in ("days", "years", "months") for g in ("after",))
        ):
            name = numbers[0]
        if name is None:
            continue
        value = Decimal(match.group("num").replace(",", ""))
        found.append(Compare(name, _COMPARE_WORDS[match.group("op")], int(value) if value == int(value) else value))
    return found


def qualifier_filters(text: str, fields: Fields) -> list[Filter]:
    found: list[Filter] = []
    if "department_code" in fields.names and (
        match := re.search(r"\b(?:in|for|from) (?:the )?(?:department|dept) ([a-z0-9_-]+)\b", text)
    ):
        found.append(Compare("department_code", "=", match.group(1).upper()))
    if "location_code" in fields.names and (
        match := re.search(r"\b(?:in|at|from) (?:the )?(?:location|site|office) ([a-z0-9_-]+)\b", text)
    ):
        found.append(Compare("location_code", "=", match.group(1).upper()))
    return found


def filters_for(entity: str, text: str, today: date, original: str = "") -> Filter | None:
    fields = entity_fields(entity)
    parts = [
        *status_filters(text, fields, original),
        *date_filters(text, fields, today),
        *qualifier_filters(text, fields),
        *comparison_filters(text, fields),
    ]
    unique = list(dict.fromkeys(parts))
    if not unique:
        return None
    return unique[0] if len(unique) == 1 else And(tuple(unique))


def group_field(entity: str, text: str) -> str | None:
    fields = entity_fields(entity)
    for match in GROUP.finditer(text):
        words = match.group("field")
        for candidate in (words, words.split(" ")[0]):
            name = fields.phrase(candidate, "string", "boolean", "date")
            if name is not None:
                return name
    return None


def measure(entity: str, text: str) -> tuple[str, str | None]:
    """(intent, numeric field): count, sum or average of a field, or a list."""
    fields = entity_fields(entity)
    numbers = fields.of_type("number", "integer")
    for intent, pattern in (("average", r"\b(?:average|avg|mean)\b"), ("sum", r"\b(?:total|sum of|sum)\b")):
        found = re.search(pattern + r"\s+(?:of\s+)?(?:the\s+)?([a-z_]+(?: [a-z_]+)?)?", text)
        if found:
            words = found.group(1) or ""
            name = (
                fields.phrase(words, "number", "integer")
                or fields.phrase(words.split(" ")[0], "number", "integer")
                or (numbers[0] if numbers else None)
            )
            if name is not None:
                return intent, name
    if re.search(r"\bhow many\b|\bnumber of\b|\bcount\b|\bheadcount\b", text):
        return "count", None
    return "list", None


def strip_phrases(text: str) -> str:
    """The question without qualifiers and groupings, for finding the entities it is about."""
    text = re.sub(QUALIFIER, " ", text)
    return GROUP.sub(" ", text)


def known_fields(entities: Iterable[str]) -> set[str]:
    return {name for e in entities for name in entity_fields(e).names}
