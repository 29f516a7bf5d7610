"""Which columns carry personal data, and what a project's policy does with each.

A column is PII when its name matches one of the engine's patterns (the same list the engine's upload path uses)
or when the tap's ``x-xlr8`` annotation maps it to a canonical field the vocabulary marks as PII, so a vendor's own
spelling (``SSN``, ``NationalId``, ``BirthDate``, ``AnnualRate``) is caught whatever it is called.

Patterns are matched on word boundaries of the snake_case name (``tin`` catches ``employee_tin``, not
``posting_date``); ``.*`` inside a pattern may span words (``date.*birth`` catches ``date_of_birth``).
"""

from __future__ import annotations

import json
import re
import typing as t
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xlr8_kit.vocabulary import all_canonical_fields

Action = Literal["encrypt", "hash", "drop", "keep"]
ACTIONS: tuple[Action, ...] = ("encrypt", "hash", "drop", "keep")

#: The engine's ``FieldEncryptor`` column patterns, verbatim.
ENGINE_PATTERNS: tuple[str, ...] = (
    "ssn",
    "social.*sec",
    "tax.*id",
    "tin",
    "bank.*account",
    "routing.*number",
    "account.*number",
    "credit.*card",
    "card.*number",
    "passport",
    "license.*number",
    "driver.*lic",
    "salary",
    "pay.*rate",
    "wage",
    "compensation",
    "dob",
    "date.*birth",
    "birth.*date",
    "birthdate",
)
_ENGINE = [re.compile(rf"(?:^|_){p}(?:$|_)") for p in ENGINE_PATTERNS]
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


class PolicyError(ValueError):
    """A PII policy that cannot be applied; the message names the setting or the policy file and the entry."""


def snake(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", _CAMEL.sub("_", name).lower()).strip("_")


def pii_canonical_fields() -> dict[str, str]:
    """Canonical field -> PII category, from the vocabulary."""
    return {f.name: f.pii for f in all_canonical_fields() if f.pii}


def classify_column(column: str, canonical: str | None = None) -> str | None:
    """The PII category of one column (``"pattern"`` for a name match), or None when it is not personal data."""
    if canonical:
        category = pii_canonical_fields().get(canonical)
        if category:
            return category
    name = snake(column)
    return "pattern" if any(p.search(name) for p in _ENGINE) else None


@dataclass(frozen=True)
class ColumnDecision:
    column: str
    action: Action
    #: Why the column is protected: a PII category, or the policy rule that chose it.
    reason: str


@dataclass
class PiiPolicy:
    """Per canonical field or column pattern: ``encrypt`` (default), ``hash``, ``drop`` or ``keep`` (opt-in)."""

    default: Action = "encrypt"
    fields: dict[str, Action] = field(default_factory=dict)
    columns: list[tuple[re.Pattern[str], Action, str]] = field(default_factory=list)
    source: str = "pii_policy"

    @classmethod
    def from_setting(cls, value: Any, *, setting: str = "pii_policy") -> PiiPolicy:
        """A dict (Meltano setting) or the path of a JSON/YAML file with ``default``, ``fields``, ``columns``."""
        if value in (None, "", {}):
            return cls(source=setting)
        source = setting
        if isinstance(value, str):
            path = Path(value).expanduser()
            source = f"{setting} ({path})"
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise PolicyError(f"{source}: cannot read policy file: {exc.strerror}") from None
            value = _parse_policy_text(text, source)
        if not isinstance(value, dict):
            raise PolicyError(f"{source}: expected an object with default/fields/columns")
        unknown = sorted(set(value) - {"default", "fields", "columns"})
        if unknown:
            raise PolicyError(f"{source}: unknown key(s) {', '.join(unknown)} (expected default, fields, columns)")
        known = {f.name for f in all_canonical_fields()}
        fields: dict[str, Action] = {}
        for name, action in (value.get("fields") or {}).items():
            if name not in known:
                raise PolicyError(f"{source}: fields.{name}: not a canonical field of the vocabulary")
            fields[name] = _action(action, f"{source}: fields.{name}")
        columns = []
        for pattern, action in (value.get("columns") or {}).items():
            try:
                compiled = re.compile(pattern, re.IGNORECASE)
            except re.error as exc:
                raise PolicyError(f"{source}: columns.{pattern}: bad regular expression ({exc})") from None
            columns.append((compiled, _action(action, f"{source}: columns.{pattern}"), pattern))
        return cls(
            default=_action(value.get("default", "encrypt"), f"{source}: default"),
            fields=fields,
            columns=columns,
            source=source,
        )

    def decide(self, column: str, canonical: str | None = None) -> ColumnDecision | None:
        """What happens to one column; None for a column that is neither PII nor named by a rule."""
        for pattern, action, text in self.columns:
            if pattern.fullmatch(column) or pattern.fullmatch(snake(column)):
                return ColumnDecision(column, action, f"column rule {text!r}")
        category = classify_column(column, canonical)
        if category is None:
            return None
        if canonical and canonical in self.fields:
            return ColumnDecision(column, self.fields[canonical], f"field rule {canonical!r}")
        return ColumnDecision(column, self.default, category if category != "pattern" else "engine pattern")


def _action(value: Any, where: str) -> Action:
    if value not in ACTIONS:
        raise PolicyError(f"{where}: {value!r} is not one of {', '.join(ACTIONS)}")
    return t.cast(Action, value)


def _parse_policy_text(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    try:
        import yaml
    except ImportError:
        raise PolicyError(f"{source}: not JSON (install PyYAML for YAML policy files)") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: neither JSON nor YAML ({type(exc).__name__})") from None
