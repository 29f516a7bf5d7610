"""Oracle HCM Cloud emulator (``/hcmRestApi``): workers (names, emails, workRelationships -> assignments), jobs,
locations, departments, grades, positions and absences of the one fictional company (the same people as UKG,
Workday and SuccessFactors: ``PersonNumber`` is the company's ``employee_id``), and the HCM Extracts flow.

HCM Extracts: ``POST .../flowActions`` submits a flow (``FlowName``, ``FlowInstanceName``); ``GET .../payrollFlows``
with ``q=FlowInstanceName='...'`` reports ``FlowStatus`` ``RUNNING`` (``job_running_polls`` times) then
``COMPLETED`` (or ``ERROR`` when ``fail_next_job`` is set); the output document is on the content server:
``GET /cs/idcplg?IdcService=GET_SEARCH_RESULTS&QueryText=dDocTitle <substring> `<instance>`&IsJson=1`` finds its
``dID`` and ``GET /cs/idcplg?IdcService=GET_FILE&dID=<id>`` returns the CSV.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from xlr8_sandbox.company import EPOCH, Employee
from xlr8_sandbox.products.oracle_fusion.framework import (
    END_OF_TIME,
    MAX_LIMIT,
    Attr,
    ChildDef,
    FusionEmulator,
    PolledJob,
    ResourceDef,
    Row,
    csv_chunks,
    items_response,
)
from xlr8_sandbox.products.oracle_fusion.query import AttrInfo, QueryError, parse_q

USERNAME = "xlr8.integration@acme.example"
PASSWORD = "sandbox-ohcm-password"  # emulator test credential, not a real secret
CLIENT_ID = "xlr8-ohcm-confidential-app"
CLIENT_SECRET = "sandbox-ohcm-client-secret"  # emulator test credential
WORKER_EXTRACT = "XLR8 Worker Extract"
EXTRACT_COLUMNS = (
    "PersonNumber",
    "FirstName",
    "LastName",
    "EmailAddress",
    "HireDate",
    "JobCode",
    "LocationCode",
    "AssignmentStatusType",
)
_ID = 300_000_000_000_000
_BASE_UPDATE = datetime(2018, 1, 1, tzinfo=UTC)
_STATUS = {"active": "ACTIVE", "leave": "SUSPENDED", "terminated": "INACTIVE"}
#: People the emulator keeps built (per sandbox time): a page's workers and their assignments' first version.
_EMPLOYEE_MEMO = 16_384
GRADES = [("G1", "Associate"), ("G2", "Professional"), ("G3", "Senior"), ("G4", "Lead"), ("G5", "Executive")]


def person_id(i: int) -> int:
    return _ID + i + 1


@functools.lru_cache(maxsize=16_384)
def stamp(moment: datetime) -> str:
    """Memoised: a worker's row, its children and the sort pass stamp the same few moments (~4 µs each)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def grade_of(e: Employee) -> str:
    return GRADES[min(int(e.annual_salary) // 50_000, len(GRADES) - 1)][0]


def _d(s: str, t: str = "string", q: bool = True) -> Attr:
    return Attr(s, t, q)


@dataclass(kw_only=True)
class ExtractRun(PolledJob):
    flow_name: str
    instance: str
    submitted: datetime
    doc_id: int


class OracleHcmEmulator(FusionEmulator[ExtractRun]):
    product_id = "oracle_hcm"
    title = "Oracle HCM Cloud (Fusion REST, HCM Extracts)"
    api = "hcmRestApi"
    username = USERNAME
    password = PASSWORD
    client_id = CLIENT_ID
    client_secret = CLIENT_SECRET

    #: Bench knob (issue 14 goal 5): every Nth worker (by index, from worker 0) has ``CUT_EMAILS`` emails, its
    #: primary work email first and home emails after it in key order, so under framework 3+ its expanded
    #: ``emails`` is cut at 25 (``hasMore``) and the tap reads it whole. 0 (the default): one email each, the served
    #: bytes of every request as before (the served-bytes golden).
    cut_children_every: int = 0
    CUT_EMAILS: ClassVar[int] = 30

    def __init__(self, ctx: Any) -> None:
        # Over more people than the memo holds, the sort pass reads their dates alone (``_worker_keys``): the memo
        # then serves within a page (a worker's row, children and first version), and a smaller one is a smaller
        # heap for the collector to walk.
        whole = ctx.company.scale <= _EMPLOYEE_MEMO
        self._employee = functools.lru_cache(maxsize=_EMPLOYEE_MEMO if whole else 2 * MAX_LIMIT)(self._employee_at)
        super().__init__(ctx)

    def set_cut_children_every(self, every: int) -> None:
        """The bench knob ``cut_children_every``, with the pages rendered before it forgotten (a new data version)."""
        with self._lock:
            self.cut_children_every = every
            self._index_cache.clear()
            self._changes += 1

    def reset(self) -> None:
        """Also forgets the employee memo: it is keyed on sandbox time alone, and back at the same moment after a
        reset other hires hold the same indices (review21a: stale people, sorted by one date, served with another)."""
        self._employee.cache_clear()
        self.cut_children_every = 0
        super().reset()

    # --- data ---------------------------------------------------------------------------------------------

    def _employee_at(self, i: int, now: datetime) -> Employee:
        return self.company.employee(i, now)

    def employee(self, i: int) -> Employee:
        return self._employee(i, self.ctx.clock.now())

    def _worker(self, i: int) -> Row:
        e = self.employee(i)
        return {
            "__e": e,
            "PersonId": person_id(i),
            "PersonNumber": e.employee_id,
            "DateOfBirth": e.birth_date.isoformat(),
            "CorrespondenceLanguage": None,
            "CreatedBy": "HCM_IMPL",
            "CreationDate": stamp(min(datetime.combine(e.hire_date, time(9), UTC), e.last_modified)),
            "LastUpdatedBy": "HCM_IMPL",
            "LastUpdateDate": stamp(e.last_modified),
        }

    def _worker_keys(self, i: int) -> Row:
        """The sort pass's partial worker row (``_worker``'s values). While the memo holds every person, the
        employee is built once, for both passes; over more people than it holds, a pass evicts what it builds
        before a page reads it, so the date comes from the employee's first draws alone."""
        if self.company.scale <= _EMPLOYEE_MEMO:
            modified = self.employee(i).last_modified
        else:
            modified = self.company.employee_last_modified(i, self.ctx.clock.now())
        return {"PersonId": person_id(i), "LastUpdateDate": stamp(modified)}

    def _names(self, worker: Row) -> list[Row]:
        e: Employee = worker["__e"]
        return [
            {
                "PersonNameId": _ID + 10_000_000_000 + e.index + 1,
                "NameType": "GLOBAL",
                "LegislationCode": "CA" if e.currency == "CAD" else "US",
                "FirstName": e.first_name,
                "LastName": e.last_name,
                "DisplayName": f"{e.first_name} {e.last_name}",
                "LastUpdateDate": worker["LastUpdateDate"],
            }
        ]

    def _emails(self, worker: Row) -> list[Row]:
        e: Employee = worker["__e"]
        rows = [
            {
                "EmailAddressId": _ID + 20_000_000_000 + e.index + 1,
                "EmailType": "W1",
                "EmailAddress": e.email,
                "PrimaryFlag": True,
                "LastUpdateDate": worker["LastUpdateDate"],
            }
        ]
        every = self.cut_children_every
        if every and e.index % every == 0:
            rows.extend(
                {
                    "EmailAddressId": _ID + 80_000_000_000 + e.index * 100 + k,
                    "EmailType": "H1",
                    "EmailAddress": f"home{k}.{e.email}",
                    "PrimaryFlag": False,
                    "LastUpdateDate": worker["LastUpdateDate"],
                }
                for k in range(1, self.CUT_EMAILS)
            )
        return rows

    def _relationships(self, worker: Row) -> list[Row]:
        e: Employee = worker["__e"]
        return [
            {
                "__e": e,
                "PeriodOfServiceId": _ID + 30_000_000_000 + e.index + 1,
                "LegalEntityId": _ID + 40_000_000_000 + int(e.company_code[1:]),
                "LegalEmployerName": self.company.legal_entity_by_code[e.company_code].name,
                "WorkerType": "E",
                "StartDate": e.hire_date.isoformat(),
                "TerminationDate": e.termination_date.isoformat() if e.termination_date else None,
                "PrimaryFlag": True,
                "LastUpdateDate": worker["LastUpdateDate"],
            }
        ]

    def _assignments(self, relationship: Row) -> list[Row]:
        """Effective-dated: a second row from the day the job last changed in sandbox time."""
        e: Employee = relationship["__e"]
        try:
            first = self._employee(e.index, EPOCH)  # the cached version: at EPOCH it is often ``e`` itself
        except IndexError:  # hired in sandbox time: one version so far
            first = e
        departments = self._department_names

        def row(version: Employee, start: date, end: date, action: str) -> Row:
            return {
                "AssignmentId": _ID + 50_000_000_000 + e.index + 1,
                "AssignmentNumber": f"E{version.employee_id}",
                "EffectiveStartDate": start.isoformat(),
                "EffectiveEndDate": end.isoformat(),
                "ActionCode": action,
                "AssignmentStatusType": _STATUS[e.status],
                "JobCode": version.job_code,
                "DepartmentName": departments[version.department_code],
                "LocationCode": version.location_code,
                "GradeCode": grade_of(version),
                "PositionCode": f"{version.job_code}-{version.department_code}",
                "ManagerPersonNumber": version.manager_id,
                "FullPartTime": "FULL_TIME" if version.full_time else "PART_TIME",
                "PrimaryFlag": True,
                "LastUpdateDate": stamp(e.last_modified),
            }

        if first.job_code == e.job_code:
            return [row(e, e.hire_date, END_OF_TIME, "HIRE")]
        changed = e.last_modified.date()
        return [
            row(first, e.hire_date, changed - timedelta(days=1), "HIRE"),
            row(e, changed, END_OF_TIME, "JOB_CHANGE"),
        ]

    def _absence(self, j: int) -> Row:
        e = self.employee(2 * j)
        digest, start = _absence_start(j)
        days = 1 + digest % 5
        return {
            "PersonAbsenceEntryId": _ID + 60_000_000_000 + j + 1,
            "PersonNumber": e.employee_id,
            "AbsenceType": "Vacation" if digest % 3 else "Sick Leave",
            "StartDate": start.isoformat(),
            "EndDate": (start + timedelta(days=days - 1)).isoformat(),
            "Duration": days,
            "AbsenceStatusCd": "SUBMITTED",
            "ApprovalStatusCd": "APPROVED",
            "LastUpdateDate": stamp(datetime.combine(start, time(12), UTC)),
        }

    @staticmethod
    def _absence_keys(j: int) -> Row:
        """The sort pass's partial absence row (``_absence``'s values), without building the employee."""
        start = _absence_start(j)[1]
        return {"PersonAbsenceEntryId": _ID + 60_000_000_000 + j + 1,
                "LastUpdateDate": stamp(datetime.combine(start, time(12), UTC))}  # fmt: skip

    def build_resources(self) -> dict[str, ResourceDef]:
        c = self.company
        #: Department code -> name, for every assignment row (built per row it cost ~1 µs a worker).
        self._department_names = {d.code: d.name for d in c.departments}
        dated = [Attr("EffectiveStartDate", "date"), Attr("EffectiveEndDate", "date")]
        stamp_attrs = [Attr("CreationDate", "datetime"), Attr("LastUpdateDate", "datetime")]
        base_stamp = stamp(_BASE_UPDATE)

        def code_table(name: str, key: str, rows: list[Row], attrs: list[Attr]) -> ResourceDef:
            return ResourceDef(
                name=name,
                attrs=[Attr(key, "integer"), *attrs, *dated, *stamp_attrs],
                keys=(key,),
                count=lambda: len(rows),
                row=lambda i: {
                    **rows[i],
                    key: _ID + 70_000_000_000 + hash_name(name) * 1000 + i + 1,
                    "EffectiveStartDate": "2015-01-01",
                    "EffectiveEndDate": END_OF_TIME.isoformat(),
                    "CreationDate": base_stamp,
                    "LastUpdateDate": base_stamp,
                },
            )

        assignments = ChildDef(
            "assignments",
            [
                Attr("AssignmentId", "integer"),
                _d("AssignmentNumber"),
                *dated,
                _d("ActionCode"),
                _d("AssignmentStatusType"),
                _d("JobCode"),
                _d("DepartmentName"),
                _d("LocationCode"),
                _d("GradeCode"),
                _d("PositionCode"),
                _d("ManagerPersonNumber"),
                _d("FullPartTime"),
                Attr("PrimaryFlag", "boolean"),
                Attr("LastUpdateDate", "datetime"),
            ],
            ("AssignmentId",),
            self._assignments,
        )
        workers = ResourceDef(
            name="workers",
            attrs=[
                Attr("PersonId", "integer"),
                _d("PersonNumber"),
                Attr("DateOfBirth", "date"),
                _d("CorrespondenceLanguage"),
                _d("CreatedBy"),
                Attr("CreationDate", "datetime"),
                _d("LastUpdatedBy"),
                Attr("LastUpdateDate", "datetime"),
            ],
            keys=("PersonId",),
            hashed_id=True,  # Oracle: workersUniqID
            count=lambda: c.employee_count(),
            row=self._worker,
            sort_row=self._worker_keys,
            sort_attrs=("PersonId", "LastUpdateDate"),
            finders={"findByPersonNumber": ("PersonNumber",)},
            children={
                "names": ChildDef(
                    "names",
                    [
                        Attr("PersonNameId", "integer"),
                        _d("NameType"),
                        _d("LegislationCode"),
                        _d("FirstName"),
                        _d("LastName"),
                        _d("DisplayName"),
                        Attr("LastUpdateDate", "datetime"),
                    ],
                    ("PersonNameId",),
                    self._names,
                ),
                "emails": ChildDef(
                    "emails",
                    [
                        Attr("EmailAddressId", "integer"),
                        _d("EmailType"),
                        _d("EmailAddress"),
                        Attr("PrimaryFlag", "boolean"),
                        Attr("LastUpdateDate", "datetime"),
                    ],
                    ("EmailAddressId",),
                    self._emails,
                ),
                "workRelationships": ChildDef(
                    "workRelationships",
                    [
                        Attr("PeriodOfServiceId", "integer"),
                        Attr("LegalEntityId", "integer"),
                        _d("LegalEmployerName"),
                        _d("WorkerType"),
                        Attr("StartDate", "date"),
                        Attr("TerminationDate", "date"),
                        Attr("PrimaryFlag", "boolean"),
                        Attr("LastUpdateDate", "datetime"),
                    ],
                    ("PeriodOfServiceId",),
                    self._relationships,
                    children={"assignments": assignments},
                ),
            },
        )
        jobs = [{"JobCode": j.code, "Name": j.name, "ActiveStatus": "A"} for j in c.jobs]
        locations = [
            {"LocationCode": loc.code, "LocationName": loc.name, "TownOrCity": loc.name, "Country": loc.parent,
             "ActiveStatus": "A"}
            for loc in c.locations
        ]  # fmt: skip
        departments = [{"DepartmentCode": d.code, "Name": d.name, "ActiveStatus": "A"} for d in c.departments]
        grades = [{"GradeCode": code, "GradeName": name, "SetCode": "COMMON"} for code, name in GRADES]
        positions = [
            {"PositionCode": f"{j.code}-{d.code}", "Name": f"{j.name}, {d.name}", "JobCode": j.code,
             "DepartmentName": d.name, "ActiveStatus": "A", "FTE": 1.0}
            for d in c.departments
            for j in c.jobs
        ]  # fmt: skip
        s = _d
        return {
            "workers": workers,
            "jobs": code_table("jobs", "JobId", jobs, [s("JobCode"), s("Name"), s("ActiveStatus")]),
            "locations": code_table(
                "locations",
                "LocationId",
                locations,
                [s("LocationCode"), s("LocationName"), s("TownOrCity"), s("Country"), s("ActiveStatus")],
            ),
            "departments": code_table(
                "departments", "OrganizationId", departments, [s("DepartmentCode"), s("Name"), s("ActiveStatus")]
            ),
            "grades": code_table("grades", "GradeId", grades, [s("GradeCode"), s("GradeName"), s("SetCode")]),
            "positions": code_table(
                "positions",
                "PositionId",
                positions,
                [
                    s("PositionCode"),
                    s("Name"),
                    s("JobCode"),
                    s("DepartmentName"),
                    s("ActiveStatus"),
                    Attr("FTE", "number"),
                ],
            ),
            "absences": ResourceDef(
                name="absences",
                attrs=[
                    Attr("PersonAbsenceEntryId", "integer"),
                    s("PersonNumber"),
                    s("AbsenceType"),
                    Attr("StartDate", "date"),
                    Attr("EndDate", "date"),
                    Attr("Duration", "number"),
                    s("AbsenceStatusCd"),
                    s("ApprovalStatusCd"),
                    Attr("LastUpdateDate", "datetime"),
                ],
                keys=("PersonAbsenceEntryId",),
                count=lambda: c.employee_count() // 2,
                row=self._absence,
                sort_row=self._absence_keys,
                sort_attrs=("PersonAbsenceEntryId", "LastUpdateDate"),
            ),
        }

    # --- HCM Extracts -------------------------------------------------------------------------------------

    def extra_routes(self) -> list[BaseRoute]:
        base = f"/{self.api}/resources/{{version}}"
        return [
            Route(f"{base}/flowActions", self._submit_flow, methods=["POST"]),
            Route(f"{base}/payrollFlows", self._payroll_flows, methods=["GET"]),
            Route("/cs/idcplg", self._content_server, methods=["GET"]),
        ]

    async def _submit_flow(self, request: Request) -> Response:
        body, refused = await self._json_body(request)
        if refused is not None:
            return refused
        flow, instance = body.get("FlowName"), body.get("FlowInstanceName")
        if not instance:
            return self._error(request, "The attribute FlowInstanceName is required.")
        if flow != WORKER_EXTRACT:
            return self._error(request, f"The flow {flow} is not found. Check the attribute FlowName.")
        with self.jobs_lock:
            if instance in self.jobs:
                return self._error(request, f"The flow instance name {instance} is already used.")
            run = ExtractRun(
                flow_name=flow,
                instance=instance,
                submitted=self.ctx.clock.now(),
                doc_id=1000 + len(self.jobs) + 1,
                **self._job_switches(),
            )
            self.jobs[instance] = run
        return JSONResponse(
            {"FlowName": flow, "FlowInstanceName": instance, "FlowActionId": run.doc_id, "FlowStatus": run.status},
            status_code=201,
        )

    def _flow_row(self, run: ExtractRun) -> Row:
        return {
            "FlowInstanceName": run.instance,
            "FlowName": run.flow_name,
            "FlowStatus": run.status,
            "SubmissionDate": stamp(run.submitted),
            "FlowErrorMessage": run.fail if run.status == "ERROR" else None,
        }

    async def _payroll_flows(self, request: Request) -> Response:
        """Each read of a running flow is one poll: ``job_running_polls`` RUNNING answers, then done."""
        if (refused := self._guard(request)) is not None:
            return refused
        attrs = {n: AttrInfo("datetime" if n == "SubmissionDate" else "string") for n in
                 ("FlowInstanceName", "FlowName", "FlowStatus", "SubmissionDate", "FlowErrorMessage")}  # fmt: skip
        try:
            match = parse_q(request.query_params.get("q") or "FlowName IS NOT NULL", attrs, 2)
        except QueryError as exc:
            return self._error(request, str(exc))
        items = []
        with self.jobs_lock:
            for run in self.jobs.values():
                if not match(self._flow_row(run)):
                    continue
                run.observe("COMPLETED")
                items.append(self._flow_row(run))
        return items_response(items)

    async def _content_server(self, request: Request) -> Response:
        if not self._authorized(request):
            return Response(status_code=401)
        service = request.query_params.get("IdcService")
        with self.jobs_lock:
            done = [r for r in self.jobs.values() if r.status == "COMPLETED"]
        if service == "GET_SEARCH_RESULTS":
            text = request.query_params.get("QueryText", "")
            rows = [[r.doc_id, f"UCMFA{r.doc_id:08d}", r.instance, f"{r.instance}.csv"] for r in done
                    if f"`{r.instance}`" in text]  # fmt: skip
            fields = [{"name": n} for n in ("dID", "dDocName", "dDocTitle", "dOriginalName")]
            return JSONResponse(
                {"LocalData": {"StatusCode": "0", "TotalRows": str(len(rows))},
                 "ResultSets": {"SearchResults": {"fields": fields, "rows": rows}}}
            )  # fmt: skip
        if service == "GET_FILE":
            wanted = request.query_params.get("dID")
            run = next((r for r in done if str(r.doc_id) == wanted), None)
            if run is None:
                return JSONResponse({"LocalData": {"StatusCode": "-16", "StatusMessage": f"dID {wanted} not found"}},
                                    status_code=404)  # fmt: skip
            return StreamingResponse(
                self._extract_csv(run.submitted),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="{run.instance}.csv"'},
            )
        return JSONResponse({"LocalData": {"StatusCode": "-1", "StatusMessage": f"Unknown service {service}"}}, 400)

    def _extract_csv(self, as_of: datetime) -> Iterator[bytes]:
        employees = (self.company.employee(i, as_of) for i in range(self.company.employee_count(as_of)))
        rows = ([e.employee_id, e.first_name, e.last_name, e.email, e.hire_date.isoformat(), e.job_code,
                 e.location_code, _STATUS[e.status]] for e in employees)  # fmt: skip
        for chunk in csv_chunks(EXTRACT_COLUMNS, rows):
            yield chunk.encode()


def _absence_start(j: int) -> tuple[int, date]:
    """Absence ``j``'s digest and first day."""
    digest = int.from_bytes(hashlib.blake2b(f"absence:{j}".encode(), digest_size=4).digest())
    return digest, date(2025, 1, 1) + timedelta(days=digest % 360)


def hash_name(name: str) -> int:
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=2).digest()) % 1000
