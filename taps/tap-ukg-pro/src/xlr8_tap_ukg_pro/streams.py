"""UKG Pro REST streams: pure declarations (resource, keys, columns as the real API names them, annotations).

Personnel resources are Reality, code tables and configuration resources are Configuration. ``employee_changes``
is the incremental feed: it reads ``/personnel/v1/employee-changes`` in ``startDate``/``endDate`` windows from the
bookmark to ``end_date`` (default now) and stamps each row with its window's end, the stream's bookmark. The
bookmark moves to a window's end (an empty window's too) only once that window's last page is in (a run that
fails inside a window resumes at its start): the rows' window end is a progress marker until then. The window
being read is kept in the STATE too (``xlr8_window``), and a resumed run reads it again to that same end, so the
rows it lands again keep their key and are upserted (the last window ends at now less the lag, which moves between
runs).
"""

from __future__ import annotations

import typing as t
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from singer_sdk.helpers._state import PROGRESS_MARKERS

from xlr8_tap_ukg_pro.client import EmployeeFilterMixin, UkgRestStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

_EMPLOYEE_REFS = {"companyID": "company"}
#: ``employee_changes``' state key for the window being read (``start``, ``end``), set before its first request and
#: dropped once it is all read: a resumed run reads that window again to the same end (``_held_window``).
WINDOW_KEY = "xlr8_window"


class PersonDetailsStream(UkgRestStream):
    name = "person_details"
    path = "/personnel/v1/person-details"
    primary_keys = ("employeeID",)
    xlr8_entity = "employee"
    xlr8_references = _EMPLOYEE_REFS
    columns = {"employeeID": "s", "companyID": "s", "personID": "s", "firstName": "s", "lastName": "s",
               "middleName": "s", "preferredName": "s", "emailAddress": "s", "dateOfBirth": "d",
               "addressCountry": "s", "dateTimeChanged": "dt"}  # fmt: skip


class EmploymentDetailsStream(EmployeeFilterMixin, UkgRestStream):
    name = "employment_details"
    path = "/personnel/v1/employment-details"
    #: Per employment: an employee transferred between companies has a row in each (audit24b H3).
    primary_keys = ("employeeID", "companyID")
    xlr8_entity = "employee"
    xlr8_references = {**_EMPLOYEE_REFS, "primaryJobCode": "job", "orgLevel1Code": "department",
                       "primaryWorkLocationCode": "location", "orgLevel2Code": "cost_center"}  # fmt: skip
    columns = {"employeeID": "s", "companyID": "s", "companyCode": "s", "employeeNumber": "s",
               "employeeStatusCode": "s", "primaryJobCode": "s", "jobTitle": "s", "orgLevel1Code": "s",
               "orgLevel2Code": "s", "primaryWorkLocationCode": "s", "payGroupCode": "s",
               "fullTimeOrPartTimeCode": "s", "originalHireDate": "d", "lastHireDate": "d", "dateOfTermination": "d",
               "supervisorID": "s", "dateTimeChanged": "dt"}  # fmt: skip

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        params = super().get_url_params(context, next_page_token)
        statuses = self.settings.employee_status_codes
        if len(statuses) == 1:  # a list (A,L) is not documented to work: several are checked per row only
            params["employeeStatusCode"] = statuses[0]
        return params

    def row_kept(self, row: dict[str, t.Any]) -> bool:
        return self.keep(row)


class CompensationDetailsStream(UkgRestStream):
    name = "compensation_details"
    path = "/personnel/v1/compensation-details"
    primary_keys = ("employeeID", "companyID")  # per employment, as employment_details
    xlr8_entity = "compensation"
    xlr8_references = {**_EMPLOYEE_REFS, "employeeID": "employee", "primaryJobCode": "job"}
    columns = {"employeeID": "s", "companyID": "s", "annualSalary": "n", "hourlyPayRate": "n",
               "payPeriodPayRate": "n", "currencyCode": "s", "payGroupCode": "s", "salaryOrHourlyCode": "s",
               "fullTimeOrPartTimeCode": "s", "primaryJobCode": "s", "jobTitle": "s",
               "dateOfLastPayRateChange": "d", "dateTimeChanged": "dt"}  # fmt: skip


class JobHistoryStream(UkgRestStream):
    name = "employee_job_history"
    path = "/personnel/v1/employee-job-history-details"
    primary_keys = ("systemID",)
    xlr8_entity = "employee"
    xlr8_references = {**_EMPLOYEE_REFS, "jobCode": "job", "orgLevel1Code": "department"}
    columns = {"systemID": "s", "employeeID": "s", "companyID": "s", "jobEffectiveDate": "d", "jobCode": "s",
               "jobTitle": "s", "orgLevel1Code": "s", "reasonCode": "s", "isRateChange": "b",
               "annualSalary": "n"}  # fmt: skip


