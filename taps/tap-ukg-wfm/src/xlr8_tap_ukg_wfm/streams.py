"""UKG WFM streams: declarations (names, keys, columns, annotations) and each response's flattening.

Reality: ``persons`` (people and their primary job), ``timecards`` (daily totals by pay code), ``punches``,
``schedules`` (shifts) and ``accruals`` (balances as of a date). Configuration: ``pay_codes`` (earnings),
``accrual_codes``, ``work_rules``, ``locations`` (business structure nodes), ``labor_categories``, ``hyperfinds``.
"""

from __future__ import annotations

import logging
import typing as t
from collections import Counter, deque
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from itertools import repeat
from operator import getitem, itemgetter
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import typing as th

from xlr8_kit.columns import BLOCK_ROWS, written_numbers
from xlr8_kit.http.errors import AnswerShapeError, ClientRequestError, json_kind
from xlr8_kit.singer_io import listed_rows
from xlr8_tap_ukg_wfm.client import (
    UkgWfmStream,
    WindowedStream,
    as_date,
    employee_refs,
    employees_where,
    id_text,
    number,
    ref,
)

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

S, INT, N, B = th.StringType, th.IntegerType, th.NumberType, th.BooleanType
D, DT = th.DateType, th.DateTimeType


def _schema(*columns: tuple[str, t.Any]) -> dict[str, t.Any]:
    return th.PropertiesList(*(th.Property(name, kind) for name, kind in columns)).to_dict()


def _path_part(path: str | None, level: int) -> str | None:
    """The ``level``-th node of ``./Acme/US/ATL/D003/J004`` (1 is the root), None when the path is shorter."""
    parts = [p for p in (path or "").split("/") if p and p != "."]
    return parts[level - 1] if 0 < level <= len(parts) else None


class PersonsStream(UkgWfmStream):
    """People of the hyperfind over [start_date, end_date], read by persons multi_read in capped batches."""

    name = "persons"
    primary_keys = ("personNumber",)
    xlr8_entity = "employee"
    xlr8_references = {
        "primaryJob": "job",
        "primaryLocation": "location",
        "primaryDepartment": "department",
        "supervisorPersonNumber": "employee",
        "workRule": "work_rule",
    }
    schema = _schema(
        ("personNumber", S),
        ("personKey", INT),
        ("firstName", S),
        ("lastName", S),
        ("fullName", S),
        ("email", S),
        ("hireDate", D),
        ("employmentStatus", S),
        ("employmentStatusDate", D),
        ("terminationDate", D),
        ("primaryOrgPath", S),
        ("primaryLocation", S),
        ("primaryDepartment", S),
        ("primaryJob", S),
        ("workerType", S),
        ("fullTime", B),
        ("supervisorPersonNumber", S),
        ("workRule", S),
        ("timeZone", S),
    )

    def answers(self, context: Context | None) -> t.Iterator[t.Any]:
        s = self.settings
        zones: Counter[str] = Counter()
        for people in self.person_batches(s.start_date, s.end_date):
            answer = self.call(
                "POST", "/api/v1/commons/persons/multi_read", {"where": {"employees": employees_where(people)}}
            )
            zones.update(_zone_names(answer))
            yield answer
        self.warn_of_other_zones(zones)

    def warn_of_other_zones(self, zones: Counter[str]) -> None:
        """Time data is converted with the one ``timezone`` setting, not each person's zone (README, "Time
        zones"): say so when the people's zones show that shifts some of them (several zones, or one other)."""
        configured = getattr(self.settings.zone, "key", "UTC")
        if len(zones) < 2 and (not zones or not _other_iana_zone(next(iter(zones)), configured)):
            return
        named = ", ".join(f"{name} ({count})" for name, count in zones.most_common())
        self.logger.warning(
            "ukg_wfm persons: people are in time zone(s) %s, but every date-time is converted to UTC with the "
            "setting 'timezone' (%s): times of people in another zone land shifted by the difference",
            named,
            configured,
        )

    def rows(self, answer: t.Any) -> t.Iterable[dict[str, t.Any]]:
        for row in answer:
            yield self.flatten(row)

    def flatten(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        info = row.get("personInformation") or {}
        person = info.get("person") or {}
        statuses = sorted(info.get("employmentStatusList") or [], key=lambda x: str(x.get("effectiveDate")))
        today = self.settings.end_date.isoformat()
        at = _in_effect(statuses, today)
        current = statuses[at] if at is not None else {}
        job = row.get("jobAssignment") or {}
        details = job.get("jobAssignmentDetails") or {}
        accounts = sorted(
            (a for a in job.get("primaryLaborAccounts") or [] if isinstance(a, dict)),
            key=lambda a: str(a.get("effectiveDate")),
        )
        account = _in_effect(accounts, today)
        path = accounts[account].get("organizationPath") if account is not None else None
        emails = info.get("emailAddresses") or []
        worker = details.get("workerTypeName")
        s = self.settings
        return {
            "personNumber": person.get("personNumber"),
            "personKey": person.get("personKey"),
            "firstName": person.get("firstName"),
            "lastName": person.get("lastName"),
            "fullName": person.get("fullName"),
            "email": _work_email(emails, s.work_email_types),
            "hireDate": as_date(person.get("hireDate")),
            "employmentStatus": current.get("employmentStatusName"),
            "employmentStatusDate": as_date(current.get("effectiveDate")),
            "terminationDate": _termination_date(statuses, at),
            "primaryOrgPath": path,
            "primaryLocation": _path_part(path, s.location_level),
            "primaryDepartment": _path_part(path, s.department_level),
            "primaryJob": _path_part(path, len([p for p in (path or "").split("/") if p and p != "."])),
            "workerType": worker,
            "fullTime": worker == "Full Time" if worker else None,
            "supervisorPersonNumber": details.get("supervisorPersonNumber"),
            "workRule": details.get("payRuleName"),
            "timeZone": details.get("timeZoneName"),
        }


def _in_effect(entries: list[dict[str, t.Any]], day: str) -> int | None:
    """The index of the entry in effect on ``day`` in effective-dated ``entries`` (sorted by ``effectiveDate``): the
    last one started by then, else the first (all start later); None when there are none. The API promises no order
    and keeps past and future-dated entries (a transfer entered ahead of its date)."""
    started = [i for i, entry in enumerate(entries) if str(entry.get("effectiveDate"))[:10] <= day]
    return started[-1] if started else (0 if entries else None)


def _termination_date(statuses: list[dict[str, t.Any]], at: int | None) -> str | None:
    """The termination date that holds at ``statuses[at]`` (the status in effect): when it is Terminated, the start
    of that stretch of Terminated entries (not an earlier one a rehire ended); else the next Terminated entry
    after it (a termination entered ahead of its date), else None (a rehired person has none)."""
    if at is None:
        return None
    if statuses[at].get("employmentStatusName") == "Terminated":
        start = at
        while start > 0 and statuses[start - 1].get("employmentStatusName") == "Terminated":
            start -= 1
        return as_date(statuses[start].get("effectiveDate"))
    later = next((x for x in statuses[at + 1 :] if x.get("employmentStatusName") == "Terminated"), None)
    return as_date(later.get("effectiveDate")) if later else None


def _work_email(emails: t.Any, types: frozenset[str]) -> t.Any:
    """The first address whose ``contactTypeName`` is a work type, else None. The list holds every type in no
    promised order, and hourly staff often have only a Home address: the first of any type landed personal
    addresses, unprotected, as the work e-mail (``email`` is not personal data in the vocabulary)."""
    for entry in emails if isinstance(emails, list) else ():
        if isinstance(entry, dict) and entry.get("address") and str(entry.get("contactTypeName")).casefold() in types:
            return entry["address"]
    return None


def _zone_names(answer: t.Any) -> list[str]:
    """Each person's ``jobAssignmentDetails.timeZoneName`` in a persons multi_read answer (given ones only)."""
    found = []
    for row in answer if isinstance(answer, list) else ():
        details = ((row or {}).get("jobAssignment") or {}).get("jobAssignmentDetails") or {}
        if details.get("timeZoneName"):
            found.append(str(details["timeZoneName"]))
    return found


def _other_iana_zone(name: str, configured: str) -> bool:
    """``name`` is an IANA zone whose clock differs from ``configured``'s (a tenant's own zone names cannot be
    compared). Aliases (``US/Eastern`` and ``America/New_York``, ``Etc/UTC`` and ``UTC``) convert alike, so they
    are compared by their UTC offsets every six hours over two years (both DST changes of each), not by name."""
    if name == configured:
        return False
    try:
        zone, other = ZoneInfo(name), ZoneInfo(configured)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=365)
    instants = (start + timedelta(hours=6 * n) for n in range(4 * 730))
    return any(at.astimezone(zone).utcoffset() != at.astimezone(other).utcoffset() for at in instants)


