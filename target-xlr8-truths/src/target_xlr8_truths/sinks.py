"""One sink per stream: converts records (or dead-letters them), hands whole batches to the store."""

from __future__ import annotations

import datetime as dt
import functools
import gzip
import logging
import os
import shutil
import typing as t
import weakref
from pathlib import Path

import fastjsonschema
import msgspec
from singer_sdk.exceptions import InvalidInputLine, InvalidJSONSchema, InvalidRecord
from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator, JSONSchemaValidator

from target_xlr8_truths.columns import SINGER_DECIMAL_FORMAT, Column, decimal_scale, logical_type
from target_xlr8_truths.compiled import CompiledRecords
from target_xlr8_truths.naming import TableNames, column_names, quote, snake_case, stream_owner
from target_xlr8_truths.privacy import StreamProtection
from target_xlr8_truths.records import (
    MAX_FIELD_BYTES,
    MAX_JSON_DEPTH,
    Rejected,
    convert_value,
    json_number,
)
from target_xlr8_truths.store import SEQ, Batch, DeadLetter, NestedTypes, StreamInfo
from xlr8_kit.dead_letters import (
    PII_MASK,
    datelike_properties,
    redact_payload,
    schema_violation,
    unparseable_datelike,
)
from xlr8_kit.vocabulary.annotations import ANNOTATION_KEY, replace_sets_fit

#: The BATCH path's rewrite of nested JSON: fractions become what ``convert_value`` writes for them (see
#: ``TruthsSink._json_rewriter``).
_JSON_NUMBERS_AS_WRITTEN = msgspec.json.Decoder(float_hook=json_number)
_JSON_WRITER = msgspec.json.Encoder()
#: Nested JSON text DuckDB writes otherwise than the record path: a number with a fraction or exponent, or an escape
#: with upper-case hex digits; or text the record path refuses: NaN or Infinity (see ``TruthsSink._batch_rewrites``).
_REWRITTEN_JSON = r"'[0-9][.eE]|\\u00[01][A-F]|NaN|Infinity'"
#: Nested JSON texts longer than this are rewritten too, whatever they hold, so that the rewrite measures them
#: (the field limit; DuckDB's text and the record path's differ in length only where a number is rewritten).
_JSON_MEASURED_BYTES = MAX_FIELD_BYTES // 2
_JSON_STRING = msgspec.json.Decoder(str)
#: The nested-JSON rewrite remembers what it wrote for texts of up to ``_REWRITE_MEMO_CHARS`` characters: at most
#: ``_REWRITE_MEMO_ENTRIES`` of them holding ``_REWRITE_MEMO_BUDGET`` characters (texts and answers), forgotten all at
#: once when either is reached (a few MB per column even at 4 bytes a character). A value that repeats (an address
#: shared by a company's contacts, a code object) is rewritten once: 500,000 Salesforce Contacts (998 distinct
#: addresses) save ~1 us of the ~1.5 us a value cost the INSERT (``_remembering``).
_REWRITE_MEMO_ENTRIES = 4096
_REWRITE_MEMO_CHARS = 1024
_REWRITE_MEMO_BUDGET = 1 << 20
#: Characters every memo of the process holds together, at most (about a memo's entry more): a stream of many nested
#: JSON columns kept a memo each for the run, 100 of them 130 MiB outside DuckDB's memory limit (review 18c). A
#: memo that would pass it starts again; a memo's characters are given back when it is forgotten or collected.
_REWRITE_MEMO_PROCESS_BUDGET = 1 << 23
_memo_chars = [0]  # characters held by every nested-JSON memo of the process (drifts by a racing call at most)

if t.TYPE_CHECKING:
    from singer_sdk.helpers._batch import BaseBatchFileEncoding

    from target_xlr8_truths.target import TargetXlr8Truths

#: Record metadata kept whatever ``add_record_metadata`` says: deletes and full-table versions depend on them.
ALWAYS_KEPT_SDC = ("_sdc_deleted_at", "_sdc_table_version", "_sdc_extracted_at")
#: What the SDK adds to every record besides those: never stored unless ``add_record_metadata``, and always valid.
OTHER_SDC = ("_sdc_received_at", "_sdc_batched_at", "_sdc_sequence", "_sdc_sync_started_at")
#: Set to 1: every record and every BATCH file takes the exact per-field path (tests compare the two paths with it).
EXACT_PATH_ENV = "XLR8_TRUTHS_EXACT_PATH"
SDC_PREFIX = "_sdc_"


class DeadLetterCeilingError(RuntimeError):
    """More records were dead-lettered in this run than ``dead_letter_ceiling`` allows."""


class BatchFileLoadError(RuntimeError):
    """A BATCH file failed to load for a reason other than its content (I/O, disk full, memory): the run stops."""


class _RefusedInGroup(Exception):
    """A file of a BATCH message of several files needs the record path: the message's transaction, which holds what
    DuckDB's reader already inserted for it, rolls back and the message loads again (``_load_together``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _failure(exc: BaseException) -> str:
    """What failed, for the one ERROR line: DuckDB's text for a resource error (it names the file and the OS
    error, never a row's value), the type alone otherwise (its text may quote a value)."""
    import duckdb

    if isinstance(exc, duckdb.OperationalError | duckdb.FatalException | OSError):
        return f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
    return type(exc).__name__


def _without_keywords(node: t.Any, keywords: frozenset[str]) -> t.Any:
    """The schema without the given keywords (a property that happens to be called ``format`` stays)."""
    if isinstance(node, dict):
        return {
            k: _without_keywords(v, keywords)
            for k, v in node.items()
            if not (k in keywords and not isinstance(v, dict))
        }
    if isinstance(node, list):
        return [_without_keywords(v, keywords) for v in node]
    return node


