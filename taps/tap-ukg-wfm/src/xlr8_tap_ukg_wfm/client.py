"""The UKG WFM base streams: JSON over POST (multi_read) and GET (setup lists), read by population and window.

Population first: ``POST /api/v1/commons/hyperfind/execute`` names the people of a date window (cached per window
for the run), asked with ``hyperfind_threshold`` (the API answers 3,500 people when no threshold is sent); an
answer that reaches it fails the run, never a population cut short. multi_read calls then name at most
``persons_per_request`` of them and span at most ``window_days`` days, below the API's caps (500 people, 31 days),
so no call is refused for its size. Each call's response is one bounded batch: memory follows the batch, never the
tenant.

Time data is read in windows from the bookmark minus ``lookback_days`` (timecards are edited and approved after the
fact), so an edited punch lands again under the same key on a later run. Tenant-local date-times (no offset) are
emitted in UTC using the ``timezone`` setting. A 200 whose body is an error object is an error, never "no rows".
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import typing as t
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from functools import cached_property

import requests

from xlr8_kit.columns import TextMemo, remembered_verdicts
from xlr8_kit.filtering import UniversalFilterMixin
from xlr8_kit.http.classify import ResponseClassifier, parsed_json
from xlr8_kit.http.errors import ClientRequestError
from xlr8_kit.http.readahead import read_ahead
from xlr8_kit.rest import KitRESTStream, records_of_pages

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

    from xlr8_tap_ukg_wfm.tap import TapUkgWfm, UkgWfmSettings

#: The API's caps: people per multi_read, days per timecard or schedule call, rows per data multi_read page.
MAX_PERSONS_PER_CALL = 500
MAX_DAYS_PER_CALL = 31
MAX_DATA_COUNT = 5000
#: Execute Hyperfind Query answers at most ``threshold`` people: 3,500 when none is sent, 50,000 at most
#: (developer.ukg.com/wfm/reference/execute-hyperfind-query).
MAX_HYPERFIND_THRESHOLD = 50_000
HYPERFIND_PATH = "/api/v1/commons/hyperfind/execute"
#: The refusal of a hyperfind whose people exceed the threshold (400), as a client verified on a live tenant saw it.
REFUSED_OVER_THRESHOLD = "WCO-112003"


class WfmClassifier(ResponseClassifier):
    """A 200 whose JSON is an error object (``errorCode``, or the gateway's ``fault``) is an error, not data."""

    def error_in_body(self, response: requests.Response) -> str | None:
        found = super().error_in_body(response)
        if found is not None:
            return found
        data = parsed_json(response)
        if isinstance(data, dict) and ("errorCode" in data or "fault" in data):
            return (
                f"error object instead of data: {str(data.get('errorCode') or data.get('fault'))[:80]}: "
                + str(data.get("message") or "")[:200]
            )
        return None


CLASSIFIER = WfmClassifier()


class Population:
    """Person numbers per (window, hyperfind), asked once per run and shared by every stream."""

    def __init__(self) -> None:
        self._cache: dict[tuple[date, date, int], list[str]] = {}
        self._lock = threading.Lock()

    def get(self, stream: UkgWfmStream, first: date, last: date) -> list[str]:
        key = (first, last, stream.settings.hyperfind_id)
        with self._lock:
            found = self._cache.get(key)
        if found is not None:
            return found
        threshold = stream.settings.hyperfind_threshold
        body = {
            "hyperfind": {"id": stream.settings.hyperfind_id},
            "dateRange": {"startDate": first.isoformat(), "endDate": last.isoformat()},
            "includeTerminatedInRange": True,
            "threshold": threshold,
        }
        try:
            answer = stream.call("POST", HYPERFIND_PATH, body)
        except ClientRequestError as exc:
            if REFUSED_OVER_THRESHOLD not in str(exc):
                raise
            # a live tenant refuses a population past the threshold (wfm27 W7) where the reference says it stops
            raise ClientRequestError(
                f"ukg_wfm: hyperfind {stream.settings.hyperfind_id} was refused for {first}..{last} "
                f"({REFUSED_OVER_THRESHOLD}): its people exceed setting 'hyperfind_threshold'. "
                + (
                    f"Raise 'hyperfind_threshold' (now {threshold}; UKG allows at most {MAX_HYPERFIND_THRESHOLD:,}) "
                    "or split"
                    if threshold < MAX_HYPERFIND_THRESHOLD
                    else f"It is at UKG's maximum ({MAX_HYPERFIND_THRESHOLD:,}): split"
                )
                + " the population into smaller hyperfinds, one extractor per 'hyperfind_id'",
                status=exc.status,
                path=HYPERFIND_PATH,
            ) from exc
        refs = ((answer or {}).get("result") or {}).get("refs") if isinstance(answer, dict) else None
        if not isinstance(refs, list):
            raise ClientRequestError(f"ukg_wfm: {HYPERFIND_PATH} answered without result.refs", path=HYPERFIND_PATH)
        count = answer.get("count")
        if len(refs) >= threshold or (type(count) is int and count > len(refs)):
            # the answer stops at the threshold: the people past it would never be read, every run, exit 0
            raise ClientRequestError(
                f"ukg_wfm: hyperfind {stream.settings.hyperfind_id} answered {len(refs)} people for "
                f"{first}..{last} (count {count}), reaching setting 'hyperfind_threshold' ({threshold}): the "
                "people past it would never be read. Raise 'hyperfind_threshold' (UKG allows at most "
                f"{MAX_HYPERFIND_THRESHOLD:,}) or split the population into smaller hyperfinds, one extractor per "
                "'hyperfind_id'",
                path=HYPERFIND_PATH,
            )
        # each person once, in the answer's order: a person named twice (two assignments) asked for twice in one
        # multi_read answers two timecards, and the day's totals summed over both doubled their hours (wfm27 W10)
        numbers = list(dict.fromkeys(str(ref["qualifier"]) for ref in refs if ref.get("qualifier")))
        with self._lock:
            self._cache[key] = numbers
        return numbers


def batches(items: list[str], size: int) -> t.Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def windows(first: date, last: date, days: int) -> t.Iterator[tuple[date, date]]:
    """[first, last] cut into spans of at most ``days`` days, in order."""
    while first <= last:
        end = min(last, first + timedelta(days=days - 1))
        yield first, end
        first = end + timedelta(days=1)


def ref(value: t.Any) -> t.Any:
    """``{"id": .., "qualifier": "REG"}`` -> ``"REG"`` (UKG's object references)."""
    return value.get("qualifier") if isinstance(value, dict) else value


_UTC_MEMO = 65_536


@functools.lru_cache(maxsize=8192)
def utc_text(local: str, zone: tzinfo) -> str:
    """``UkgWfmStream.utc`` of one text: shift starts and ends repeat across people and days, so each distinct
    text is converted once (the zone lookup and conversion are most of a timecard row's cost)."""
    moment = datetime.fromisoformat(local)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC).isoformat()