TIMECARD_PATH = "/api/v1/timekeeping/timecard/multi_read"


def _carded(answer: t.Any, part: str) -> set[str]:
    """The person numbers a timecard multi_read answer holds a timecard for, with its ``part`` (``punches``,
    ``dailyTotals``) given as a list. UKG answers one card per person asked for, but leaves out a person the caller
    may not read rather than answer them empty (audit wfm27 W1); a card without the part at all says nothing of
    it either (whether UKG omits an empty list is not documented: taken as "not told", never as "emptied")."""
    if not isinstance(answer, list):
        return set()
    found = (ref(card.get("employee")) for card in answer if isinstance(card, dict) and type(card.get(part)) is list)
    return {str(person) for person in found if person is not None}


def _scheduled(answer: t.Any) -> set[str]:
    """The person numbers a schedule multi_read answer names: the ``employee`` of each item of its lists
    (``shifts``, and any per-person list beside it). Its answer lists shifts, not people, so a person it holds
    nothing for may be one it left out (no access) as well as one without shifts: either way not read whole
    (audit wfm27 W5; announced, their landed shifts of the window were marked deleted)."""
    if not isinstance(answer, dict):
        return set()
    found = (
        ref(item.get("employee"))
        for value in answer.values()
        if isinstance(value, list)
        for item in value
        if isinstance(item, dict)
    )
    return {str(person) for person in found if person is not None and not isinstance(person, dict | list)}


def _day_of(value: t.Any, what: str, person: t.Any, which: t.Any, *, field: str = "applyDate") -> str:
    """The day of a punch, total or shift (``as_date``), which names its set (``replace_by``: person, day). One
    without it fails the read: landed under a null day it was in no day the read announced whole, so those days'
    landed rows were marked deleted as emptied (and a null day is no bookmark)."""
    day = as_date(value)
    if day is None:
        raise ValueError(f"{what} {which!r} of person {person} came without its '{field}': the day it belongs to")
    return day


def _punch_moment(punch: dict[str, t.Any], zone: tzinfo) -> tuple[datetime, datetime] | None:
    """A punch's tenant-local wall time (``roundedPunchDtm``, else ``punchDtm``; one given with an offset is taken
    to ``zone``) and its instant (UTC: gaps are measured in real hours, so a DST night's wall clock neither adds nor
    takes an hour, review28i L2; a wall time without an offset is read at ``zone``'s, the repeated fall-back hour at
    its first), None when it has neither or neither reads as a date-time."""
    for field in ("roundedPunchDtm", "punchDtm"):
        text = punch.get(field)
        if not text:
            continue
        try:
            moment = datetime.fromisoformat(str(text))
        except ValueError:
            continue
        aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)
        return aware.astimezone(zone).replace(tzinfo=None), aware.astimezone(UTC)
    return None


