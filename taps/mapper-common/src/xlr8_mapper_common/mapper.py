"""``mapper-common``: a Singer inline mapper (Meltano ``mappers:``) between Common purchase orders and an ERP's.

``template`` picks the ERP (``s4hana``, ``oracle_erp``, ``workday_fins`` or a YAML file of the same format, see
``xlr8_mapper_common.templates``); ``direction`` is ``from_erp`` (ERP purchase orders into Common's shape, for
target-common) or ``to_erp`` (tap-common's purchase_orders into the ERP's shape). The template's source stream is
renamed and reshaped; other streams pass through unchanged unless ``drop_other_streams``. STATE passes through after
the records before it, untouched unless ``drop_other_streams``: then the bookmarks of the streams dropped leave it
(``map_state_message``). A BATCH message (taps write them for target-xlr8-truths) becomes the RECORD messages its
files hold, mapped, passed or dropped as RECORDs are (target-common reads RECORDs only); its files are read only
under ``batch_locations`` and deleted once read when the tap wrote them for this run. A record the template cannot
carry (an unmapped status is an error, never a guess) is refused, logged naming the value (masked where its letter
masks it), the field and the record's key, and the others go on (``_refuse``): one shipped purchase order must not
stop every later one on every run. A refused record goes to ``dead_letter_path`` when set (masked as the target's
dead letters are, and PII-named fields too: ``xlr8_kit.dead_letters``), and the STATE goes on past it; otherwise no
STATE goes on from the first refusal, so the refused records are read again next run. Either way the run ends with
exit 1 naming them, except that a record already in ``dead_letter_path`` (same stream, key and content as the file
holds it: the tap re-reads the bookmark's rows) is not written again and only counted at INFO, so a run whose
refusals were all set aside before exits 0.
"""

from __future__ import annotations

import hashlib
import json
import logging
import typing as t
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from singer_sdk import InlineMapper
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.singerlib import ActivateVersionMessage, Message, RecordMessage, SchemaMessage, StateMessage

from xlr8_kit.batch_files import BatchLocations, batch_file_records, hold_for_readers
from xlr8_kit.dead_letters import redacted_payload
from xlr8_kit.redaction import Redactor
from xlr8_mapper_common.templates import Direction, MapOptions, MappingError, Template, load_template

DIRECTIONS = ("from_erp", "to_erp")
MULTI_LINE = ("refuse", "split")
PRICE_ROUNDING = ("refuse", "half_up")