class UkgWfmStream(UniversalFilterMixin, KitRESTStream):
    """One UKG WFM resource. Subclasses declare name, keys, schema and annotations and implement ``answers``
    (the API calls of a read, in order) and ``rows`` (the records of one answer).

    Every call follows from the settings, the population and earlier answers alone, never from what the record
    loop does, so the next call is made on a worker thread while this answer's rows are emitted
    (``xlr8_kit.http.readahead``). The ``filters`` setting is checked on each row (the API takes no row filters)."""

    response_classifier = CLASSIFIER
    skip_filter_on_unknown_field = True
    path = "/api"

    @property
    def settings(self) -> UkgWfmSettings:
        return t.cast("TapUkgWfm", self._tap).settings

    @property
    def url_base(self) -> str:
        return self.settings.base_url

    def call(self, method: str, path: str, body: dict[str, t.Any] | None = None) -> t.Any:
        """One API call through the kit's session (retries, Retry-After, token refresh); the JSON answer."""
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        prepared = self.build_prepared_request(
            method=method,
            url=self.url_base + path,
            headers=headers,
            data=json.dumps(body).encode() if body is not None else None,
        )
        response = self._request(prepared, None)
        # Parsed once, by the classifier (floats: ``number()`` makes exact decimals of their shortest repr).
        data = parsed_json(response)
        if not isinstance(data, dict | list):
            raise ClientRequestError(f"ukg_wfm {self.name}: {path} answered with no JSON document", path=path)
        response.__dict__.pop("_xlr8_json", None)
        return data

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        if self.filter_matches_nothing:
            return
        yield from self.read(context)

    def read(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """The records of every answer, in order (``read_pages``, record by record)."""
        return records_of_pages(self.read_pages(context))

    def plain_record_pages(self) -> t.Iterator[t.Iterable[dict[str, t.Any]]] | None:
        if type(self).get_records is not UkgWfmStream.get_records or type(self).read is not UkgWfmStream.read:
            return None  # records of a stream's own making
        return iter(()) if self.filter_matches_nothing else self.read_pages(None)

    def read_pages(self, context: Context | None) -> t.Generator[t.Iterable[dict[str, t.Any]], None, None]:
        """The records of every answer, in order, in blocks (``pages_of_blocks``). An answer ``row_blocks`` builds
        column by column comes in blocks, each vouched to the conformer when conformance would leave its records
        as they are (``Conformer.keeps_columns``; only while ``post_process`` is the filter's, which passes records
        on as they are or drops them); any other answer as one block of its ``rows``."""
        conformer = self._conformer
        vouch = type(self).post_process is UniversalFilterMixin.post_process
        judge, verdict = remembered_verdicts(conformer.keeps_columns)  # a block is judged once
        # number columns the writer alone reads may stay the texts it would write, in blocks vouched for
        written = judge if vouch and self.records_written_only else None

        def blocks() -> t.Iterator[tuple[t.Iterable[dict[str, t.Any]], bool]]:
            for answer in read_ahead(self.answers(context), name=f"xlr8-{self.name}"):
                built = self.row_blocks(answer, judge=written)
                if built is None:
                    yield self.rows(answer), False
                    continue
                for records, columns in built:
                    yield records, vouch and columns is not None and verdict(columns)

        return self.pages_of_blocks(blocks())

    def row_blocks(
        self, answer: t.Any, *, judge: t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool] | None = None
    ) -> t.Iterator[tuple[list[dict[str, t.Any]], dict[str, list[t.Any]] | None]] | None:
        """``self.rows(answer)`` in blocks built column by column, each with its keys' values (None for a block
        given row by row); None when the stream does not build blocks, or not for this answer (``rows`` then
        reads it). With ``judge`` (the records are only ever written, ``records_written_only``), a number column
        may be given as the texts the writer would write when ``judge`` vouches for the block's other columns
        (``xlr8_kit.columns.cells_block_builder``'s ``written``); the column is then left out of the values."""
        return None

    def answers(self, context: Context | None) -> t.Iterator[t.Any]:
        """The JSON answer of every call of this read, in order."""
        raise NotImplementedError

    def rows(self, answer: t.Any) -> t.Iterable[dict[str, t.Any]]:
        """The records of one answer."""
        raise NotImplementedError

    def utc(self, local: t.Any) -> str | None:
        """A tenant-local date-time (``2026-01-05T08:02:00``) as UTC RFC 3339; offsets given are kept."""
        if not local:
            return None
        return utc_text(str(local), self.settings.zone)

    @cached_property
    def utc_of(self) -> t.Callable[[t.Any], str | None]:
        """``self.utc`` with the zone looked up once and each distinct text kept (bounded; shift starts and ends
        repeat across people, days and answers)."""
        return self.utc_reader()

    def utc_reader(self) -> t.Callable[[t.Any], str | None]:
        """A new ``utc_of``: the ``__getitem__`` of a memo of texts (``TextMemo``, at most ``_UTC_MEMO``), so a
        text seen before costs one C lookup, also mapped over a column."""
        zone = self.settings.zone

        def utc(local: t.Any) -> str | None:
            return utc_text(str(local), zone) if local else None

        return TextMemo(utc, _UTC_MEMO).__getitem__

    def person_batches(self, first: date, last: date) -> t.Iterator[list[str]]:
        people = t.cast("TapUkgWfm", self._tap).population.get(self, first, last)
        yield from batches(people, self.settings.persons_per_request)