def _punch_kind(punch: dict[str, t.Any]) -> str | None:
    """The punch's kind when its ``typeOverride`` says so (words of its qualifier): "new" for UKG's "New Shift"
    override (the employee said a shift starts here, review28i M1), else "out" or "in"; None when it says none."""
    words = set(str(ref(punch.get("typeOverride")) or "").casefold().replace("_", " ").split())
    if {"new", "shift"} <= words:
        return "new"
    if "out" in words:
        return "out"
    return "in" if "in" in words else None


def _punch_days(
    punches: list[t.Any],
    person: t.Any,
    zone: tzinfo,
    breaks: timedelta = timedelta(hours=8),
    longest: timedelta = timedelta(hours=36),
) -> list[str]:
    """The day each of a card's punches belongs to: its ``applyDate``; without one (UKG's timecard punch model has
    no ``applyDate``: audit wfm27 W2), the day of the shift it is part of, as UKG groups punches into shifts and
    applies a shift to the day it starts (on their own clock days a night shift's later punches fell outside a
    window starting the next day, announced whole: landed punches were marked deleted, audit wfm28 H1).

    In time order, punches pair by turns (in, out, in, ...) or by ``typeOverride`` where given. A punch after an
    open in punch closes it: untyped, any punch within ``longest`` of the shift's first punch when that is the open
    one (review28i H1: a 12-hour night with its meal auto-deducted is two punches 12 h apart, one shift), else
    within ``breaks`` of the previous (after a break's return: a missed meal-in must not pair the next night's in
    punch as this shift's out); typed, an out punch within ``longest`` or any punch within ``breaks`` of the
    previous. A punch after an out punch stays in the shift when it comes less than ``breaks`` later (a meal or
    rest break). Nothing joins a shift past ``longest`` from its start (a chain of
    short gaps is bounded, M1), nor a "New Shift" punch. Any other punch starts a shift on its own tenant-local day
    as its in punch: past ``longest`` an open in punch is taken as a missed out punch (UKG's everyday exception) and
    the turns re-sync (review28g M1). Left: an untyped in punch within ``longest`` after a missed out punch is taken
    as that shift's out (a 24-hour shift looks the same); the README names the remedy (``longest_shift_hours``).
    Raises, naming the punch, when a punch has neither ``applyDate`` nor a readable punch time."""
    told = [as_date(punch.get("applyDate")) for punch in punches]
    if None not in told:
        return t.cast("list[str]", told)  # every day given: nothing to derive (the usual answer costs no more)
    days: list[str | None] = [None] * len(punches)
    timed = []
    for n, (punch, given) in enumerate(zip(punches, told, strict=True)):
        stamp = _punch_moment(punch, zone)
        if stamp is not None:
            timed.append((stamp[1], n, given, stamp[0]))
        elif given is not None:
            days[n] = given
        else:
            raise ValueError(
                f"punches: the punch {punch.get('id')!r} of person {person} came without its 'applyDate', nor a "
                "readable 'punchDtm' or 'roundedPunchDtm' to tell it by: the day it belongs to"
            )
    start: datetime | None = None  # the current shift's first punch (UTC)
    last = start
    day = ""
    on_clock = False  # an in punch is open
    alone = False  # the open in punch is the shift's first (nothing between: the next punch is its out)
    for moment, n, given, local in sorted(timed, key=itemgetter(0, 1)):
        typed = _punch_kind(punches[n])
        joins = False
        if start is not None and last is not None and typed != "new" and moment - start <= longest:
            closes = typed == "out" if typed else alone  # after a break, untyped, the gap rule (a missed meal-in)
            joins = moment - last < breaks or (on_clock and closes)
        if joins:
            kind = typed or ("out" if on_clock else "in")
            alone = False
        else:
            start, day, kind = moment, local.date().isoformat(), "out" if typed == "out" else "in"
            alone = kind == "in"
        days[n] = given or day
        last, on_clock = moment, kind != "out"
    return t.cast("list[str]", days)