#: Not validated by the schema validators: formats (as in the SDK; timestamps are checked when parsed, with the field
#: named) and ``multipleOf`` (a float divisor cannot check the exact Decimal values the SDK reads, and raises
#: TypeError; the decimal column's scale, taken from it, rejects values with more places instead).
UNVALIDATED = frozenset({"format", "multipleOf"})
#: Keywords no value can fail (annotations), on a property or on the stream.
_ANNOTATIONS = frozenset(
    {"title", "description", "default", "examples", "$comment", "readOnly", "writeOnly", "deprecated"}
)
#: Property keywords a stream keeps the BATCH fast path with (an allow-list, RELIABILITY F1): annotations, ``x-*``,
#: the type (the SQL's conversions check it), lengths (``_string_lengths``) and what neither path validates. Also,
#: with a condition (``TruthsSink._unchecked_keywords``): ``enum``/``const`` of a plain string (``_string_choices``),
#: ``properties``/``items`` of a nested JSON column whose schemas inside declare only ``_NESTED_CHECKED`` (the types
#: in there are checked in SQL: ``nested_types``) and an ``additionalProperties`` that allows anything. Any other
#: keyword (``pattern``, bounds, ``maxItems``, ``uniqueItems``, ``anyOf``, ``$ref``, ``required`` on an object, ...)
#: sends the stream's files to the record path.
_FAST_PATH_CHECKED = _ANNOTATIONS | UNVALIDATED | {"type", "minLength", "maxLength"}
#: JSON Schema type -> DuckDB's ``json_type`` names of the values it allows (``duckdb_store._nested_refused``). An
#: integer spelled with a fraction or an exponent (1.0, 1e3: a Decimal the validator refuses as an integer) or past
#: 2^64 reads DOUBLE and is marked: the record path decides.
_JSON_TYPE_NAMES = {
    "string": ("VARCHAR",),
    "boolean": ("BOOLEAN",),
    "null": ("NULL",),
    "object": ("OBJECT",),
    "array": ("ARRAY",),
    "integer": ("BIGINT", "UBIGINT"),
    "number": ("BIGINT", "DOUBLE", "UBIGINT"),
}
#: Keywords of a schema nested in a JSON column (under its ``properties`` or ``items``, at any depth) the fast path
#: keeps the stream with: its type (checked in SQL), its own ``properties`` and ``items`` (walked in turn),
#: annotations, ``x-*``, what neither path validates, and an ``additionalProperties`` that allows anything.
_NESTED_CHECKED = _ANNOTATIONS | UNVALIDATED | {"type", "properties", "items"}
#: Stream-level keywords that cannot refuse a record, besides annotations and ``x-*`` (the stream's ``required`` and
#: ``additionalProperties`` are judged in ``TruthsSink._unchecked_keywords``).
_STREAM_HARMLESS = _ANNOTATIONS | {"type", "properties", "$schema", "$id", "definitions", "$defs"}


def _types_only(branches: t.Any) -> bool:
    """An ``anyOf`` whose branches declare a type and annotations alone: it allows what a ``type`` list of the same
    names allows, and ``logical_type`` reads it so (``oneOf`` is not: a value of two overlapping branches fails)."""
    return isinstance(branches, list) and all(
        isinstance(b, dict) and "type" in b and all(k == "type" or k in _ANNOTATIONS or k.startswith("x-") for k in b)
        for b in branches
    )


def nested_types(prop: dict[str, t.Any], where: str, unchecked: list[str], own: bool = False) -> NestedTypes:
    """The types a JSON column's schema (``prop``, named ``where``) declares inside its values, for the fast path's
    SQL (``duckdb_store._nested_refused``); each keyword in there it does not check goes to ``unchecked`` as
    ``where.path: keyword`` (the stream's files then take the record path). The column's own keywords and type
    are judged elsewhere (``TruthsSink._unchecked_keywords``, ``_json_shapes``); ``own``: those of ``prop`` too (an
    array's element schema)."""
    paths: list[tuple[str, tuple[str, ...]]] = []
    arrays: list[tuple[str, NestedTypes]] = []

    def walk(node: t.Any, path: str, label: str, own: bool) -> None:
        if node is True or node == {}:
            return
        if not isinstance(node, dict):  # ``false`` (no value) or not a schema: the validator's to judge
            unchecked.append(f"{label}: {_json_text(node)}")
            return
        if own:
            for keyword in sorted(node):
                if keyword in _NESTED_CHECKED or keyword.startswith("x-"):
                    continue
                if keyword == "additionalProperties" and node[keyword] in (True, {}):
                    continue
                unchecked.append(f"{label}: {keyword}")
            declared = node.get("type")
            names = [declared] if isinstance(declared, str) else declared
            if isinstance(names, list) and names and all(n in _JSON_TYPE_NAMES for n in names):
                paths.append((path, tuple(sorted({x for n in names for x in _JSON_TYPE_NAMES[n]}))))
            elif declared is not None:
                unchecked.append(f"{label}: type")
        properties = node.get("properties", {})
        for name, sub in properties.items() if isinstance(properties, dict) else ():
            if name and name != "*" and not any(c in '"\\' or c < " " for c in name):
                walk(sub, f'{path}."{name}"', f"{label}.{name}", True)
            else:  # a JSON path cannot spell it (DuckDB's: no escapes, no empty name, "*" is its wildcard)
                unchecked.append(f"{label}.{_json_text(name)}: a name a JSON path cannot spell")
        if not isinstance(properties, dict):
            unchecked.append(f"{label}: properties")
        items = node.get("items", True)
        if isinstance(items, dict) and items:
            element = nested_types(items, f"{label}[]", unchecked, own=True)
            if element.paths or element.arrays:
                arrays.append((path, element))
        elif items is not True and items != {}:  # a list of schemas (tuple validation) or ``false``
            unchecked.append(f"{label}: items")

    walk(prop, "$", where, own)
    return NestedTypes(tuple(paths), tuple(arrays))


def _json_text(value: t.Any) -> str:
    return msgspec.json.encode(value).decode()


class FastValidator(BaseJSONSchemaValidator):
    """Compiled validation (fastjsonschema) for the common case; the SDK's jsonschema validator only explains a
    failure, and has the last word, so both agree on what is valid."""

    def __init__(self, schema: dict[str, t.Any]) -> None:
        super().__init__(schema)
        self._explain = JSONSchemaValidator(_without_keywords(schema, frozenset({"multipleOf"})))
        try:
            self.check = fastjsonschema.compile(_without_keywords(schema, UNVALIDATED), use_default=False)
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            raise InvalidJSONSchema(f"Schema Validation Error: {exc}") from exc

    def validate(self, record: dict[str, t.Any]) -> None:
        try:
            self.check(record)
        except fastjsonschema.JsonSchemaValueException:
            self._explain.validate(record)


def stream_info(
    tables: TableNames, source: str, stream: str, schema: dict[str, t.Any], key_columns: list[str]
) -> StreamInfo:
    """Stream metadata from the ``x-xlr8`` annotation; without one the stream is Reality named after itself, under
    ``source`` (the tap it came from), so the same stream name from two taps lands in two tables."""
    note = schema.get(ANNOTATION_KEY) or {}
    props = list(schema.get("properties", {}))
    names = column_names(props)
    product = str(note.get("product") or source)
    source_stream = str(note.get("stream") or stream)
    entity = str(note.get("entity") or snake_case(stream))
    truth_type = str(note.get("truth_type") or "reality").lower()
    if truth_type not in {"reality", "configuration"}:
        truth_type = "reality"
    hub = note.get("hub") or {}
    references = {
        names.get(col, snake_case(col)): str(ref.get("semantic_type") or f"{ref.get('entity')}_code")
        for col, ref in (note.get("references") or {}).items()
        if isinstance(ref, dict)
    }
    replace_by = _replace_by(note, names, key_columns)
    return StreamInfo(
        stream=stream,
        product=product,
        entity=entity,
        truth_type=truth_type,
        table_name=tables.table_for(product, source_stream),
        file_name=stream_owner(product, source_stream),
        display_name=f"{product} {entity}".replace("_", " "),
        key_columns=key_columns,
        hub_column=names.get(hub["column"], snake_case(hub["column"])) if hub.get("column") else None,
        hub_semantic_type=str(hub.get("semantic_type")) if hub.get("semantic_type") else None,
        references=references,
        domain=note.get("domain"),
        replace_by=replace_by,
        replace_sources=[str(source) for source in note.get("replace_by") or []] if replace_by else [],
    )