class EmployeeChangesStream(EmployeeFilterMixin, UkgRestStream):
    name = "employee_changes"
    path = "/personnel/v1/employee-changes"
    primary_keys = ("employeeId", "changeWindowEnd")
    replication_key = "changeWindowEnd"
    #: Unsorted for the SDK, so a STATE written inside a window keeps the bookmark at the last whole window
    #: (``_window_read``): every row of a window carries the window's end before its last page is read.
    is_sorted = False
    status_column = "employeeStatus"
    termination_column = "terminationDate"
    xlr8_entity = "employee"
    xlr8_references = {"companyId": "company", "jobCode": "job", "orgLevel1Code": "department",
                       "workLocation": "location", "orgLevel2Code": "cost_center"}  # fmt: skip
    columns = {"employeeId": "s", "personId": "s", "companyId": "s", "employeeNumber": "s", "firstName": "s",
               "lastName": "s", "emailAddress": "s", "employeeStatus": "s", "isActive": "b", "jobCode": "s",
               "orgLevel1Code": "s", "orgLevel2Code": "s", "workLocation": "s", "supervisorId": "s",
               "fullTimeOrPartTime": "s", "hireDate": "d", "terminationDate": "d", "dateTimeChanged": "dt",
               "changeWindowEnd": "dt"}  # fmt: skip

    _window: tuple[datetime, datetime] | None = None

    def windows(self, context: Context | None) -> list[tuple[datetime, datetime]]:
        """``[start, end)`` windows of ``employee_changes_window_days`` from the bookmark to ``end_date``, never
        past now less ``employee_changes_lag_hours``: UKG's change feed is batched, so a change stamped just before
        now may enter it after this run, before the next run's start (the bookmark), and be lost (audit24b M5)."""
        settings = self.settings
        latest = datetime.now(UTC) - settings.employee_changes_lag
        end = min(settings.end_date, latest) if settings.end_date else latest
        start = self.get_starting_timestamp(context) or end - timedelta(days=settings.employee_changes_window_days)
        start = start if start.tzinfo else start.replace(tzinfo=UTC)
        step = timedelta(days=settings.employee_changes_window_days)
        spans = []
        held = self._held_window(context, start)
        if held is not None:  # a window a failed run left part-read: read again to the same end (same row keys),
            while start < held[0]:  # after the windows before it, which an empty window left behind the bookmark
                spans.append((start, min(start + step, held[0])))
                start += step
            spans.append(held)
            start = held[1]
        while start < end:
            spans.append((start, min(start + step, end)))
            start += step
        return spans

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        params = super().get_url_params(context, next_page_token)
        if self._window is None:
            raise RuntimeError("employee_changes: a window must be chosen before requesting a page")
        params["startDate"] = _stamp(self._window[0])
        params["endDate"] = _stamp(self._window[1])
        return params

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        batch = self.get_batch_config(self.config) is not None
        for index, window in enumerate(self.windows(context)):
            self._window = window
            self._window_started(context, window, say=index == 0 or not batch)
            rows = 0
            for row in self.request_records(context):
                rows += 1
                kept = self.post_process(row, context) if self.keep(row) else None
                if kept is not None:
                    number = kept.get("employeeNumber")
                    if number is not None and type(number) is not str:
                        kept["employeeNumber"] = _number_text(number)
                    kept["changeWindowEnd"] = window[1].isoformat()
                    yield kept
            self._window_read(context, window, empty=rows == 0)
        self._window = None

    def _window_started(self, context: Context | None, window: tuple[datetime, datetime], *, say: bool) -> None:
        """Keep ``window`` in the state and, when ``say``, write a STATE now, before its first request: a run that
        fails before any later STATE still leaves the window's end for the resumed run (a RECORD run writes its
        next STATE only after 10,000 rows). Only where nothing unlanded is behind the bookmark: the first window,
        or in RECORD mode every window (the previous window's rows were all written before); in BATCH mode a
        later window's STATE would pass rows still in an unnamed file."""
        self.get_context_state(context)[WINDOW_KEY] = {"start": window[0].isoformat(), "end": window[1].isoformat()}
        if say:
            self.state_manager.is_flushed = False
            self._write_state_message()

    def _held_window(self, context: Context | None, start: datetime) -> tuple[datetime, datetime] | None:
        """The window the STATE says was being read (``WINDOW_KEY``), when it starts at or after ``start`` (the
        windows before it are read first: empty windows leave the bookmark behind): its rows already landed carry
        its end in their key, and the last window's end (now less the lag) moves between runs: read to another end,
        they would land twice. ``start`` is the bookmark, or ``start_date`` where there is none: a held window
        before it is stale (review24g #4). Only without both, where the first start moves with now, is it taken
        wherever it starts."""
        state = self.get_context_state(context)
        held = state.get(WINDOW_KEY)
        if not isinstance(held, dict) or held.get("start") is None:  # none, or cleared (``_window_read``)
            return None
        try:
            held_start = datetime.fromisoformat(str(held["start"]))
            held_end = datetime.fromisoformat(str(held["end"]))
        except (KeyError, ValueError):
            self.logger.warning("%s: ignoring a malformed %s in the state: %r", self.name, WINDOW_KEY, held)
            return None
        if held_start.tzinfo is None or held_end.tzinfo is None or held_end <= held_start:
            return None
        if held_start < start and ("replication_key_value" in state or self.settings.start_date is not None):
            self.logger.info("%s: ignoring the %s %r of the state: the read starts at %s", self.name, WINDOW_KEY,
                             held, start.isoformat())  # fmt: skip
            return None
        return held_start, held_end

    def _window_read(self, context: Context | None, window: tuple[datetime, datetime], *, empty: bool) -> None:
        """The window's last page is in and its rows went out: the bookmark moves to its end (the progress marker
        its rows left), so a later STATE lets a resumed run start after it. An empty window leaves the bookmark
        where it was: UKG's feed is batched, and a change reaching it later than the lag is still read by the next
        run (review24i #1); a resumed run then reads the windows before a held one first (``windows``). The held
        window is cleared with nulls (Meltano's merge keeps a removed key). The markers stay, emptied, so the next
        window's rows move them again without the SDK's "not resumable" warning per window."""
        state = self.get_context_state(context)
        state[WINDOW_KEY] = {"start": None, "end": None}
        if empty:
            return
        markers = state.get(PROGRESS_MARKERS)
        if markers:
            markers.pop("replication_key", None)
            markers.pop("replication_key_value", None)
        state["replication_key"] = self.replication_key
        state["replication_key_value"] = window[1].isoformat()  # the rows' changeWindowEnd