class TimecardsStream(WindowedStream):
    """Daily totals from timecard multi_read TOTALS: one row per person, day and pay code. UKG totals a day per
    pay code *and* labor account (a job transfer mid-day gives two REG totals), so the totals of one key are summed
    (``_day_totals``): a re-read day then replaces its rows, whichever jobs the hours moved to, where a key with
    the job would keep the old job's row beside the new one (hours doubled) and one without summing would keep
    only the last total (hours lost)."""

    name = "timecards"
    primary_keys = ("personNumber", "applyDate", "payCode")
    #: A person's day is read whole (one answer holds it): its rows replace the day's landed rows, so a pay code a
    #: correction removed is deleted downstream (the key alone would keep its old total).
    xlr8_replace_by = ("personNumber", "applyDate")
    replication_key = "applyDate"
    xlr8_entity = "timecard"
    xlr8_references = {"payCode": "earning", "location": "location", "job": "job"}
    schema = _schema(
        ("personNumber", S),
        ("applyDate", D),
        ("payCode", S),
        ("amountType", S),
        ("hours", N),
        ("money", N),
        ("days", N),
        ("startDateTime", DT),
        ("endDateTime", DT),
        ("location", S),
        ("orgJobPath", S),
        ("job", S),
        ("approved", B),
        ("updatedOn", DT),
    )

    window_path = TIMECARD_PATH
    answer_part = "timecard with dailyTotals"

    def answered_people(self, answer: t.Any) -> set[str]:
        return _carded(answer, "dailyTotals")

    def window_body(self, people: list[str], first: date, last: date) -> dict[str, t.Any]:
        return {
            "select": ["TOTALS"],
            "where": {
                "employees": employee_refs(people),
                "dateRange": {"startDate": first.isoformat(), "endDate": last.isoformat()},
            },
        }

    #: The record's keys, in order (``rows`` and ``row_blocks``).
    _KEYS = (
        *("personNumber", "applyDate", "payCode", "amountType", "hours", "money", "days", "startDateTime"),
        *("endDateTime",),
        *("location", "orgJobPath", "job", "approved", "updatedOn"),
    )

    def row_blocks(
        self, answer: t.Any, *, judge: t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool] | None = None
    ) -> t.Iterator[tuple[list[dict[str, t.Any]], dict[str, list[t.Any]] | None]] | None:
        """``self.rows(answer)`` in blocks of up to ``BLOCK_ROWS`` records, each built column by column (each
        field of its daily totals read by one C loop, each conversion mapped over its column), with each key's
        values. None for an answer of another shape (a card or total that is not a dict): ``rows`` reads it. A
        block a conversion raises for comes row by row (values None), so the error is raised at its row. A block
        goes out only once every total of its person-days is converted (``_day_ends``): the error sends no part of
        its day (the target replaces a day by the rows it gets of it)."""
        if type(answer) is not list or not set(map(type, answer)) <= _DICTS:
            return None
        people: list[t.Any] = []
        totals: list[t.Any] = []
        for card in answer:
            found = card.get("dailyTotals") or []
            if type(found) is not list or not set(map(type, found)) <= _DICTS:
                return None
            totals += found
            people += repeat(ref(card.get("employee")), len(found))
        if _shares_a_key(people, totals):
            return None  # ``rows`` sums the totals of one key
        if not all(map(_is_hours, map(dict.get, totals, repeat("amountType")))):
            return None  # ``rows`` puts a money (days) total's amount in ``money`` (``days``), refuses others by name
        return self._blocks(people, totals, judge)

    def _blocks(
        self,
        people: list[t.Any],
        totals: list[dict[str, t.Any]],
        judge: t.Callable[[t.Mapping[str, t.Sequence[t.Any]]], bool] | None = None,
    ) -> t.Iterator[tuple[list[dict[str, t.Any]], dict[str, list[t.Any]] | None]]:
        utc = self.utc_of
        keys = self._KEYS
        ends = _day_ends(people, totals)
        held: deque[tuple[int, tuple[list[dict[str, t.Any]], dict[str, list[t.Any]] | None]]] = deque()
        for start in range(0, len(totals), BLOCK_ROWS):
            while held and held[0][0] < start:  # every row of its blocks' person-days converted
                yield held.popleft()[1]
            some = totals[start : start + BLOCK_ROWS]
            persons = people[start : start + BLOCK_ROWS]

            def field(name: str, some: list[dict[str, t.Any]] = some) -> list[t.Any]:
                return list(map(dict.get, some, repeat(name)))

            try:
                paths = _refs(field("orgJob"))
                amounts = field("amount")
                texts = None
                if judge is not None and set(map(type, amounts)) <= _FLOATS_AND_INTS:
                    texts = written_numbers(list(map(str, amounts)))  # ``number``'s Decimal texts, as written
                values = [
                    persons,
                    _dates(field("applyDate")),
                    _refs(field("payCode")),
                    field("amountType"),
                    [] if texts is not None else _numbers(amounts),
                    [None] * len(some),
                    [None] * len(some),
                    list(map(utc, field("startDateTime"))),
                    list(map(utc, field("endDateTime"))),
                    _refs(field("location")),
                    paths,
                    _jobs(paths),
                    field("approved"),
                    list(map(utc, field("updatedOnDtm"))),
                ]
                columns: dict[str, list[t.Any]] = dict(zip(keys, values, strict=True))
                if texts is not None:
                    del columns[_HOURS]
                    if judge is not None and judge(columns):
                        values[_HOURS_AT] = texts
                    else:
                        values[_HOURS_AT] = _numbers(amounts)
                        columns = dict(zip(keys, values, strict=True))
            except Exception:  # noqa: BLE001 - row by row below, raising at its own row (the held rows unsent)
                rows = [self._row(person, total, utc) for person, total in zip(persons, some, strict=True)]
                held.extend((end, ([row], None)) for end, row in zip(ends[start:], rows, strict=False))
                continue
            block = list(map(dict, map(zip, repeat(keys), zip(*values, strict=True))))
            held.append((max(ends[start : start + BLOCK_ROWS]), (block, columns)))
        while held:
            yield held.popleft()[1]

    def _row(self, person: t.Any, total: dict[str, t.Any], utc: t.Callable[[t.Any], t.Any]) -> dict[str, t.Any]:
        """One daily total's record (``rows``)."""
        get = total.get
        path = ref(get("orgJob"))
        try:
            hours = number(get("amount"))
        except (ArithmeticError, ValueError) as exc:  # Decimal's own text names neither the field nor the total
            raise ValueError(
                f"timecards: the daily total of person {person} on {get('applyDate')}, pay code "
                f"{ref(get('payCode'))}, has an amount that is not a number ({get('amount')!r})"
            ) from exc
        money, days = _is_money(get("amountType")), _is_days(get("amountType"))
        if not money and not days and not _is_hours(get("amountType")):
            raise ValueError(
                f"timecards: the daily total of person {person} on {get('applyDate')}, pay code "
                f"{ref(get('payCode'))}, has amountType {get('amountType')!r}, which is none of hours (HOUR), money "
                "(MONEY) or days (DAY): its amount cannot be told apart, so nothing of the read lands. Deselect the "
                "'timecards' stream until the tap reads that amountType (report it with the pay code)"
            )
        return {
            "personNumber": person,
            "applyDate": _day_of(get("applyDate"), "timecards: the daily total", person, ref(get("payCode"))),
            "payCode": ref(get("payCode")),
            "amountType": get("amountType"),
            "hours": None if money or days else hours,
            "money": hours if money else None,
            "days": hours if days else None,
            "startDateTime": utc(get("startDateTime")),
            "endDateTime": utc(get("endDateTime")),
            "location": ref(get("location")),
            "orgJobPath": path,
            "job": str(path).rsplit("/", 1)[-1] if path else None,
            "approved": get("approved"),
            "updatedOn": utc(get("updatedOnDtm")),
        }

    def rows(self, answer: t.Any) -> t.Iterable[dict[str, t.Any]]:
        utc = self.utc_of
        yield from _day_totals(
            self._row(ref(card.get("employee")), total, utc)
            for card in answer
            for total in card.get("dailyTotals") or []
        )