def _replace_by(note: dict[str, t.Any], names: dict[str, str], key_columns: list[str]) -> list[str]:
    """The annotation's ``replace_by`` as column names, kept only while it is a leading part of the key the stream
    lands with or lies outside it (``replace_sets_fit``): a set taking part of the key but not its head could share
    a replaced key with another set."""
    wanted = [names.get(str(source)) for source in note.get("replace_by") or []]
    if not wanted or None in wanted or not replace_sets_fit(t.cast("list[str]", wanted), key_columns):
        return []
    return t.cast("list[str]", wanted)


class TruthsSink(BatchSink):
    """Rows and dead letters of one schema version of one stream."""

    target: TargetXlr8Truths

    def __init__(self, target: TargetXlr8Truths, stream_name: str, schema: dict, key_properties: t.Any) -> None:
        super().__init__(target=target, stream_name=stream_name, schema=schema, key_properties=key_properties)
        self.target = target
        self._rejection: Rejected | None = None
        keep_all = bool(self.config.get("add_record_metadata", False))
        properties = [
            p for p in self.schema["properties"] if not p.startswith(SDC_PREFIX) or keep_all or p in ALWAYS_KEPT_SDC
        ]
        for p in properties:
            if not isinstance(self.schema["properties"][p], dict):  # ``true``/``false``: the metaschema allows them
                raise ValueError(
                    f"stream {stream_name} property {p}: a boolean schema "
                    f"({str(self.schema['properties'][p]).lower()}) is not supported; declare the property's type "
                    "({} for any value)"
                )
        names = column_names(properties)
        note = self.schema.get(ANNOTATION_KEY) or {}
        exact = bool(note)  # an XLR8 tap's numbers are decimals; any other tap's unconstrained numbers are doubles
        columns = [
            Column(
                names[p],
                p,
                logical_type(self.schema["properties"][p], exact_numbers=exact),
                decimal_scale(self.schema["properties"][p]),
            )
            for p in properties
        ]
        keys = list(self.key_properties) or [str(k) for k in note.get("key_columns") or []]
        self.key_sources = [k for k in keys if k in names]
        self.protection = StreamProtection.build(
            stream_name, columns, note.get("canonical_fields") or {}, self.key_sources, self.target.privacy
        )
        if any(d.action in {"encrypt", "hash"} for d in self.protection.decisions.values()):
            self.target.check_pii_key(stream_name)
        self.columns = self.protection.stored_columns(columns)
        stored = {c.source for c in self.columns}
        #: Properties ``pii_policy`` drops: never stored, but the record path's validator checks them, so a BATCH
        #: file's SQL reads them for its checks alone (``Batch.checked``), never into a table.
        self.dropped = [c for c in columns if c.source not in stored]
        self._protected = self.protection.protected_sources
        self._datelike = datelike_properties(self.schema)
        self.info = stream_info(
            self.target.tables, self.target.source, stream_name, self.schema, [names[k] for k in self.key_sources]
        )
        self.target.adopt_unannotated_table(self.info, bool(note.get("formerly_unannotated")))
        self.target.check_key_change(self.info)
        self.info.encrypted_columns = [names[s] for s in self.protection.encrypted_sources]
        self.info.protected_columns = [names[s] for s in sorted(self._protected) if s in names]
        canonical = note.get("canonical_fields") or {}
        self.info.canonical_columns = {names[s]: str(c) for s, c in canonical.items() if s in names}
        self.info.pii_actions = {names[s]: d.action for s, d in self.protection.decisions.items() if s in names}
        self.target.check_pii_actions(self.info, [c.name for c in self.columns])
        self.target.register_stream(self.info)
        self._debug = self.logger.isEnabledFor(logging.DEBUG)
        self._compiled_count = 0  # records converted on the compiled path since the last drain (counted then)
        self.compiled: CompiledRecords | None = None
        exact_only = os.environ.get(EXACT_PATH_ENV) == "1"
        if not keep_all and not exact_only:
            validator = self._validator
            self.compiled = CompiledRecords(
                self.schema,
                _without_keywords(self.schema, UNVALIDATED),
                self.columns,
                self.protection,
                self.key_properties,
                OTHER_SDC,
                validator.check if isinstance(validator, FastValidator) else None,
            )

    @property
    def include_sdc_metadata_properties(self) -> bool:
        return True

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if not self.validate_schema:
            return None
        return FastValidator(self.schema)

    @property
    def is_full(self) -> bool:
        """Never asks the SDK for a lone ``drain_one`` (which emits no STATE): a full sink drains everything and
        relays the latest STATE, so checkpoints keep pace with commits (E15)."""
        return False

    @property
    def max_size(self) -> int:
        return self._max_size

    @functools.cached_property
    def _max_size(self) -> int:
        return int(self.config.get("batch_size_rows") or self.MAX_SIZE_DEFAULT)

    # -- per record ----------------------------------------------------------------------------------------------
    def _validate_and_parse(self, record: dict) -> dict:
        """Like the SDK's, but an invalid record is set aside for the dead-letter table instead of failing the run."""
        self._rejection = None
        try:
            if self._validator is not None:
                self._validator.validate(record)
            self._parse_datelike(record)
        except InvalidRecord as exc:
            self._rejection = Rejected(*schema_violation(exc))
        except Rejected as exc:
            self._rejection = exc
        return record

    def _parse_datelike(self, record: dict) -> None:
        """The SDK's timestamp parsing, one field at a time so a rejection names its field."""
        refused = unparseable_datelike(self, record, self._datelike)
        if refused is not None:
            raise Rejected(*refused)

    def _singer_validate_message(self, record: dict) -> None:
        if self._rejection is not None:
            return
        for key in self.key_properties:
            if record.get(key) is None:
                self._rejection = Rejected(f"$.{key}", "missing key property")
                return

    def _after_process_record(self, context: dict) -> None:
        """The SDK logs the whole batch context at DEBUG (every row so far): rows may carry personal data, so only
        the count is logged (RELIABILITY D3)."""
        self.logger.debug("Processed record %d of the current batch", context.get("received", 0))

    def process_record(self, record: dict, context: dict) -> None:
        self.target.check_stop()
        self.target.paths[self.stream_name]["exact"] += 1
        dead: list[DeadLetter] = context.setdefault("dead", [])
        context["received"] = context.get("received", 0) + 1
        self.target.received[self.stream_name] += 1
        rejection = self._rejection
        row: dict[str, t.Any] = {}
        if rejection is None:
            try:
                protected = self._protected
                for column in self.columns:
                    value = record.get(column.source)
                    if protected and column.source in protected:
                        value = self.protection.protect(column.source, value)
                    row[column.name] = convert_value(column, value)
            except Rejected as exc:
                rejection = exc
        if rejection is not None:
            key = self._letter_key(record) if self.key_properties else None
            dead.append(
                DeadLetter(
                    key,
                    rejection.reason,
                    rejection.path,
                    redact_payload(self.protection.protect_record(record), self.target.redactor),
                )
            )
            self._note_dead_set(record)
            self.target.count_dead_letter(self.stream_name)
            self._drain_when_full()
            return
        extracted = record.get("_sdc_extracted_at")
        self._append(row, extracted if isinstance(extracted, dt.datetime) else None, context)

    def _note_dead_set(self, record: dict[str, t.Any]) -> None:
        """Notes the set (``replace_by`` values, as its row would store them) of a dead-lettered record: an
        announcement of sets read whole takes that set for read, not empty, and keeps its rows (review26c H2). A
        null value, or one that does not convert (or is protected), leaves the set unknown: the stream's
        announcements then delete nothing this run (``TruthsTarget._apply_sets_read``)."""
        info = self.info
        if not info.replace_by:
            return
        by_name = {column.name: column for column in self.columns}
        values: list[t.Any] = []
        for name, source in zip(info.replace_by, info.replace_sources, strict=True):
            column, value = by_name.get(name), record.get(source)
            if column is None or source in self._protected:
                self.target.dead_sets_unknown.add(self.stream_name)
                return
            try:
                if isinstance(value, str) and source in self._datelike:
                    single = {source: value}
                    if unparseable_datelike(self, single, {source: self._datelike[source]}) is not None:
                        raise Rejected(f"$.{source}", "unparseable")
                    value = single[source]
                value = convert_value(column, value)
            except (Rejected, ValueError, TypeError, OverflowError):
                self.target.dead_sets_unknown.add(self.stream_name)
                return
            if value is None:  # its real set cannot be told from a null (review27f L1): keep every set
                self.target.dead_sets_unknown.add(self.stream_name)
                return
            values.append(value)
        self.target.dead_sets[self.stream_name].add(tuple(values))

    def _letter_key(self, record: dict[str, t.Any]) -> list[t.Any]:
        """A dead letter's ``record_key`` as the table stores the key: a PII key column hashed by the same policy
        (audit25e F19: an SSN key was kept in clear beside its hashed row), so erasure can still match it."""
        key = []
        for source in self.key_properties:
            value = record.get(source)
            if source in self._protected:
                try:
                    value = self.protection.protect(source, value)
                except Exception:  # noqa: BLE001 - a value the cipher refuses is masked, never kept in clear
                    value = PII_MASK
            key.append(value)
        return key

    def _append(self, row: dict[str, t.Any], extracted: dt.datetime | None, context: dict) -> None:
        if extracted is not None:
            low, high = context.get("window", (extracted, extracted))
            context["window"] = (min(low, extracted), max(high, extracted))
        row[SEQ] = context["received"]
        rows = context.get("rows")
        if rows is None:  # made on the first row: the store's buffer (RowLines for DuckDB)
            rows = context["rows"] = self.target.rows_type()
        rows.append(row)
        self._drain_when_full()

    def process_record_message(self, message: dict) -> None:
        """The SDK's RECORD handling for this sink (identity stream map, no extra metadata columns), with the
        record converted by the stream's compiled path; a record it cannot vouch for takes the SDK's steps."""
        record = message["record"]
        context = self._get_context(record)
        # the kept metadata, as _add_sdc_metadata_to_record sets it; the rest is never stored and always valid
        record["_sdc_extracted_at"] = message.get("time_extracted")
        record["_sdc_deleted_at"] = record.get("_sdc_deleted_at")
        record["_sdc_table_version"] = message.get("version")
        assert self.compiled is not None
        converted = self.compiled.row(record)
        if converted is None:
            self._add_sdc_metadata_to_record(record, message, context)
            self._validate_and_parse(record)
            record = self.preprocess_record(record, context)
            self._singer_validate_message(record)
            self.tally_record_read()
            self.process_record(record, context)
        else:
            self._compiled_count += 1
            self.tally_record_read()
            self._process_converted(converted, context)
        self.record_counter_metric.increment()
        if self._debug:
            self._after_process_record(context)

    def _process_converted(self, converted: tuple[dict[str, t.Any], dt.datetime | None], context: dict) -> None:
        """``process_record`` for a record the compiled path has already converted."""
        self.target.check_stop()
        context.setdefault("dead", [])
        context["received"] = context.get("received", 0) + 1
        self.target.received[self.stream_name] += 1
        self._append(converted[0], converted[1], context)

    def _drain_when_full(self) -> None:
        if self.current_size >= self.max_size:
            self.target.drain_all()

    # -- per batch -----------------------------------------------------------------------------------------------
    def process_batch(self, context: dict) -> None:
        self.target.paths[self.stream_name]["compiled"] += self._compiled_count
        self._compiled_count = 0
        batch = Batch(
            info=self.info,
            columns=self.columns,
            rows=context.get("rows", []),
            dead_letters=context.get("dead", []),
            received=context.get("received", 0),
            window=context.get("window", (None, None)),
            hard_delete=bool(self.config.get("hard_delete", False)),
            files=context.get("files", []),
            extracted=context.get("extracted"),
            exactness=context.get("exactness"),
        )
        if batch.files:
            batch.text_decimals = self._text_decimals
            batch.rewrite = self._batch_rewrites
            batch.private = bool(self._protected_stored)
            batch.protected = frozenset(c.name for c in self._protected_stored.values())
            batch.json_shapes = self._json_shapes
            batch.nested = self._nested[0]
            batch.not_null = self._not_null
            batch.lengths = self._string_lengths
            batch.choices = self._string_choices
            batch.checked = self.dropped
        busy = self.target.busy  # True already while a BATCH file loads record by record
        self.target.busy = True
        try:
            loaded = self.target.store.write_batch(batch)
        finally:
            self.target.busy = busy
        if batch.files:
            self.target.received[self.stream_name] += loaded
        self.target.loaded[self.stream_name] += loaded
        if self.target.store.replaced:
            self.target.replaced[self.stream_name] += self.target.store.replaced
            self.logger.info(
                "stream %s: %d row(s) of re-read sets (replace_by %s) %s",
                self.stream_name,
                self.target.store.replaced,
                ", ".join(self.info.replace_by or ()),
                self.target.store.replaced_how,
            )

    def activate_version(self, new_version: int) -> None:
        """Drain what is pending first, so the version switch never races the rows of the new version."""
        self.target.drain_one(self)
        self.target.store.activate_version(self.info, new_version, bool(self.config.get("hard_delete", False)))

    def process_batch_files(self, encoding: BaseBatchFileEncoding, files: t.Sequence[str]) -> None:
        """JSONL batch files are read by DuckDB directly; anything it cannot load exactly takes the record path."""
        self.target.drain_one(self)
        if encoding.format != "jsonl":
            raise NotImplementedError(f"BATCH encoding {encoding.format!r} is not supported (jsonl only)")
        paths = [self.target.batch_locations.readable(url, self.stream_name) for url in files]  # all before any load
        self.target.hold_batch_files(paths)  # removed once committed, or at exit whatever happens
        if len(paths) == 1:
            self._load_path(paths[0], encoding.compression)
        elif paths:
            self._load_together(paths, encoding.compression)
        self.target.remove_batch_files(paths)  # loaded and committed: the tap's files have served their purpose

    def _load_path(self, path: Path, compression: str | None, refused: str | None = None) -> None:
        """One file of a BATCH message, decompressed first when gzipped (``refused``: see ``_load_file``)."""
        # BATCH messages carry no time_extracted: the tap finished writing the file when it had read its rows
        extracted = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        if compression == "gzip" or path.name.endswith(".gz"):
            with self.target.spool.file(".jsonl") as (fd, plain):
                with os.fdopen(fd, "wb") as out, gzip.open(path, "rb") as src:
                    shutil.copyfileobj(src, out, 1 << 20)
                self._load_file(str(plain), extracted, str(path), refused)
        else:
            self._load_file(str(path), extracted, None, refused)

    def _load_together(self, paths: list[Path], compression: str | None) -> None:
        """The files of one BATCH message (a manifest of several, as other Singer taps send) in one transaction:
        all of them land or none does, and the STATE after the message goes out only after that commit. Each in its
        own commit, a failure in file 2 left file 1 landed with no STATE after it, and a keyless stream's rerun
        landed it twice. DuckDB has no savepoints, so a file that DuckDB's reader refuses (it needs the record path)
        rolls back what the message had loaded, and the message loads again with that file on the record path; the
        counts of the attempt rolled back are undone with it. At a second refusal every file DuckDB's reader has not
        loaded takes the record path: a refusal each restarted the whole message, n refused files n(n+1)/2 record
        path loads (review 22c); now the message loads at most three times."""
        store = self.target.store
        refused: dict[int, str] = {}
        counts = self._counts()
        busy = self.target.busy
        self.target.busy = True  # a termination signal waits for the whole message
        try:
            while True:
                index, loaded = 0, False
                try:
                    with store.one_commit():
                        for index, path in enumerate(paths):
                            self._load_path(path, compression, refused.get(index))
                        loaded = True
                    return
                except _RefusedInGroup as exc:
                    self._restore_counts(counts)
                    rest = index + 1 if not refused else len(paths)
                    refused[index] = exc.reason
                    second = f"file {index + 1} of its BATCH message was the second DuckDB's reader refused"
                    for later in range(index + 1, rest):  # the second refusal: the files after it without trying
                        refused.setdefault(later, second)
                    self.logger.info(
                        "BATCH message of %d files (stream %s): file %d needs the record path (%s); the message's "
                        "files load again in one transaction%s",
                        len(paths),
                        self.stream_name,
                        index + 1,
                        exc.reason,
                        ", with the files after it on the record path too" if rest > index + 1 else "",
                    )
                except (BatchFileLoadError, InvalidInputLine, DeadLetterCeilingError) as exc:
                    raise type(exc)(
                        f"{exc} It was file {index + 1} of {len(paths)} of one BATCH message: none of the message's "
                        "files was committed."
                    ) from exc
                except Exception as exc:
                    if not loaded:
                        raise
                    # every file loaded and the commit failed (a disk full, the WAL): one ERROR line as for a file
                    raise BatchFileLoadError(
                        f"stream {self.stream_name}: the BATCH message of {len(paths)} files ({paths[0]}, ...) was "
                        f"not committed ({_failure(exc)}); none of the message's files was committed and no STATE "
                        "after it was relayed. Fix the cause (disk space, file permissions, "
                        "duckdb_batch_memory_limit) and run again: the rerun loads them from the start."
                    ) from exc
        finally:
            self.target.busy = busy

    def _counts(self) -> tuple[int, int, int, int, t.Counter[str], int]:
        """This stream's run counts, to undo those of a BATCH message's attempt that rolled back."""
        stream, target = self.stream_name, self.target
        paths = target.paths[stream].copy()
        counted = target.received[stream], target.loaded[stream], target.dead_lettered[stream], target.replaced[stream]
        return *counted, paths, self._compiled_count

    def _restore_counts(self, counts: tuple[int, int, int, int, t.Counter[str], int]) -> None:
        stream, target = self.stream_name, self.target
        received, loaded, dead, replaced, paths, self._compiled_count = counts
        target.received[stream], target.loaded[stream], target.dead_lettered[stream] = received, loaded, dead
        target.replaced[stream] = replaced
        target.paths[stream] = paths.copy()

    def _load_file(
        self, path: str, extracted: dt.datetime, shown: str | None = None, refused: str | None = None
    ) -> None:
        """One BATCH file (``shown``: its name in the manifest when ``path`` is a decompressed copy), by DuckDB's
        reader or, when that refuses the file's content, record by record; either way one commit (``refused``: the
        reason DuckDB's reader refused it in an earlier attempt, straight to the record path). A termination
        signal waits for the whole file, the fall back from one path to the other included (it was honoured in
        between: the file's load stopped before the record path began)."""
        busy = self.target.busy
        self.target.busy = True
        try:
            self._load_file_either_way(path, extracted, shown, refused)
        finally:
            self.target.busy = busy

    def _load_file_either_way(self, path: str, extracted: dt.datetime, shown: str | None, refused: str | None) -> None:
        import duckdb

        from target_xlr8_truths.duckdb_store import DuckDBStore, FastPathRefused

        store = self.target.store
        reason = "not a DuckDB store"
        if refused is not None:
            reason = refused
        elif os.environ.get(EXACT_PATH_ENV) == "1":
            reason = f"{EXACT_PATH_ENV} is set"
        elif isinstance(store, DuckDBStore) and self._unchecked_keywords:  # names properties and keywords only
            reason = f"keywords the fast path does not check ({', '.join(self._unchecked_keywords)})"
        elif isinstance(store, DuckDBStore) and self._protected_plain:
            # the scan for NUL escapes and numbers DuckDB would round runs while DuckDB loads the file, and decides
            # before the commit: a file it flags lands by the record path for that reason, whatever else the load
            # ran into
            check = store.exactness_check(path, self._scanned_sources)
            try:
                self.process_batch(
                    {"files": [path], "window": (extracted, extracted), "extracted": extracted, "exactness": check}
                )
                self.target.paths[self.stream_name]["batch_files_duckdb"] += 1
                self.logger.info("BATCH file loaded by DuckDB directly (stream %s)", self.stream_name)
                return
            except FastPathRefused as exc:  # names columns and counts only, never values
                reason = f"FastPathRefused: {exc}"
            except (duckdb.InvalidInputException, duckdb.DataError) as exc:
                # DuckDB's reader refused a line or a value (malformed JSON, not an object, a value it cannot cast,
                # a duplicate key): the record path reads the file and dead-letters or names what is wrong
                reason = type(exc).__name__
            except Exception as exc:
                # an I/O error, a disk full, out of memory: not the file's fault, so no reason to change path (the
                # record path committed part of the file before dying of the same cause, and a keyless stream's
                # rerun loaded that part twice). The file's transaction rolled back and no STATE after it went out
                raise self._not_loaded(shown or path, exc) from exc
            try:  # DuckDB refused the file first: the scan's own failure (the file changed under it) is the cause
                exact = check.exact()
            except Exception as exc:
                raise self._not_loaded(shown or path, exc) from exc
            if not exact:
                reason = check.reason()
            if store.joined:  # what DuckDB inserted is in the message's transaction: it rolls back (_load_together)
                raise _RefusedInGroup(reason)
        elif isinstance(store, DuckDBStore):  # names columns only, never values
            unplain = ", ".join(sorted(set(self._protected_stored) - self._plain_strings))
            reason = f"protected columns that are not plain strings ({unplain})"
        self.target.paths[self.stream_name]["batch_files_records"] += 1
        self.logger.info("BATCH file loaded record by record (stream %s: %s)", self.stream_name, reason)
        try:
            self._load_file_as_records(path, extracted, shown or path)
        except (duckdb.Error, OSError) as exc:  # the store or the file failed, not a record (those name themselves)
            raise self._not_loaded(shown or path, exc) from exc

    def _not_loaded(self, path: str, exc: BaseException) -> BatchFileLoadError:
        return BatchFileLoadError(
            f"stream {self.stream_name}: BATCH file {path} was not loaded ({_failure(exc)}); nothing of it was "
            "committed and no STATE after it was relayed. Fix the cause (disk space, file permissions, "
            "duckdb_batch_memory_limit) and run again: the rerun loads it from the start."
        )

    @functools.cached_property
    def _protected_plain(self) -> bool:
        """PII columns are protected as DuckDB reads them when they are the strings the record path would protect
        (plain string properties); any other protected property keeps every file on the record path."""
        return all(source in self._plain_strings for source in self._protected_stored)

    @functools.cached_property
    def _scanned_sources(self) -> dict[str, bool]:
        """DuckDB's JSON reader reads numbers as doubles: files of a stream with decimal or nested JSON columns take
        the fast path only when ``has_long_number`` finds no number a double would round in those columns (source
        -> whether integers count: in a decimal column, read as a double, yes; in nested JSON, whose text keeps an
        integer's digits, no; an integer column is read as text and a double column rounds as the record path)."""
        return {c.source: c.kind == "decimal" for c in self.columns if c.kind in {"decimal", "json"}}

    def _declared_types(self, source: str) -> list[t.Any]:
        """The type names a property declares (``"type"``, a name or a list of them, or, with no ``type``, the
        branches of an ``anyOf`` of bare types: the null and shape marks must read the union the column kind reads,
        review23e); none when it declares none."""
        prop = self.schema["properties"].get(source)
        if not isinstance(prop, dict):
            return []
        declared = prop.get("type")
        if declared is None and _types_only(prop.get("anyOf")):
            branches = [b["type"] for b in prop["anyOf"]]
            declared = [n for b in branches for n in ([b] if isinstance(b, str) else b if isinstance(b, list) else [])]
        names = [declared] if isinstance(declared, str) else declared
        return names if isinstance(names, list) else []

    @functools.cached_property
    def _json_shapes(self) -> dict[str, str]:
        """Nested JSON column source -> the first characters of the JSON texts its declared types allow (the record
        path's validator dead-letters a string in an object column); a property declaring no type is not listed."""
        starts = {"object": "{", "array": "[", "string": '"', "boolean": "tf", "integer": "-0123456789"}
        starts["number"] = starts["integer"]
        shapes = {}
        for column in self._read_columns:
            names = self._declared_types(column.source) if column.kind == "json" else []
            if names and all(n in starts or n == "null" for n in names):
                shapes[column.source] = "".join(sorted({c for n in names if n != "null" for c in starts[n]}))
        return shapes

    @functools.cached_property
    def _nested(self) -> tuple[dict[str, NestedTypes], list[str]]:
        """Nested JSON column source -> the types its schema declares inside its values (checked in SQL), and
        ``column.path: keyword`` for each keyword in there the SQL does not check (``_unchecked_keywords``)."""
        checked: dict[str, NestedTypes] = {}
        unchecked: list[str] = []
        for column in self._read_columns:
            prop = self.schema["properties"].get(column.source)
            if column.kind == "json" and isinstance(prop, dict):
                types = nested_types(prop, column.source, unchecked)
                if types.paths or types.arrays:
                    checked[column.source] = types
        return checked, unchecked

    @functools.cached_property
    def _read_columns(self) -> list[Column]:
        """The columns a BATCH file's SQL reads: the stored ones, then those ``pii_policy`` drops (checked only)."""
        return [*self.columns, *self.dropped]

    @functools.cached_property
    def _not_null(self) -> frozenset[str]:
        """Properties declaring a type without null (a not-nillable vendor field), and those the stream's
        ``required`` lists (OData streams list their keys): a null there is the validator's to dead-letter (review
        20d: DuckDB's reader landed it as NULL), and DuckDB reads an absent property as NULL too, so such a row takes
        the record path, which decides."""
        required = self.schema.get("required")
        sources = set(required) & {c.source for c in self._read_columns} if isinstance(required, list) else set()
        for column in self._read_columns:
            names = self._declared_types(column.source)
            if names and "null" not in names:
                sources.add(column.source)
        return frozenset(sources)

    @functools.cached_property
    def _unchecked_keywords(self) -> list[str]:
        """``property: keyword`` for each keyword of a property the BATCH file's SQL reads (stored, or dropped by
        ``pii_policy``) and of the stream itself that is not on the allow-list (``_FAST_PATH_CHECKED``): the record
        path's validator may refuse a value by it and the SQL does not look, so the stream's files take the record
        path (RELIABILITY F1). The stream's ``required`` is checked as a null mark (``_not_null``) when it lists only
        properties the SQL reads. ``additionalProperties: false`` exactly (tap-salesforce declares it) is trusted
        on an XLR8 stream (``x-xlr8``): tap-salesforce conforms nothing (``TYPE_CONFORMANCE_LEVEL`` NONE), but its
        SOQL selects exactly the schema's fields and its records' last step drops any other key (``_finisher``,
        tested in ``test_undeclared_keys.py``), so its files hold none; any other value, and any other stream, takes
        the record path (DuckDB's reader ignores undeclared keys; reading each row's keys costs a second parse)."""
        json_columns = {c.source for c in self._read_columns if c.kind == "json"}
        unchecked = []
        for column in self._read_columns:
            prop = self.schema["properties"].get(column.source)
            for keyword in sorted(prop) if isinstance(prop, dict) else ():
                if keyword in _FAST_PATH_CHECKED or keyword.startswith("x-"):
                    continue
                if keyword in {"enum", "const"} and column.source in self._string_choices:
                    continue
                if keyword in {"properties", "items"} and column.source in json_columns:
                    continue  # the types inside are checked in SQL, any other keyword in there is listed below
                if keyword == "additionalProperties" and prop[keyword] in (True, {}):
                    continue
                if keyword == "anyOf" and _types_only(prop[keyword]) and "type" not in prop:
                    continue  # a union of types, read and checked as a ``type`` list is; beside a ``type``, the
                    # validator allows the intersection, which the SQL does not compute
                unchecked.append(f"{column.source}: {keyword}")
        unchecked += self._nested[1]
        read = {c.source for c in self._read_columns}
        for keyword in sorted(self.schema):
            value = self.schema[keyword]
            if keyword in _STREAM_HARMLESS or keyword.startswith("x-"):
                continue
            if keyword == "required" and isinstance(value, list) and set(value) <= read:
                continue  # null or absent is marked (``_not_null``)
            if keyword == "additionalProperties" and (
                value is True or value == {} or (value is False and self.schema.get(ANNOTATION_KEY))
            ):
                continue  # a schema value keeps undeclared keys and checks them: the record path's to do
            unchecked.append(f"(stream): {keyword}")
        return unchecked

    @functools.cached_property
    def _string_choices(self) -> dict[str, tuple[str | None, ...]]:
        """Plain string properties read as text, not PII-protected, whose only keyword beyond the type, lengths and
        annotations is an ``enum`` of strings (and null) or a string ``const``: the values allowed (None: null), which
        the fast path's SQL compares with the VARCHAR it reads (``_batch_file_columns``); any other keeps its stream
        off it (``_unchecked_keywords``)."""
        text = {c.source for c in self._read_columns if c.kind == "text"} & self._plain_strings
        choices = {}
        for source in text - set(self._protected_stored):  # PII: read as JSON text, not compared
            prop = self.schema["properties"][source]
            declared = {k for k in prop if k not in _FAST_PATH_CHECKED and not k.startswith("x-")}
            if declared == {"enum"} and isinstance(prop["enum"], list):
                allowed = prop["enum"]
            elif declared == {"const"}:
                allowed = [prop["const"]]
            else:
                continue
            if all(v is None or isinstance(v, str) for v in allowed):
                choices[source] = tuple(allowed)
        return choices

    @functools.cached_property
    def _string_lengths(self) -> dict[str, tuple[int | None, int | None]]:
        """Stored properties declaring ``minLength`` or ``maxLength``: (minimum, maximum), None where not declared
        and -1 for a limit that is not an integer (the fast path then leaves every value to the record path)."""

        def limit(value: t.Any) -> int | None:
            if value is None:
                return None
            return value if type(value) is int and value >= 0 else -1

        lengths = {}
        for column in self._read_columns:
            prop = self.schema["properties"].get(column.source)
            if isinstance(prop, dict) and ("minLength" in prop or "maxLength" in prop):
                lengths[column.source] = (limit(prop.get("minLength")), limit(prop.get("maxLength")))
        return lengths

    @functools.cached_property
    def _plain_strings(self) -> frozenset[str]:
        """Properties whose values are strings or null and stay strings (no date format, not decimals as text)."""
        plain = set()
        for source, prop in self.schema["properties"].items():
            declared = prop.get("type") if isinstance(prop, dict) else None
            names = {declared} if isinstance(declared, str) else set(declared or [])
            if (
                names
                and names <= {"string", "null"}
                and "string" in names
                and prop.get("format") in {None, "date", "date-time", "time"}
                and not any(k in prop for k in ("anyOf", "oneOf", "allOf"))
            ):
                plain.add(source)
        return frozenset(plain)

    @functools.cached_property
    def _protected_stored(self) -> dict[str, Column]:
        """Stored columns whose values are protected (encrypted or hashed), by source."""
        return {c.source: c for c in self.columns if c.source in self._protected}

    @functools.cached_property
    def _text_decimals(self) -> frozenset[str]:
        props = self.schema["properties"]
        return frozenset(
            c.source
            for c in self._read_columns
            if c.kind == "decimal" and SINGER_DECIMAL_FORMAT in str(props[c.source])
        )

    @functools.cached_property
    def _batch_rewrites(self) -> dict[str, tuple[str, t.Callable[[t.Any], t.Any]]]:
        """What a staged BATCH file's columns need from Python to equal the record path: PII protected (every
        value), nested JSON holding a number with a fraction or exponent rewritten as the record path writes it
        (DuckDB writes 1.5, the record path "1.5"; matching digits inside strings only cost a needless rewrite),
        and nested JSON holding a control character DuckDB escapes in upper case (``\u001f``, the record path
        ``\u001f``: U+000B, U+000E, U+000F, U+001A-U+001F; the other escapes are the same in both)."""
        rewrites: dict[str, tuple[str, t.Callable[[t.Any], t.Any]]] = {}
        for column in self.columns:
            name = quote(column.name)
            if column.source in self._protected_stored:
                protector = _from_json_string(column.source, self._column_protector(column))
                rewrites[column.name] = (f"{name} IS NOT NULL", protector)
            elif column.kind == "json":
                text = f"CAST({name} AS VARCHAR)"
                # a text that may nest past the depth limit (as many brackets as levels) or pass the field limit is
                # rewritten too: the rewrite refuses it when the record path would dead-letter it
                condition = (
                    f"{name} IS NOT NULL AND CASE WHEN regexp_matches({text}, {_REWRITTEN_JSON}) THEN TRUE "
                    f"WHEN strlen({text}) < {2 * MAX_JSON_DEPTH} THEN FALSE ELSE strlen({text}) > "
                    f"{_JSON_MEASURED_BYTES} OR strlen({text}) - strlen(translate({text}, '[{{', '')) >= "
                    f"{MAX_JSON_DEPTH} END"
                )
                rewrites[column.name] = (condition, self._json_rewriter(column))
        return rewrites

    @staticmethod
    def _json_rewriter(column: Column) -> t.Callable[[t.Any], t.Any]:
        """DuckDB's text of a nested value (numbers as shortest doubles: exact below 16 digits, which the caller
        has checked) read back with fractions as Decimal and written as ``convert_value`` writes it.

        One msgspec decode whose float hook gives each fraction the value ``convert_value``'s JSON writer gives it
        (``records.json_number``), then one msgspec encode: the same text as ``convert_value`` (same key order,
        escapes, float spelling; checked value by value in tests/test_fast_paths.py) at about a fifth of the CPU.
        Anything unusual (possibly deeper than the depth limit, more than the field limit, a decode or encode
        error) takes ``convert_value`` itself.

        Fewer brackets than ``MAX_JSON_DEPTH`` cannot nest past it (``records._depth`` counts the innermost value
        as a level: 64 nested arrays around a number are 65 levels, which ``convert_value`` refuses).

        It runs once per nested value of a BATCH file, under the GIL, so it does no work that cannot change the
        answer: a text shorter than the depth limit cannot hold that many brackets, so only longer ones are
        counted; and the encoder's bytes are what the record path's text check would measure (msgspec escapes
        NUL and refuses a lone surrogate), so their length is the field size."""
        from target_xlr8_truths.duckdb_store import FastPathRefused
        from xlr8_kit.singer_io import loads_exact

        decode = _JSON_NUMBERS_AS_WRITTEN.decode
        encode = _JSON_WRITER.encode

        def rewrite(text: t.Any) -> t.Any:
            if isinstance(text, str) and (
                len(text) < MAX_JSON_DEPTH or text.count("{") + text.count("[") < MAX_JSON_DEPTH
            ):
                try:
                    written = encode(decode(text))
                except (ValueError, TypeError, msgspec.MsgspecError):
                    pass  # convert_value decides (and names the problem)
                else:
                    if len(written) <= MAX_FIELD_BYTES:
                        return written.decode()
            try:
                return convert_value(column, loads_exact(text))
            except (Rejected, ValueError, TypeError, RecursionError) as exc:
                raise FastPathRefused(f"a value of {column.source} needs the record path") from exc

        return _remembering(rewrite)

    def _column_protector(self, column: Column) -> t.Callable[[t.Any], t.Any]:
        """What the record path does to one PII value read as text: parse a date as the SDK does, protect, convert
        for the stored (text) column. A value the record path would reject refuses the file instead."""
        from target_xlr8_truths.compiled import PARSERS
        from target_xlr8_truths.duckdb_store import FastPathRefused

        protect = self.protection.protect
        source = column.source
        datelike = self._datelike.get(source)
        parse = PARSERS.get(get_datelike_property_type(datelike) or "") if datelike else None
        decision = self.protection.decisions.get(source)
        cipher = self.protection.cipher
        if decision is not None and decision.action == "encrypt" and cipher is not None and column.kind == "text":
            return _encrypting_protector(source, cipher.encrypt, parse)

        def protector(value: t.Any) -> t.Any:
            try:
                return convert_value(column, protect(source, parse(value) if parse else value))
            except (Rejected, ValueError, TypeError, OverflowError) as exc:
                raise FastPathRefused(f"a value of {source} needs the record path") from exc

        return protector

    def _load_file_as_records(self, path: str, extracted: dt.datetime, shown: str) -> None:
        """The file in batches of ``max_size`` records, committed together (``Store.one_commit``): a run dying
        mid-file leaves nothing of it, where each batch committed alone left part of it with no STATE after it (a
        keyless stream's rerun loaded that part twice). A termination signal waits for the commit (``_load_file``).
        """
        with self.target.store.one_commit():
            self._read_file_as_records(path, extracted, shown)

    def _read_file_as_records(self, path: str, extracted: dt.datetime, shown: str) -> None:
        from xlr8_kit.singer_io import loads_exact as deserialize_json

        extracted_text = extracted.isoformat()
        context: dict[str, t.Any] = {}
        try:
            with open(path, encoding="utf-8") as lines:
                for number, line in enumerate(lines, 1):
                    if not line.strip():
                        continue
                    try:
                        record = deserialize_json(line)
                    except (ValueError, RecursionError):
                        raise self._bad_line(shown, number, "is not valid JSON") from None
                    if not isinstance(record, dict):
                        raise self._bad_line(shown, number, "is not a JSON object")
                    if record.get("_sdc_extracted_at") is None:
                        record["_sdc_extracted_at"] = extracted_text  # as RECORD messages' time_extracted lands
                    converted = self.compiled.row(record) if self.compiled is not None else None
                    if converted is not None:
                        self._compiled_count += 1
                        self._process_converted(converted, context)
                    else:
                        self._validate_and_parse(record)
                        self._singer_validate_message(record)
                        self.process_record(record, context)
                    if len(context.get("rows", [])) + len(context.get("dead", [])) >= self.max_size:
                        self.process_batch(context)
                        context = {}
        except UnicodeDecodeError:  # the text reader decodes ahead of the lines it gives: found again line by line
            raise self._bad_line(shown, _undecodable_line(path), "is not valid UTF-8") from None
        if context:
            self.process_batch(context)

    def _bad_line(self, path: str, number: int, what: str) -> InvalidInputLine:
        """A BATCH file line the record path cannot read, named by file and number (it failed with the decoder's
        bare text, naming neither); nothing of the file is committed."""
        return InvalidInputLine(
            f"stream {self.stream_name}: BATCH file {path} line {number} {what}; nothing of the file was committed"
        )