class WindowedStream(UkgWfmStream):
    """Time data by date window: from the bookmark minus ``lookback_days`` (or ``start_date`` on a first run; a
    configured ``start_date`` floors every run) to ``end_date``."""

    is_sorted = False
    #: Days after ``end_date`` also read (schedules are published ahead).
    reads_ahead = False

    def window_span(self, context: Context | None) -> tuple[date, date]:
        s = self.settings
        bookmark = self.get_starting_replication_key_value(context)
        first = s.start_date
        if bookmark:
            # a bookmark ahead of end_date (a shift published for next week) never skips days not read yet; an old
            # one is read from, however old: the 30-day default start floors a first run only, or days between the
            # bookmark and it would never be read while the bookmark moves past them
            first = min(date.fromisoformat(str(bookmark)[:10]), s.end_date) - timedelta(days=s.lookback_days)
            if s.configured_start is not None:
                first = max(s.configured_start, first)
        last = s.end_date + timedelta(days=s.schedule_days_ahead if self.reads_ahead else 0)
        return first, last

    #: The multi_read endpoint asked once per (window, batch of people).
    window_path: t.ClassVar[str]

    #: What an answer holds per person (the unanswered-people log's word), and that log's level.
    answer_part: t.ClassVar[str] = "part"
    unanswered_level: t.ClassVar[int] = logging.WARNING

    def answers(self, context: Context | None) -> t.Iterator[t.Any]:
        """Each call's answer. A stream whose sets are person-days (``replace_by``: person, day) notes each call's
        people and days read whole (``xlr8_read_whole``): a day whose last punch or shift was deleted answers no
        row, and only this names it, so the target marks its old rows deleted (once the whole read ended well).
        Only the people the answer names (``answered``) are noted: one it leaves out was not read, and noting them
        had the target mark every landed row of their days deleted (audit wfm27 W1, W5). The people left out are
        counted over the read and logged once at its end (``warn_of_unanswered``)."""
        first, last = self.window_span(context)
        days = len(self.xlr8_replace_by) == 2
        missed: _Unanswered = _Unanswered()
        for start, end in windows(first, last, self.settings.window_days):
            for people in self.person_batches(start, end):
                answer = self.call("POST", self.window_path, self.window_body(people, start, end))
                if days:
                    person, day = self.xlr8_replace_by
                    dates = [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]
                    self.xlr8_read_whole({person: self.answered(answer, people, missed), day: dates})
                yield answer
        self.warn_of_unanswered(missed, first, last)

    def answered(self, answer: t.Any, people: list[str], missed: _Unanswered | None = None) -> list[str]:
        """The ``people`` of a call whose days ``answer`` holds whole: those it names (``answered_people``); the
        ones it leaves out are counted in ``missed``, and their landed rows kept."""
        found = self.answered_people(answer)
        kept = [p for p in people if p in found]
        if missed is not None:
            missed.note(people, kept)
        return kept

    def warn_of_unanswered(self, missed: _Unanswered, first: date, last: date) -> None:
        """One log line per read (``unanswered_level``) for the people its answers left out: counts only, no person
        numbers (a WARNING per call naming people was noise on a tenant that answers some people nothing)."""
        if not missed.people:
            return
        self.logger.log(
            self.unanswered_level,
            "ukg_wfm %s: %s named no %s for %d of %d people asked for over %s..%s (%d of %d calls): their days "
            "there are not taken as emptied, their landed rows stay as they were (no access or licence for them, "
            "or nothing of theirs in the window?)",
            self.name,
            self.window_path,
            self.answer_part,
            len(missed.people),
            len(missed.asked),
            first,
            last,
            missed.calls,
            missed.made,
        )

    def answered_people(self, answer: t.Any) -> set[str]:
        """The person numbers ``answer`` names, each read whole for the call's days."""
        raise NotImplementedError

    def window_body(self, people: list[str], first: date, last: date) -> dict[str, t.Any]:
        """The request of one window for one batch of people."""
        raise NotImplementedError