class CommonMapper(InlineMapper):
    """Common <-> ERP purchase orders from a declarative template."""

    name = "mapper-common"
    package_name = "xlr8-mapper-common"  # --about reports the distribution's version
    config_jsonschema = th.PropertiesList(
        th.Property(
            "template",
            th.StringType,
            required=True,
            description="Template name (s4hana, oracle_erp, workday_fins) or path to a template YAML file.",
        ),
        th.Property(
            "direction",
            th.StringType,
            required=True,
            allowed_values=list(DIRECTIONS),
            description="from_erp: ERP purchase orders into Common's shape; to_erp: Common's into the ERP's.",
        ),
        th.Property(
            "drop_other_streams",
            th.BooleanType,
            default=False,
            description="Drop streams other than the template's source stream, their bookmarks too (default: pass "
            "them through).",
        ),
        th.Property(
            "batch_locations",
            th.ArrayType(th.StringType),
            description="Directories BATCH messages may name files in (the tap's batch_config storage root); their "
            "records are sent on as RECORD messages. Files the tap wrote during this run are deleted once read.",
        ),
        th.Property(
            "dead_letter_path",
            th.StringType,
            description="JSON-lines file records the template cannot carry are appended to (stream, key, error, "
            "record); the STATE then goes on past them. Without it no STATE goes on from the first such record, so "
            "they are read again next run. Either way the other records go on and the run exits 1 naming them; a "
            "record equal to the file's latest letter for its stream and key is not written again and does not "
            "fail the run.",
        ),
        th.Property(
            "multi_line",
            th.StringType,
            default="refuse",
            allowed_values=list(MULTI_LINE),
            description="An ERP order of several lines (a Common PO carries one): refuse (default: refused by key, "
            "dead-lettered, exit 1) or split (one Common PO per ERP line: the first line under the order's own "
            "number, the others <order><separator><line number> as the template's 'lines' says: S/4 <order>-<item>, "
            "Oracle <order>/<line>; to_erp cuts back only such a number, an order number holding the separator is "
            "refused). Upgrading from an earlier split (first line <order>-<line>): see the README first.",
        ),
        th.Property(
            "price_rounding",
            th.StringType,
            default="refuse",
            allowed_values=list(PRICE_ROUNDING),
            description="A price with more decimal places than Common's (unit_price: 2): refuse (default: refused by "
            "key naming the field and its places) or half_up (rounded half up; the run logs how many were).",
        ),
        th.Property(
            "po_number_prefix",
            th.StringType,
            description="Put before every po_number landed in Common (e.g. S4-, ORA-), so this ERP's orders have "
            "their own numbers in Common's one po_number space and never overwrite another ERP's or Common's own "
            "POs of the same number; to_erp cuts it off and skips a po_number without it (another source's PO: "
            "counted at INFO, not sent, not an error). "
            "Unset: the ERP's numbers as they are (only for the one source of Common's numbers). Choose it before "
            "the first run: POs landed under other numbers stay. Upgrading a mapping that has already landed "
            "orders without it: set it to empty to keep their numbers (and the same on that ERP's to_erp mapping, "
            "which must carry its from_erp pair's prefix), or cancel the old POs in Common first, or every order "
            "read again lands a second time (see the README).",
        ),
    ).to_dict()

    #: The keys of the records refused this run and not set aside before (``_refuse``).
    refused: list[str]
    #: The keys of the records refused this run that ``dead_letter_path`` already held.
    repeated: list[str]

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.refused = []
        self.repeated = []
        self.rounded = _FirstOf(20)
        self.foreign = _FirstOf(20)  # to_erp: Common POs without po_number_prefix, another source's (review28f L2)
        self.prefixed = 0  # to_erp: Common POs with it (none at all beside skipped ones: an upgrade's mismatch)
        self._lettered = self._open_dead_letters()
        self.options  # noqa: B018  (checked at start: a bad choice stops the run before any record)

    def _open_dead_letters(self) -> dict[tuple[str, str], str]:
        """Checked at start, so a path that cannot be written fails naming the setting before any record goes on;
        the latest letter of each (stream, key) (``_letter_id``), so a record re-read by the tap unchanged since it
        was lettered is not lettered again. Read line by line: the file only grows, and only the ids are kept."""
        where = self.config.get("dead_letter_path")
        if not where:
            return {}
        path = Path(str(where))
        latest: dict[tuple[str, str], str] = {}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8"):
                pass
            with path.open(encoding="utf-8") as handle:
                for line in handle:
                    try:
                        letter = json.loads(line)
                        stream, key = letter["stream"], letter["key"]
                        latest[(stream, key)] = _letter_id(stream, key, letter["record"])
                    except (ValueError, KeyError, TypeError):
                        continue  # a torn or foreign line: a record it held is lettered again (never lost)
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
            message = f"mapper-common: setting 'dead_letter_path' {str(path)!r} cannot be written: {reason}"
            raise ConfigValidationError(message, errors=[message]) from None
        return latest

    @cached_property
    def template(self) -> Template:
        try:
            return load_template(str(self.config["template"]))
        except MappingError as exc:
            message = f"mapper-common: {exc}"
            raise ConfigValidationError(message, errors=[message]) from None  # the SDK's CLI logs only ``errors``

    @cached_property
    def options(self) -> MapOptions:
        """The settings' explicit choices, checked against the template (split needs its ``lines``)."""
        multi, rounding = self.config.get("multi_line") or "refuse", self.config.get("price_rounding") or "refuse"
        for name, value, allowed in (("multi_line", multi, MULTI_LINE), ("price_rounding", rounding, PRICE_ROUNDING)):
            if value not in allowed:
                message = f"mapper-common: setting {name!r} is {value!r}: one of {', '.join(allowed)}"
                raise ConfigValidationError(message, errors=[message])
        if multi == "split" and self.template.lines is None:
            message = (
                f"mapper-common: setting 'multi_line' is 'split' but template {self.template.name!r} says no 'lines' "
                "(where the ERP keeps an order's lines and their number)"
            )
            raise ConfigValidationError(message, errors=[message])
        prefix = self.config.get("po_number_prefix") or ""
        if not isinstance(prefix, str) or any(c.isspace() for c in prefix):
            message = f"mapper-common: setting 'po_number_prefix' is {prefix!r}: a text without blanks, e.g. S4-"
            raise ConfigValidationError(message, errors=[message])
        return MapOptions(split=multi == "split", round_prices=rounding == "half_up", po_number_prefix=prefix)

    @property
    def direction(self) -> Direction:
        direction = self.config.get("direction")
        if direction not in DIRECTIONS:
            message = f"mapper-common: setting 'direction' must be one of {', '.join(DIRECTIONS)}"
            raise ConfigValidationError(message, errors=[message])
        return t.cast("Direction", direction)

    def _mapped(self, stream: str) -> bool:
        return stream == self.template.source_stream(self.direction)

    def _passes(self, stream: str) -> bool:
        return not self.config.get("drop_other_streams")

    def map_schema_message(self, message_dict: dict[str, t.Any]) -> t.Iterable[Message]:
        stream = message_dict["stream"]
        if self._mapped(stream):
            direction = self.direction
            yield SchemaMessage(
                stream=self.template.target_stream(direction),
                schema=self.template.target_schema(direction, self.options),
                key_properties=self.template.target_key(direction),
            )
        elif self._passes(stream):
            yield SchemaMessage.from_dict(message_dict)

    def map_record_message(self, message_dict: dict[str, t.Any]) -> t.Iterable[Message]:
        stream = message_dict["stream"]
        if self._mapped(stream):
            direction, options = self.direction, self.options
            if direction == "to_erp" and options.po_number_prefix:
                number = str(message_dict["record"].get(self.template.common_key[0]) or "")
                if number and not number.startswith(options.po_number_prefix):
                    self.foreign.append(number)  # another source's PO, not this ERP's: not sent, not an error
                    return
                self.prefixed += 1
            for piece in self.template.pieces(message_dict["record"], direction, options):
                try:
                    record = self.template.map_record(piece, direction, options, self.rounded)
                except MappingError as exc:
                    self._refuse(stream, piece, exc)
                    continue
                yield RecordMessage(stream=self.template.target_stream(direction), record=record)
        elif self._passes(stream):
            yield RecordMessage.from_dict(message_dict)

    def map_batch_message(self, message_dict: dict[str, t.Any]) -> t.Iterable[Message]:
        stream = message_dict["stream"]
        locations = self._batch_locations
        paths = [locations.readable(url, stream) for url in message_dict.get("manifest") or []]  # all before any
        encoding = message_dict.get("encoding") or {}
        if encoding.get("format") != "jsonl":
            raise NotImplementedError(f"mapper-common: BATCH encoding {encoding.get('format')!r} (jsonl only)")
        compression = encoding.get("compression")
        for path in paths:
            if self._mapped(stream) or self._passes(stream):
                for record in batch_file_records(path, compression):
                    yield from self.map_record_message({"type": "RECORD", "stream": stream, "record": record})
            if locations.owned(path):  # its records are written on: the tap's file has served its purpose
                path.unlink()

    @cached_property
    def _batch_locations(self) -> BatchLocations:
        locations = BatchLocations.from_config(self.config)
        hold_for_readers(locations.roots)  # ``xlr8 batches clean`` leaves them while this reads (review27c H1)
        return locations

    def _refuse(self, stream: str, record: dict[str, t.Any], exc: MappingError) -> None:
        """Not sent on: written to ``dead_letter_path`` (before any later STATE goes on) or, without one, every
        later STATE held back (``map_state_message``); counted for the exit (``process_endofpipe``)."""
        key = self.template.describe_key(record, self.direction, self.options)
        path = self.config.get("dead_letter_path")
        # the letter keeps the record as the target's dead letters do, and without the engine's key to protect PII
        # with, a PII-named field masked too; its identity is what the file holds (a change only in a masked field
        # is the same letter)
        kept = redacted_payload(record, Redactor.default(), personal=True) if path else record
        letter_id = _letter_id(stream, key, kept) if path else ""
        if path and self._lettered.get((stream, key)) == letter_id:
            self.repeated.append(key)  # its key's latest letter, unchanged: counted at the end
            return
        self.refused.append(key)
        self.logger.error("mapper-common: %s; %s %s not sent on", exc, stream, key)
        if path:
            self._lettered[(stream, key)] = letter_id
            error = Redactor.default().redact(str(exc))
            line = {"at": datetime.now(UTC).isoformat(), "stream": stream, "key": key, "error": error,
                    "record": kept}  # fmt: skip
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            with Path(path).open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(line, default=str) + "\n")

    def process_endofpipe(self) -> None:
        """Exit 1 when a record was refused and not set aside by an earlier run: the run did not send on everything
        it read. Records ``dead_letter_path`` already held are only counted, or every run would fail on them."""
        super().process_endofpipe()
        if self.rounded.seen:
            shown = "; ".join(self.rounded) + ("; ..." if self.rounded.seen > len(self.rounded) else "")
            self.logger.warning(
                "mapper-common: price_rounding half_up rounded %d price(s) to the places Common keeps (%s)",
                self.rounded.seen,
                shown,
            )
        if self.foreign.seen:
            shown = "; ".join(self.foreign) + ("; ..." if self.foreign.seen > len(self.foreign) else "")
            # review28h M3: every PO skipped and none sent is what a prefix left here after its from_erp mapping was
            # set to po_number_prefix "" on upgrading looks like: said loudly, as each change back is then dropped
            level, hint = (
                (logging.WARNING, "; none carried the prefix: if the mapping landing this ERP's orders in Common "
                 "runs without it (po_number_prefix \"\" after an upgrade), give this to_erp mapping the same and "
                 "re-read from before the upgrade (the STATE has passed these changes); a run whose window held only "
                 "other sources' POs says this too")
                if not self.prefixed
                else (logging.INFO, "")
            )  # fmt: skip
            self.logger.log(
                level,
                "mapper-common: %d purchase order(s) without po_number_prefix %r skipped: not landed from %s by this "
                "mapping (another ERP's, or Common's own), so not sent to it (%s)%s",
                self.foreign.seen,
                self.options.po_number_prefix,
                self.template.erp,
                shown,
                hint,
            )
        if self.repeated:
            shown = "; ".join(self.repeated[:20]) + ("; ..." if len(self.repeated) > 20 else "")
            self.logger.info(
                "mapper-common: %d record(s) refused again, unchanged and already in dead_letter_path, not written "
                "again (%s)",
                len(self.repeated),
                shown,
            )
        if self.refused:
            where = self.config.get("dead_letter_path")
            shown = "; ".join(self.refused[:20]) + ("; ..." if len(self.refused) > 20 else "")
            raise MappingError(
                f"mapper-common: {len(self.refused)} record(s) the template {self.template.name!r} cannot carry were "
                f"not sent on ({shown}); "
                + (
                    f"written to dead_letter_path {where}"
                    if where
                    else "no STATE went on from the first of them, so they are read again next run (set "
                    "'dead_letter_path' to set them aside, or push the mapped values down with the tap's 'filters')"
                )
            )

    def map_state_message(self, message_dict: dict[str, t.Any]) -> t.Iterable[Message]:
        """With ``drop_other_streams``, only the mapped stream's bookmark goes on: a dropped stream's records never
        land, so its bookmark must not say they did (tap-common acknowledges the ERP-sync ids its bookmark names
        to Common, which then drops them from its pending list for good; an incremental bookmark skips them)."""
        if self.refused and not self.config.get("dead_letter_path"):
            return  # held back: a refused record before it is neither sent on nor set aside
        value = message_dict.get("value")
        bookmarks = value.get("bookmarks") if isinstance(value, dict) else None
        if self.config.get("drop_other_streams") and isinstance(bookmarks, dict):
            kept = {s: b for s, b in bookmarks.items() if self._mapped(s)}
            if len(kept) != len(bookmarks):
                yield StateMessage(value={**t.cast("dict[str, t.Any]", value), "bookmarks": kept})
                return
        yield StateMessage.from_dict(message_dict)

    def map_activate_version_message(self, message_dict: dict[str, t.Any]) -> t.Iterable[Message]:
        stream = message_dict["stream"]
        if self._mapped(stream):
            yield ActivateVersionMessage(
                stream=self.template.target_stream(self.direction), version=message_dict["version"]
            )
        elif self._passes(stream):
            yield ActivateVersionMessage.from_dict(message_dict)


class _FirstOf(list[str]):
    """The first ``keep`` items appended, and how many were (review27e L4: every rounded price of a large backfill
    was kept until the end of the pipe, though the WARNING shows 20)."""

    def __init__(self, keep: int) -> None:
        super().__init__()
        self.keep = keep
        self.seen = 0

    def append(self, item: str) -> None:
        self.seen += 1
        if len(self) < self.keep:
            super().append(item)


def _letter_id(stream: str, key: str, record: t.Any) -> str:
    """A dead letter's identity: stream, key and content, the record as its JSON line holds it (so a record read
    back from the file matches the one refused), hashed to keep the set small."""
    content = json.dumps(json.loads(json.dumps(record, default=str)), sort_keys=True)
    return hashlib.sha256(json.dumps([stream, key, content]).encode()).hexdigest()


if __name__ == "__main__":
    CommonMapper.cli()