def _undecodable_line(path: str) -> int:
    """The number of the first line of the file that is not UTF-8."""
    with open(path, "rb") as lines:
        for number, line in enumerate(lines, 1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 0


def _remembering(rewrite: t.Callable[[t.Any], str]) -> t.Callable[[t.Any], str]:
    """``rewrite`` (a deterministic function of one text: the nested-JSON rewrite, never a PII protector, whose
    keys would be clear text) answering a short text it has already rewritten from memory. A refusal is never
    remembered (the file takes the record path). A memo that fills having answered fewer texts than it holds is
    given up for good: values that seldom repeat then cost nothing after the first few thousand (1M bench Account
    rows, 9,000 addresses in turn: 1.02 x the CPU of no memo before this). DuckDB calls it from its threads under
    the GIL: a lookup, a store and a clear are each atomic, and every answer stored is the function's own; the
    counts may drift by a racing call, which changes no answer."""
    memo: dict[str, str] = {}
    held = [0]  # characters of the texts and answers in memo (a list: the finalizer gives them back)
    answered = 0  # texts answered from memo since it was last cleared
    remembering = True

    def remembered(text: t.Any) -> str:
        nonlocal answered, remembering
        short = remembering and type(text) is str and len(text) <= _REWRITE_MEMO_CHARS
        if short:
            written = memo.get(text)
            if written is not None:
                answered += 1
                return written
        written = rewrite(text)
        if short:
            size = len(text) + len(written)
            if (
                len(memo) >= _REWRITE_MEMO_ENTRIES
                or held[0] + size > _REWRITE_MEMO_BUDGET
                or _memo_chars[0] + size > _REWRITE_MEMO_PROCESS_BUDGET
            ):
                remembering = answered >= len(memo)
                memo.clear()
                _memo_chars[0] -= held[0]
                held[0] = answered = 0
                if not remembering:
                    return written
            memo[text] = written
            held[0] += size
            _memo_chars[0] += size
        return written

    weakref.finalize(remembered, _forget_chars, held)
    return remembered


def _forget_chars(held: list[int]) -> None:
    """A collected memo's characters, given back to the process budget."""
    _memo_chars[0] -= held[0]
    held[0] = 0


def _from_json_string(source: str, protector: t.Callable[[t.Any], t.Any]) -> t.Callable[[t.Any], t.Any]:
    """``protector`` of a PII value read as JSON text (``duckdb_store._batch_file_columns``): a JSON string is
    decoded and protected, any other JSON value refuses the file (the record path dead-letters a number or an
    object in a string column; read as VARCHAR it was protected as its text)."""
    from target_xlr8_truths.duckdb_store import FastPathRefused

    decode = _JSON_STRING.decode

    def protect(text: t.Any) -> t.Any:
        if type(text) is str and text[:1] == '"':
            if "\\" not in text:
                return protector(text[1:-1])
            try:
                return protector(decode(text))
            except msgspec.MsgspecError:
                pass
        raise FastPathRefused(f"a value of {source} needs the record path")

    return protect


def _encrypting_protector(
    source: str, encrypt: t.Callable[[str], str], parse: t.Callable[[str], t.Any] | None
) -> t.Callable[[t.Any], t.Any]:
    """``TruthsSink._column_protector`` for an encrypted text column, called once per value of a BATCH file: the
    same steps (date parsed as the SDK does and written back as its isoformat, encrypted, then ``convert_value`` of
    a text column, which for the ASCII ciphertext is the field size check alone) in one frame."""
    from target_xlr8_truths.duckdb_store import FastPathRefused

    def protector(value: t.Any) -> t.Any:
        try:
            token = encrypt(parse(value).isoformat() if parse is not None else str(value))
        except (ValueError, TypeError, OverflowError) as exc:
            raise FastPathRefused(f"a value of {source} needs the record path") from exc
        if len(token) > MAX_FIELD_BYTES:
            raise FastPathRefused(f"a value of {source} needs the record path")
        return token

    return protector
