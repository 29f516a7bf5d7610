"""What a dead letter may keep of a record it sets aside (RELIABILITY F1 "redacted payload", C6, D1).

A dead-letter file or table outlives the run and is read by people, so a refused record is kept in a masked form:
values of secret-named keys masked, registered secrets masked inside every string, long strings and deep nesting cut.
The target keeps PII columns in the protected form its policy gives them (``protect_record``, before this); a
component without the engine's key (``mapper-common``) asks for ``personal``: every key the engine's PII patterns
or the vocabulary's personal-data fields (and ``iban``) name is masked too, at any depth.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from singer_sdk.helpers._typing import get_datelike_property_type

from xlr8_kit.privacy.policy import classify_column, pii_canonical_fields, snake
from xlr8_kit.redaction import MASK, Redactor

if TYPE_CHECKING:
    from singer_sdk.sinks import Sink

#: A dead letter keeps this many characters of a string (the rest counted).
PAYLOAD_STRING_LIMIT = 256
#: Keys whose values a dead letter never keeps, whatever the value looks like.
SENSITIVE_NAME = re.compile(r"pass(word)?|secret|token|api_?key|ssn|social_?security|private|credential", re.I)
#: What stands for a personal value a component without the engine's key cannot protect.
PII_MASK = "[PII]"


@cache
def _vocabulary_names() -> re.Pattern[str]:
    """The vocabulary's personal-data fields (``national_id``, ``home_address``...) and ``iban``, as parts of a
    snake-case name: the engine's patterns miss them, and a letter keeps whole records, not only mapped fields."""
    names = sorted({*pii_canonical_fields(), "iban"})
    return re.compile(rf"(?:^|_)(?:{'|'.join(map(re.escape, names))})(?:$|_|\d)")  # HomeAddress1 too


def _personal(key: str) -> bool:
    """A key whose value is personal data: the engine's PII patterns name it, or a vocabulary PII field does."""
    return classify_column(key) is not None or _vocabulary_names().search(snake(key)) is not None


def _masked(key: str, value: Any, personal: bool) -> str | None:
    """What stands for ``value`` under ``key`` when a letter never keeps it, else None."""
    if key and SENSITIVE_NAME.search(key):
        return MASK
    if personal and key and value is not None and _personal(key):
        return PII_MASK
    return None


def _kept(value: Any, redactor: Redactor, personal: bool, key: str = "", depth: int = 0) -> Any:
    """``value`` (under ``key``, ``depth`` levels in) as a letter keeps it; see ``redacted_payload``."""
    masked = _masked(key, value, personal)
    if masked is not None:
        return masked
    if depth > 8:
        return "…(nested)"
    if isinstance(value, dict):
        return {str(k): _kept(v, redactor, personal, str(k), depth + 1) for k, v in list(value.items())[:200]}
    if isinstance(value, list):
        return [_kept(v, redactor, personal, "", depth + 1) for v in value[:50]]
    if isinstance(value, str):
        safe = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\\0")
        if len(safe) > PAYLOAD_STRING_LIMIT:
            safe = f"{safe[:PAYLOAD_STRING_LIMIT]}…({len(safe)} chars)"
        return redactor.redact(safe)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return value


def redacted_payload(record: dict[str, Any], redactor: Redactor, *, personal: bool = False) -> dict[str, Any]:
    """``record`` as a dead letter keeps it (JSON values only): ``_sdc_`` metadata left out, a secret-named key's
    value masked, with ``personal`` a PII-named key's value too (``_personal``, any depth), registered secrets
    masked in strings, strings cut at ``PAYLOAD_STRING_LIMIT``, at most 200 keys and 50 items, 8 levels."""
    visible = {k: v for k, v in record.items() if not str(k).startswith("_sdc_")}
    return cast("dict[str, Any]", _kept(visible, redactor, personal))


def quoted_value(names: Iterable[str], value: Any, redactor: Redactor, *, personal: bool = True) -> str:
    """``value``, found under the keys ``names`` (a field's path, or the names it goes by), quoted for an error or
    log text as a letter keeps it: masked when any of the names is secret-named or (with ``personal``) PII-named,
    registered secrets masked, cut at ``PAYLOAD_STRING_LIMIT``. A text about a refused record then shows no more of
    it than its dead letter does, and the Redactor alone would mask only registered secrets."""
    for name in names:
        masked = _masked(name, value, personal)
        if masked is not None:
            return masked
    return repr(_kept(value, redactor, personal))


def redact_payload(record: dict[str, Any], redactor: Redactor, *, personal: bool = False) -> str:
    """``redacted_payload`` as one JSON text, every registered secret's forms masked in it once more."""
    payload = redacted_payload(record, redactor, personal=personal)
    return redactor.redact(json.dumps(payload, ensure_ascii=False, default=str))


def schema_violation(exc: BaseException) -> tuple[str, str]:
    """Where and why a record fails its stream's JSON schema (the SDK's ``InvalidRecord``), as a letter says it: the
    field's JSON path and the rule, never the value (the validator's own message quotes it, RELIABILITY D3)."""
    import jsonschema  # only where a record was refused: the taps' and the mapper's start-up stay without it

    cause = exc.__cause__
    if isinstance(cause, jsonschema.ValidationError):
        return cause.json_path, f"schema violation ({cause.validator})"
    return "$", "schema violation"


def datelike_properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The schema's date, date-time and time properties (what ``unparseable_datelike`` parses)."""
    properties = schema.get("properties") or {}
    return {name: prop for name, prop in properties.items() if get_datelike_property_type(prop) is not None}


def unparseable_datelike(
    sink: Sink, record: dict[str, Any], datelike: dict[str, dict[str, Any]]
) -> tuple[str, str] | None:
    """The SDK's timestamp parsing (``Sink._parse_timestamps_in_record``) one field of ``datelike`` at a time, each
    replaced in ``record`` by its parsed value, so a refusal names its field: the path and reason of the first that
    does not parse (the parser's text quotes the value), else None."""
    for key, prop in datelike.items():
        value = record.get(key)
        if value is None:
            continue
        single = {key: value}
        try:
            sink._parse_timestamps_in_record(
                record=single, schema={"properties": {key: prop}}, treatment=sink.datetime_error_treatment
            )
        except (ValueError, TypeError, OverflowError):
            return f"$.{key}", f"unparseable {prop.get('format', 'date')} value"
        record[key] = single[key]
    return None