class DemographicsStream(UkgRestStream):
    name = "employee_demographics"
    path = "/personnel/v1/employee-demographic-details"
    primary_keys = ("employeeID",)
    xlr8_entity = "employee"
    columns = {"employeeID": "s", "companyID": "s", "gender": "s", "maritalStatusCode": "s", "dateOfBirth": "d",
               "isDisabled": "b", "isVeteran": "b"}  # fmt: skip


class EducationStream(UkgRestStream):
    name = "employee_education"
    path = "/personnel/v1/employee-education"
    primary_keys = ("educationID",)
    xlr8_entity = "employee"
    columns = {"educationID": "s", "employeeID": "s", "companyID": "s", "schoolCode": "s", "schoolName": "s",
               "degreeCode": "s", "degreeDescription": "s", "graduationDate": "d"}  # fmt: skip


class ContactsStream(UkgRestStream):
    name = "employee_contacts"
    path = "/personnel/v1/contacts"
    primary_keys = ("contactId",)
    xlr8_entity = "employee"
    columns = {"contactId": "s", "employeeId": "s", "companyId": "s", "firstName": "s", "lastName": "s",
               "relationship": "s", "isEmergencyContact": "b", "homePhone": "s"}  # fmt: skip


class PtoPlansStream(UkgRestStream):
    name = "pto_plans"
    path = "/personnel/v1/pto-plans"
    primary_keys = ("employeeID", "companyID", "ptoPlan")  # plans are per company
    xlr8_entity = "accrual"
    columns = {"employeeID": "s", "companyID": "s", "ptoPlan": "s", "ptoPlanDescription": "s", "earned": "n",
               "taken": "n", "available": "n", "asOfDate": "d"}  # fmt: skip


# --- Configuration ---------------------------------------------------------------------------------------------


class ConfigurationStream(UkgRestStream):
    xlr8_truth_type = "configuration"


class CodeTablesStream(ConfigurationStream):
    """The tenant's code tables; each one's values come from the child stream."""

    name = "code_tables"
    path = "/configuration/v1/code-tables"
    primary_keys = ("codeTable",)
    xlr8_entity = "code_table"
    columns = {"codeTable": "s", "description": "s"}

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        return {"codeTable": record["codeTable"]}