class _Unanswered:
    """The people a read asked for and the ones its answers left out (``WindowedStream.answers``)."""

    def __init__(self) -> None:
        self.asked: set[str] = set()
        self.people: set[str] = set()
        self.calls = 0
        self.made = 0

    def note(self, people: list[str], kept: list[str]) -> None:
        self.asked.update(people)
        self.made += 1
        if len(kept) < len(people):
            self.calls += 1
            self.people.update(set(people).difference(kept))


def employees_where(people: list[str]) -> dict[str, t.Any]:
    """The persons multi_read's people: a key and its values."""
    return {"key": "personnumber", "values": people}


def employee_refs(people: list[str]) -> dict[str, t.Any]:
    """The timecard and schedule multi_reads' people: an object reference list by qualifier (the person number).
    They refuse the persons multi_read's ``key``/``values`` (400 WFP-90011 "Unrecognized property"; audit wfm27
    W3)."""
    return {"qualifiers": people}


def as_date(value: t.Any) -> str | None:
    return str(value)[:10] if value else None


def id_text(value: t.Any) -> str | None:
    """An id as text; a missing one stays None (``str`` made every id-less row the one key "None", merged and past
    the target's missing-key dead letter)."""
    return None if value is None else str(value)


def number(value: t.Any) -> Decimal | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, Decimal) else Decimal(str(value))