def _day_ends(people: list[t.Any], totals: list[dict[str, t.Any]]) -> list[int]:
    """For each total, the index of the last total of its person's day (the whole answer's last one when the days
    cannot be told apart): ``_blocks`` sends a block once those are converted, so a total that fails to convert
    sends no part of its day, which the target (``replace_by``) would take for the whole day."""
    try:
        days = list(zip(people, _dates(list(map(dict.get, totals, repeat("applyDate")))), strict=True))
        last = dict(zip(days, range(len(days)), strict=True))
        return list(map(last.__getitem__, days))
    except Exception:  # noqa: BLE001 - a day key that cannot be read or hashed: hold the answer
        return [len(totals)] * len(totals)


def _shares_a_key(people: list[t.Any], totals: list[dict[str, t.Any]]) -> bool:
    """Two daily totals of one person, day and pay code, or a total without its day, or totals whose key cannot
    be read: ``rows`` reads them, summing (and raising at a bad row, before any is sent: a block path would have
    sent the answer's other days first)."""
    try:
        days = _dates(list(map(dict.get, totals, repeat("applyDate"))))
        if None in days:
            return True
        codes = _refs(list(map(dict.get, totals, repeat("payCode"))))
        keys = [key for key in zip(people, days, codes, strict=True) if None not in key]
        return len(set(keys)) < len(keys)
    except Exception:  # noqa: BLE001 - ``rows`` raises at the row
        return True


def _day_totals(records: t.Iterator[dict[str, t.Any]]) -> t.Iterator[dict[str, t.Any]]:
    """The records, those of one (person, day, pay code) made one, in first-seen order (a day's totals all come
    in one answer: one call reads each person's whole days). A record with a null key part is kept as it is (the
    target dead-letters each). Nothing is emitted before the answer is read whole, so a row that raises sends no
    part of a day: a partial sum, or a day's other pay codes alone, would replace the whole landed day
    (``replace_by``)."""
    groups: dict[t.Any, list[dict[str, t.Any]]] = {}
    for record in records:
        key = (record["personNumber"], record["applyDate"], record["payCode"])
        groups.setdefault(object() if None in key else key, []).append(record)
    summed = [group[0] if len(group) == 1 else _summed(group) for group in groups.values()]
    yield from summed


def _amount_type(group: list[dict[str, t.Any]]) -> t.Any:
    """The one ``amountType`` of a key's totals (None when none has one); totals of two types (hours and money)
    cannot be added, so they fail the answer rather than land a sum of both."""
    kinds: list[t.Any] = []
    for record in group:
        kind = record["amountType"]
        if kind is not None and kind not in kinds:
            kinds.append(kind)
    if len(kinds) > 1:
        first = group[0]
        raise ValueError(
            f"timecards: the daily totals of person {first['personNumber']} on {first['applyDate']}, pay code "
            f"{first['payCode']} have amountType {', '.join(map(str, kinds))}: only totals of one amountType are "
            "summed into one row"
        )
    return kinds[0] if kinds else None