class CodeTableValuesStream(ConfigurationStream):
    name = "code_table_values"
    path = "/configuration/v1/code-tables/{codeTable}"
    parent_stream_type = CodeTablesStream
    primary_keys = ("codeTable", "code")
    xlr8_entity = "code_value"
    columns = {"codeTable": "s", "code": "s", "description": "s", "isActive": "b"}

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        return super().post_process({**row, "codeTable": (context or {}).get("codeTable")}, context)


class JobsStream(ConfigurationStream):
    name = "jobs"
    path = "/configuration/v1/jobs"
    primary_keys = ("jobCode",)
    xlr8_entity = "job"
    columns = {"jobCode": "s", "description": "s", "jobFamilyCode": "s", "flsaType": "s", "isActive": "b"}


class OrgLevelsStream(ConfigurationStream):
    name = "org_levels"
    path = "/configuration/v1/org-levels"
    primary_keys = ("level", "code")
    xlr8_entity = "department"
    columns = {"level": "i", "code": "s", "description": "s", "isActive": "b"}


class LocationsStream(ConfigurationStream):
    name = "locations"
    path = "/configuration/v1/locations"
    primary_keys = ("locationCode",)
    xlr8_entity = "location"
    columns = {"locationCode": "s", "description": "s", "countryCode": "s", "isActive": "b"}


class CompaniesStream(ConfigurationStream):
    name = "companies"
    path = "/configuration/v1/company-details"
    primary_keys = ("companyID",)
    xlr8_entity = "company"
    columns = {"companyID": "s", "companyCode": "s", "companyName": "s", "countryCode": "s"}


class PayGroupPeriodsStream(ConfigurationStream):
    name = "pay_group_pay_periods"
    path = "/configuration/v1/pay-group-pay-period"
    primary_keys = ("payGroupCode", "periodControl")
    xlr8_entity = "pay_group"
    columns = {"payGroupCode": "s", "periodControl": "s", "payPeriodStartDate": "d", "payPeriodEndDate": "d",
               "payDate": "d"}  # fmt: skip


class EarningsStream(ConfigurationStream):
    name = "earnings"
    path = "/configuration/v1/earnings"
    primary_keys = ("earningCode",)
    xlr8_entity = "earning"
    columns = {"earningCode": "s", "description": "s", "earningType": "s", "isActive": "b"}


class DeductionsStream(ConfigurationStream):
    name = "deductions"
    path = "/configuration/v1/deductions"
    primary_keys = ("deductionCode",)
    xlr8_entity = "deduction"
    columns = {"deductionCode": "s", "description": "s", "deductionType": "s", "isActive": "b"}


class PositionsStream(ConfigurationStream):
    name = "positions"
    path = "/configuration/v1/positions"
    primary_keys = ("positionCode",)
    xlr8_entity = "position"
    xlr8_references = {"jobCode": "job", "orgLevel1Code": "department"}
    columns = {"positionCode": "s", "description": "s", "jobCode": "s", "orgLevel1Code": "s", "isActive": "b"}


class ShiftCodesStream(ConfigurationStream):
    name = "shift_codes"
    path = "/configuration/v1/shift-codes"
    primary_keys = ("shiftCode",)
    xlr8_entity = "shift_code"
    columns = {"shiftCode": "s", "description": "s", "startTime": "s", "endTime": "s"}


class TaxGroupsStream(ConfigurationStream):
    name = "tax_groups"
    path = "/configuration/v1/tax-groups"
    primary_keys = ("taxGroupCode",)
    xlr8_entity = "tax_group"
    columns = {"taxGroupCode": "s", "description": "s", "countryCode": "s"}


REST_STREAMS: tuple[type[UkgRestStream], ...] = (
    PersonDetailsStream, EmploymentDetailsStream, CompensationDetailsStream, JobHistoryStream, EmployeeChangesStream,
    DemographicsStream, EducationStream, ContactsStream, PtoPlansStream, CodeTablesStream, CodeTableValuesStream,
    JobsStream, OrgLevelsStream, LocationsStream, CompaniesStream, PayGroupPeriodsStream, EarningsStream,
    DeductionsStream, PositionsStream, ShiftCodesStream, TaxGroupsStream,
)  # fmt: skip


def _number_text(value: t.Any) -> t.Any:
    """``employeeNumber`` as text: UKG's change feed model types it as a number (Double), the other resources as
    text; the column stays text (a strict target refuses a number there), a whole number without ``.0``."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return value  # not a number: conformance judges it as it is
    if isinstance(value, int):
        return str(value)
    try:
        return str(int(value)) if value == int(value) else str(value)
    except (ValueError, OverflowError):  # NaN, Infinity: as they are, conformance refuses them
        return value


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