def _summed(group: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    """One record for a key's totals (of one ``amountType``): hours (or money) summed; location, job path and job
    those of the total with the most hours (the first on a tie); the earliest start, the latest end and update;
    approved only if all are."""
    hours = [r["hours"] for r in group if r["hours"] is not None]
    money = [r["money"] for r in group if r["money"] is not None]
    days = [r["days"] for r in group if r["days"] is not None]
    starts = [r["startDateTime"] for r in group if r["startDateTime"]]
    ends = [r["endDateTime"] for r in group if r["endDateTime"]]
    updated = [r["updatedOn"] for r in group if r["updatedOn"]]
    approvals = {r["approved"] for r in group}
    kind = _amount_type(group)
    return {
        **max(group, key=lambda r: r["hours"] or r["money"] or r["days"] or 0),
        "amountType": kind,
        "hours": sum(hours, Decimal(0)) if hours else None,
        "money": sum(money, Decimal(0)) if money else None,
        "days": sum(days, Decimal(0)) if days else None,
        "startDateTime": min(starts, default=None),
        "endDateTime": max(ends, default=None),
        "updatedOn": max(updated, default=None),
        "approved": False if False in approvals else (True if approvals == {True} else None),
    }


_DICTS = frozenset({dict})
#: The record key of a daily total's amount, and its place in ``TimecardsStream._KEYS``.
_HOURS, _HOURS_AT = "hours", 4
_STRS = frozenset({str})
_FLOATS_AND_INTS = frozenset({float, int})
_FIRST_TEN = slice(None, 10)
_LAST_PART = itemgetter(2)


#: ``amountType`` values of a total whose amount is money, not hours (a bonus or allowance pay code).
_MONEY_TYPES = frozenset({"money", "currency"})


#: ``amountType`` values of a total whose amount is hours (a total without one is taken as hours).
_HOUR_TYPES = frozenset({"hour", "hours"})


def _is_hours(kind: t.Any) -> bool:
    """A total of this ``amountType`` holds hours: it lands in ``hours``. UKG also has day amounts (Data Hub's
    ``vTimecardTotal.amountType``: hours, money or days), which must not land there."""
    return kind is None or (isinstance(kind, str) and kind.casefold() in _HOUR_TYPES)


#: ``amountType`` values of a total whose amount is a count of days (a vacation or sick *day* pay code).
_DAY_TYPES = frozenset({"day", "days"})


def _is_days(kind: t.Any) -> bool:
    """A total of this ``amountType`` counts days: it lands in ``days``, never in ``hours`` (review28i M3: refused,
    one day-counted pay code failed every ``timecards`` run, with no way out)."""
    return isinstance(kind, str) and kind.casefold() in _DAY_TYPES


def _is_money(kind: t.Any) -> bool:
    """A total of this ``amountType`` holds money: it lands in ``money``, never in ``hours`` (audit wfm27 W9)."""
    return isinstance(kind, str) and kind.casefold() in _MONEY_TYPES


def _job_of(path: t.Any) -> t.Any:
    """The job of an org job path (its last segment), as ``rows`` gives it."""
    return str(path).rsplit("/", 1)[-1] if path else None


# Column forms of the row steps (``TimecardsStream._blocks``): each gives what mapping the step over the column
# gives, in C for the usual column (all references objects, all dates non-empty texts, all amounts floats), and
# maps the step itself over any other column (same values, same errors).


def _refs(values: list[t.Any]) -> list[t.Any]:
    """``ref`` of each value."""
    if set(map(type, values)) <= _DICTS:
        return list(map(dict.get, values, repeat("qualifier")))
    return list(map(ref, values))


def _dates(values: list[t.Any]) -> list[t.Any]:
    """``as_date`` of each value."""
    if set(map(type, values)) <= _STRS and "" not in values:
        return list(map(getitem, values, repeat(_FIRST_TEN)))
    return list(map(as_date, values))


def _numbers(values: list[t.Any]) -> list[t.Any]:
    """``number`` of each value."""
    if set(map(type, values)) <= _FLOATS_AND_INTS:
        return list(map(Decimal, map(str, values)))
    return list(map(number, values))


def _jobs(paths: list[t.Any]) -> list[t.Any]:
    """``_job_of`` of each path."""
    if set(map(type, paths)) <= _STRS and "" not in paths:
        return list(map(_LAST_PART, map(str.rpartition, paths, repeat("/"))))
    return list(map(_job_of, paths))


class PunchesStream(WindowedStream):
    """Every clock punch (in and out), as recorded or later edited, from timecard multi_read PUNCHES."""

    name = "punches"
    primary_keys = ("punchId",)
    #: A person's day of punches comes whole in one answer (one call per window and batch of people), so its rows
    #: replace the day's landed ones: a punch a manager deleted is deleted downstream (no tombstone is answered).
    #: The sets lie outside the key (UKG's id): a punch moved to another day upserts in place (review25b F4).
    xlr8_replace_by = ("personNumber", "applyDate")
    replication_key = "applyDate"
    xlr8_entity = "punch"
    schema = _schema(
        ("punchId", S),
        ("personNumber", S),
        ("applyDate", D),
        ("punchType", S),
        ("punchDateTime", DT),
        ("enteredOn", DT),
        ("updatedOn", DT),
        ("editedByManager", B),
    )

    window_path = TIMECARD_PATH
    answer_part = "timecard with punches"

    def answered_people(self, answer: t.Any) -> set[str]:
        return _carded(answer, "punches")

    def window_body(self, people: list[str], first: date, last: date) -> dict[str, t.Any]:
        return {
            "select": ["PUNCHES"],
            "where": {
                "employees": employee_refs(people),
                "dateRange": {"startDate": first.isoformat(), "endDate": last.isoformat()},
            },
        }

    def rows(self, answer: t.Any) -> t.Iterable[dict[str, t.Any]]:
        """The answer's punches, all converted before any is sent: a punch that fails to convert sends no part of
        its day, which the target (``replace_by``) would take for the whole day (review24e #1)."""
        breaks = timedelta(hours=self.settings.shift_break_hours)
        longest = timedelta(hours=self.settings.longest_shift_hours)
        utc = self.utc_of
        return [
            {
                "punchId": id_text(punch.get("id")),
                "personNumber": person,
                "applyDate": day,
                "punchType": ref(punch.get("typeOverride")),
                "punchDateTime": utc(punch.get("punchDtm")),
                "enteredOn": utc(punch.get("enteredOnDtm")),
                "updatedOn": utc(punch.get("updatedOnDtm")),
                "editedByManager": punch.get("editedByManager"),
            }
            for card in answer
            for person in (ref(card.get("employee")),)
            for punches in (card.get("punches") or [],)
            for punch, day in zip(
                punches, _punch_days(punches, person, self.settings.zone, breaks, longest), strict=True
            )
        ]


class SchedulesStream(WindowedStream):
    """Scheduled shifts from schedule multi_read, through ``schedule_days_ahead`` days after ``end_date``."""

    name = "schedules"
    primary_keys = ("shiftId",)
    #: A person's day of shifts comes whole in one answer: its rows replace the day's landed ones, so a shift
    #: deleted is deleted downstream; the sets lie outside the key (UKG's id), so a shift given to another person
    #: or day upserts in place instead of standing live twice (review25b F4).
    xlr8_replace_by = ("personNumber", "date")
    replication_key = "date"
    reads_ahead = True
    xlr8_entity = "schedule"
    xlr8_references = {"location": "location", "job": "job"}
    schema = _schema(
        ("shiftId", S),
        ("personNumber", S),
        ("date", D),
        ("startDateTime", DT),
        ("endDateTime", DT),
        ("hours", N),
        ("label", S),
        ("orgJobPath", S),
        ("location", S),
        ("job", S),
    )

    window_path = "/api/v1/scheduling/schedule/multi_read"
    answer_part = "shift"
    #: INFO (review28i L3): a person without a shift in a window is not announced (UKG's answer cannot tell them
    #: from one it left out), so their landed shifts stay live (kept, never lost); part-timers, leave and weeks not
    #: yet scheduled make the count fire on every run, where a WARNING would be noise that hides real ones.
    unanswered_level = logging.INFO

    def answered_people(self, answer: t.Any) -> set[str]:
        return _scheduled(answer)

    def window_body(self, people: list[str], first: date, last: date) -> dict[str, t.Any]:
        return {
            "select": ["SHIFTS"],
            "where": {
                "employees": {
                    "employeeRefs": employee_refs(people),
                    "startDate": first.isoformat(),
                    "endDate": last.isoformat(),
                },
            },
        }

    def rows(self, answer: t.Any) -> t.Iterable[dict[str, t.Any]]:
        """The answer's shifts, all converted before any is sent (as ``PunchesStream.rows``)."""
        return list(self._shifts(answer))

    def _shifts(self, answer: t.Any) -> t.Iterator[dict[str, t.Any]]:
        s = self.settings
        if type(answer) is dict and "shifts" not in answer:
            # review29g M2: whether UKG leaves out an empty list is not documented; an object answer without
            # ``shifts`` is no shifts, as a timecard without its list is "not told" (``_carded``): it announces
            # nobody (``_scheduled``), so no landed shift is marked deleted by it
            return
        where = f"ukg_wfm stream {self.name!r} ({self.window_path})"
        try:
            shifts = listed_rows(answer, "shifts", where)
        except AnswerShapeError as error:
            raise AnswerShapeError(f"{error}; deselect stream 'schedules' to read the others", path=where) from None
        for shift in shifts:
            segments = shift.get("segments") or []
            path = ref(segments[0].get("orgJobRef")) if segments else None
            start, end = self.utc(shift.get("startDateTime")), self.utc(shift.get("endDateTime"))
            hours = None
            if start and end:
                seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
                hours = number(round(seconds / 3600, 2))
            yield {
                "shiftId": id_text(shift.get("id")),
                "personNumber": ref(shift.get("employee")),
                "date": _day_of(
                    shift.get("startDateTime"),
                    "schedules: the shift",
                    ref(shift.get("employee")),
                    shift.get("id"),
                    field="startDateTime",
                ),
                "startDateTime": start,
                "endDateTime": end,
                "hours": hours,
                "label": shift.get("label"),
                "orgJobPath": path,
                "location": _path_part(path, s.location_level),
                "job": str(path).rsplit("/", 1)[-1] if path else None,
            }


ACCRUAL_KEYS = {
    "PEOPLE_PERSON_NUMBER": "personNumber",
    "TK_ACCRUAL_CODE": "accrualCode",
    "TK_ACCRUAL_BALANCE": "balance",
    "TK_ACCRUAL_EARNED_YTD": "earnedYtd",
    "TK_ACCRUAL_TAKEN_YTD": "takenYtd",
}


DATA_PATH = "/api/v1/commons/data/multi_read"
#: Pages one accruals read may take: a server that never answers an empty page (nor a total) is stopped here.
MAX_ACCRUAL_PAGES = 100_000


class AccrualsStream(UkgWfmStream):
    """Accrual balances as of ``accruals_as_of``: the aggregated data multi_read, one paged call per batch of
    ``persons_per_request`` people of the population (not one call per person), pages of ``data_page_size``
    rows. The API refuses an employee set of more than 500 people (413 WCO-106194, developer.ukg.com/wfm/reference/
    retrieve-data), so the hyperfind is never sent as the set: UKG's "Large data sets" guide batches its people."""

    name = "accruals"
    primary_keys = ("personNumber", "accrualCode", "asOfDate")
    xlr8_entity = "accrual"
    xlr8_references = {"accrualCode": "accrual"}
    schema = _schema(
        ("personNumber", S), ("accrualCode", S), ("asOfDate", D), ("balance", N), ("earnedYtd", N), ("takenYtd", N)
    )

    def answers(self, context: Context | None) -> t.Iterator[t.Any]:
        day = self.settings.accruals_as_of
        for people in self.person_batches(day, day):
            yield from self.pages_of(people)

    def pages_of(self, people: list[str]) -> t.Iterator[t.Any]:
        """Pages of the data multi_read for ``people``; the next ``index`` is the rows counted so far. Paging ends at
        ``metadata.totalElements`` or, without it, only at an empty page (a server may serve fewer rows than
        ``count``: a short page is not the last). An empty page before the total, a page that repeats the one
        before (the server ignored ``index``) and more than ``MAX_ACCRUAL_PAGES`` pages are errors, never fewer or
        repeated rows, nor a read without end. One repeat is the end: a page shorter than an earlier one, answered
        again (a server answering an ``index`` past the end with its last page; one ignoring ``index`` repeats
        the first page, as long as itself)."""
        s = self.settings
        day = s.accruals_as_of.isoformat()
        index, before, longest = 0, None, 0
        for _ in range(MAX_ACCRUAL_PAGES):
            body = {
                "select": [{"key": k} for k in ACCRUAL_KEYS],
                "from": {
                    "view": "EMP",
                    "employeeSet": {
                        "employees": {"qualifiers": people},
                        "dateRange": {"startDate": day, "endDate": day},
                    },
                },
                "index": index,
                "count": s.data_page_size,
            }
            answer = self.call("POST", DATA_PATH, body)
            children = self.children(answer)
            total = (answer.get("metadata") or {}).get("totalElements")
            if children and children == before:
                if len(children) < longest and total is None:  # a total says whether rows remain (review23j #1)
                    self.logger.info(
                        "ukg_wfm %s: the data multi_read at index %d answered its last page (%d rows) again: the end",
                        self.name,
                        index,
                        len(children),
                    )
                    return
                raise ClientRequestError(
                    f"ukg_wfm {self.name}: the data multi_read at index {index} answered the same rows as the page "
                    "before: the server does not page by 'index', or answers an index past the end with its last "
                    "page again (a last page as long as the ones before it cannot be told from the first one "
                    "repeated), so the rows cannot all be read",
                    path=DATA_PATH,
                )
            if not children and total is not None and index < int(total):
                raise ClientRequestError(
                    f"ukg_wfm {self.name}: the data multi_read ended after {index} rows, but its "
                    f"metadata.totalElements is {total}: rows are missing",
                    path=DATA_PATH,
                )
            yield answer
            index += len(children)
            if not children or (total is not None and index >= int(total)):
                return
            if before is not None:
                longest = max(longest, len(before))
            before = children
        raise ClientRequestError(
            f"ukg_wfm {self.name}: the data multi_read was still answering rows after {MAX_ACCRUAL_PAGES} pages "
            f"({index} rows) of setting 'data_page_size' ({s.data_page_size}); stopped rather than read without end",
            path=DATA_PATH,
        )

    @staticmethod
    def children(answer: t.Any) -> list[dict[str, t.Any]]:
        """The page's rows, ``data.children``; an answer without them (a gateway's page, a changed shape) is an
        ``AnswerShapeError`` naming the path and key, not "no rows" (the read then ended well with nothing landed)."""
        if type(answer) is dict and type(answer.get("data")) is not dict:
            got = "has no 'data'" if "data" not in answer else f"has 'data' as {json_kind(answer['data'])}"
            raise AnswerShapeError(
                f"ukg_wfm stream 'accruals' ({DATA_PATH}): the answer {got}, where the rows come as a list under "
                "'data.children' (an empty list when there are none); an answer in another shape is not read as no "
                "rows, so the stream stops here (review29g L2)",
                path=DATA_PATH,
            )
        data = answer.get("data") if type(answer) is dict else answer
        return listed_rows(data, "children", f"ukg_wfm stream 'accruals' ({DATA_PATH}, data)")

    def rows(self, answer: t.Any) -> t.Iterable[dict[str, t.Any]]:
        day = self.settings.accruals_as_of.isoformat()
        for child in self.children(answer):
            values = {a.get("key"): a.get("rawValue") for a in child.get("attributes") or []}
            yield {
                "personNumber": values.get("PEOPLE_PERSON_NUMBER"),
                "accrualCode": values.get("TK_ACCRUAL_CODE"),
                "asOfDate": day,
                "balance": number(values.get("TK_ACCRUAL_BALANCE")),
                "earnedYtd": number(values.get("TK_ACCRUAL_EARNED_YTD")),
                "takenYtd": number(values.get("TK_ACCRUAL_TAKEN_YTD")),
            }


class SetupStream(UkgWfmStream):
    """A setup list (GET): every row, flattened by ``columns``."""

    xlr8_truth_type = "configuration"
    resource = ""
    #: Key of the list inside an object answer (``hyperfindQueries``); None when the answer is the list.
    list_key: t.ClassVar[str | None] = None

    def answers(self, context: Context | None) -> t.Iterator[t.Any]:
        yield self.call("GET", self.resource)

    def rows(self, answer: t.Any) -> t.Iterable[dict[str, t.Any]]:
        """The list's rows; an answer without the list (a gateway's page, a changed shape) is an error naming the
        stream and its path, not "no rows" (``listed_rows``); an empty list is no rows."""
        where = f"ukg_wfm stream {self.name!r} ({self.resource})"
        if self.list_key:
            rows = listed_rows(answer, self.list_key, where)
        elif type(answer) is list:
            rows = answer
        else:
            raise AnswerShapeError(
                f"{where}: the answer is {json_kind(answer)}, where the rows come as a list (an empty list when there "
                "are none); an answer in another shape is not read as no rows, so the stream stops here",
                path=self.resource,
            )
        for row in rows:
            yield self.flatten(row)

    def flatten(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        return {name: row.get(name) for name in self.schema["properties"]}


_NAMED = (("id", INT), ("name", S), ("description", S))


class PayCodesStream(SetupStream):
    name = "pay_codes"
    resource = "/api/v1/timekeeping/setup/pay_codes"
    primary_keys = ("name",)
    xlr8_entity = "earning"
    schema = _schema(*_NAMED, ("type", S), ("isVisibleInTimecard", B), ("isExcusedAbsence", B))


class AccrualCodesStream(SetupStream):
    name = "accrual_codes"
    resource = "/api/v1/timekeeping/setup/accrual_codes"
    primary_keys = ("name",)
    xlr8_entity = "accrual"
    schema = _schema(*_NAMED, ("unit", S))


class WorkRulesStream(SetupStream):
    name = "work_rules"
    resource = "/api/v1/timekeeping/setup/work_rules"
    primary_keys = ("name",)
    xlr8_entity = "work_rule"
    schema = _schema(*_NAMED)


class LaborCategoriesStream(SetupStream):
    name = "labor_categories"
    resource = "/api/v1/commons/labor_categories"
    primary_keys = ("name",)
    xlr8_entity = "labor_category"
    schema = _schema(*_NAMED)


class HyperfindsStream(SetupStream):
    name = "hyperfinds"
    resource = "/api/v1/commons/hyperfind/public"
    list_key = "hyperfindQueries"
    primary_keys = ("id",)
    xlr8_entity = "hyperfind"
    schema = _schema(*_NAMED, ("visibility", S))


class LocationsStream(SetupStream):
    """The business structure's nodes (company, country, location, department, job), one row per path."""

    name = "locations"
    resource = "/api/v1/commons/locations"
    primary_keys = ("path",)
    xlr8_entity = "organization"
    schema = _schema(
        ("nodeId", INT),
        ("name", S),
        ("description", S),
        ("nodeType", S),
        ("parentName", S),
        ("path", S),
        ("effectiveDate", D),
        ("expirationDate", D),
    )

    def flatten(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        return {
            "nodeId": row.get("nodeId"),
            "name": row.get("name"),
            "description": row.get("description"),
            "nodeType": ref(row.get("orgNodeTypeRef")),
            "parentName": ref(row.get("parentNodeRef")),
            "path": row.get("path"),
            "effectiveDate": as_date(row.get("effectiveDate")),
            "expirationDate": as_date(row.get("expirationDate")),
        }


STREAMS: tuple[type[UkgWfmStream], ...] = (
    PersonsStream,
    TimecardsStream,
    PunchesStream,
    SchedulesStream,
    AccrualsStream,
    PayCodesStream,
    AccrualCodesStream,
    WorkRulesStream,
    LocationsStream,
    LaborCategoriesStream,
    HyperfindsStream,
)
