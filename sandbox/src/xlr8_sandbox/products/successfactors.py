"""SAP SuccessFactors emulator: the OData v2 API at ``/odata/v2`` and the SAML bearer token endpoint.

The same people as every other HR emulator (``userId`` = ``employee_id``, ``personIdExternal`` = ``person_id``).
Effective-dated sets (EmpJob, PerPersonal, FO objects) return the row valid today (sandbox clock) unless the
request gives ``asOfDate`` or ``fromDate``/``toDate``. EmpJob has two rows per employee: the hire row and a later
job change, so history and current views differ.

Without ``$orderby`` rows come in internal order, and rows inserted at run time (``insert_records``) come first:
the worst case for offset paging, which ``paging=snapshot`` avoids.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLVerifier
from signxml.exceptions import SignXMLException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from xlr8_kit.read_start import aware_instant
from xlr8_sandbox.company import Employee
from xlr8_sandbox.platform.clock import EPOCH
from xlr8_sandbox.platform.emulator import FaultResponse, ProductEmulator, SandboxContext
from xlr8_sandbox.platform.rowcache import RowCache, json_bytes
from xlr8_sandbox.products.successfactors_odata import (
    END_OF_TIME,
    MAX_PAGE_SIZE,
    EntityDef,
    ExpandTree,
    Nav,
    ODataRequestError,
    Prop,
    SnapshotStore,
    build_edmx,
    decode_skiptoken,
    encode_skiptoken,
    filter_names,
    names_every_value,
    next_url,
    parse_filter,
    parse_key,
    parse_orderby,
    serialize,
    serialize_bytes,
    sort_rows,
)

SAML2_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:saml2-bearer"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
AUDIENCE = "www.successfactors.com"
COMPANY_ID = "ACMEDEV"
API_USER = "sfapi"
API_PASSWORD = "sandbox-sf-password"  # emulator test credential, not a real secret
CLIENT_ID = "YWNtZS1zYW5kYm94LWFwaS1rZXk"
TOKEN_TTL = 86399.0
_BEGINNING = datetime(1900, 1, 1, tzinfo=UTC)
#: User ``status`` codes a filter may use for the stored status texts (KBA 2736579).
USER_STATUS_CODES = {
    "t": "active", "f": "inactive", "T": "active_external", "F": "inactive_external",
    "e": "active_external_suite", "d": "inactive_external_suite",
}  # fmt: skip
_REFERENCE_DAY = EPOCH.date()


def _day(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _effective(field: str = "startDate", end: str = "endDate") -> list[Prop]:
    return [Prop(field, "Edm.DateTime", "Start Date"), Prop(end, "Edm.DateTime", "End Date")]


def _modified() -> list[Prop]:
    return [
        Prop("createdDateTime", "Edm.DateTimeOffset", "Created Date Time"),
        Prop("lastModifiedDateTime", "Edm.DateTimeOffset", "Last Modified Date Time"),
    ]


class _MatchScan:
    """The identities of one filter's matching rows in internal order, scanned only as far as pages have needed
    (offset paging then costs one scan, not one per page)."""

    def __init__(self, rows: Iterator[tuple[Any, dict[str, Any] | None]]) -> None:
        self.identities: list[Any] = []
        self._rest: Iterator[tuple[Any, dict[str, Any] | None]] | None = rows

    def upto(self, count: int | None) -> list[Any]:
        """At least ``count`` identities (all when None), fewer only when the rows run out."""
        while self._rest is not None and (count is None or len(self.identities) < count):
            found = next(self._rest, None)
            if found is None:
                self._rest = None
            else:
                self.identities.append(found[0])
        return self.identities


class SuccessFactorsEmulator(ProductEmulator):
    product_id = "successfactors"
    title = "SAP SuccessFactors (OData v2)"
    sandbox_date_header = True

    def __init__(self, ctx: SandboxContext) -> None:
        super().__init__(ctx)
        self.company = ctx.company
        self._employee_at = functools.lru_cache(maxsize=16384)(self.company.employee)
        self._jobs_at = functools.lru_cache(maxsize=4096)(self._jobs_of_index)
        self._lock = threading.Lock()
        self._inserted = 0
        #: Bumped whenever rows are inserted or forgotten at run time: part of the row cache's data version.
        self._changes = 0
        #: Serialized generated rows and matching scans per request shape and data version (XLR8_SANDBOX_CACHE=0).
        self.row_cache = RowCache()
        self.snapshots = SnapshotStore()
        self.private_key_pem, self.certificate_pem = _self_signed_pair()
        #: Seconds the tenant's clock is off ours (negative: behind); the assertion's times are judged by it.
        self.clock_offset_s = 0.0
        self.entities = {e.name: e for e in self._declare()}
        self._metadata = build_edmx(self.entities.values())

    # --- platform hooks ---------------------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/odata/v2/$metadata", self._service_metadata, methods=["GET"]),
            Route("/odata/v2/{entity}/$metadata", self._service_metadata, methods=["GET"]),
            Route("/odata/v2/{entity}/$count", self._count, methods=["GET"]),
            Route("/odata/v2/{entity}", self._collection, methods=["GET"]),
            Route("/odata/v2/{entity}/{nav}", self._navigation, methods=["GET"]),
        ]

    def test_credentials(self) -> dict[str, str]:
        return {
            "company_id": COMPANY_ID,
            "username": API_USER,
            "password": API_PASSWORD,
            "client_id": CLIENT_ID,
            "private_key": self.private_key_pem,
            "certificate": self.certificate_pem,
        }

    def quota_error_response(self) -> FaultResponse:
        body = ODataRequestError(429, "COE_TOO_MANY_REQUESTS", "[COE0038]Too many requests. Try again later.")
        return FaultResponse(429, json.dumps(body.body()), headers={"Retry-After": "1"})

    def error_body_response(self) -> FaultResponse:
        body = ODataRequestError(200, "COE_GENERAL_SERVER_FAILURE", "[COE0001]Unable to process the request.")
        return FaultResponse(200, json.dumps(body.body()))

    def insert_records(self, count: int) -> None:
        """New hires created by someone else mid-run: a User, EmpEmployment, EmpJob and person rows each."""
        now = self.ctx.clock.now()
        for _ in range(count):
            with self._lock:
                self._inserted += 1
                n = self._inserted
            template = self._employee(n % max(self.company.scale, 1))
            hire = dataclasses.replace(
                template,
                employee_id=f"A{n:06d}",
                person_id=f"PA{n:06d}",
                hire_date=now.date(),
                termination_date=None,
                status="active",
                last_modified=now,
            )
            for name, rows in (
                ("User", [self._user(hire)]),
                ("EmpEmployment", [self._employment(hire)]),
                ("EmpJob", self._jobs(hire)),
                ("PerPerson", [self._person(hire)]),
                ("PerPersonal", [self._personal(hire)]),
                ("PerEmail", [self._email(hire)]),
            ):
                for row in rows:
                    self.insert(name, row)

    def _employee(self, i: int) -> Employee:
        """Employee ``i`` as of the sandbox clock (cached per clock reading: data changes with sandbox time)."""
        return self._employee_at(i, self.ctx.clock.now())

    def _headcount(self) -> int:
        return self.company.employee_count(self.ctx.clock.now())

    def reset(self) -> None:
        """Forget rows inserted at run time, open snapshots and the employee and job memos (keyed on sandbox time
        alone: back at the same moment after a reset, other hires hold the same indices)."""
        self._employee_at.cache_clear()
        self._jobs_at.cache_clear()
        with self._lock:
            for entity in self.entities.values():
                entity.extra.clear()
            self._inserted = 0
            self._changes += 1
        self.snapshots = SnapshotStore()
        self.row_cache.clear()

    def insert(self, entity_set: str, row: dict[str, Any]) -> None:
        """Add one row (exact Python values) ahead of the generated rows."""
        with self._lock:
            self.entities[entity_set].extra.insert(0, row)
            self._changes += 1

    def key_future_job(self, user_id: str, days_ahead: int, **changes: Any) -> dict[str, Any]:
        """HR keys a job change now that takes effect ``days_ahead`` days later: an EmpJob row stamped now whose
        startDate is ahead (Employee Central's future-dated rows). Opt-in, for tests: the default data keeps its
        own rows. The row in force today keeps its end date (the emulator does not end it)."""
        now = self.ctx.clock.now()
        today = _day(now.date())
        current = self._related("EmpJob", {"userId": user_id}, (today, today))
        if not current:
            raise KeyError(f"EmpJob: no row of {user_id} in force on {today.date()}")
        row = {
            **current[0], "startDate": today + timedelta(days=days_ahead), "endDate": END_OF_TIME,
            "eventReason": "DATACHG", "createdDateTime": now, "lastModifiedDateTime": now, **changes,
        }  # fmt: skip
        self.insert("EmpJob", row)
        return row

    def edit(self, entity_set: str, key: tuple[Any, ...], changes: dict[str, Any]) -> None:
        """Change a row inserted at run time in place, as another user edits it while a client pages (a page asked
        for afterwards serves the new values, as SuccessFactors does)."""
        entity = self.entities[entity_set]
        with self._lock:
            row = next((r for r in entity.extra if entity.key_of(r) == key), None)
            if row is None:
                raise KeyError(f"{entity_set}{key} was not inserted at run time")
            row.update(changes)
            self._changes += 1

    def _data_version(self) -> tuple[Any, ...]:
        with self._lock:
            return (self.company.data_version(), self._changes)

    # --- data -------------------------------------------------------------------------------------------------

    def _declare(self) -> list[EntityDef]:
        company = self.company
        scale = self._headcount
        employee = self._employee
        return [
            EntityDef(
                "User", "User", ("userId",),
                [Prop("userId", label="User ID", max_length=100), Prop("username", label="Username"),
                 Prop("firstName", label="First Name"), Prop("lastName", label="Last Name"),
                 Prop("email", label="Email", filterable=False, sortable=False), Prop("status", label="Status"),
                 Prop("hireDate", "Edm.DateTime", "Hire Date"), Prop("department", label="Department"),
                 Prop("location", label="Location"), Prop("jobCode", label="Job Code"),
                 Prop("managerId", label="Manager"), Prop("empId", label="Employee Id"),
                 Prop("timeZone", label="Time Zone", filterable=False), *_modified()],
                scale, lambda i: self._user(employee(i)), total=True,
                value_codes={"status": USER_STATUS_CODES},
                unless_filtered=("status", lambda row: row.get("status") in ("active", "active_external")),
                navs=[Nav("empInfo", "EmpEmployment", "0..1", lambda r, w: self._related("EmpEmployment", r, w))],
            ),
            EntityDef(
                "PerPerson", "Biographical Information", ("personIdExternal",),
                [Prop("personIdExternal", label="Person ID", max_length=100),
                 Prop("perPersonUuid", label="Person UUID"), Prop("dateOfBirth", "Edm.DateTime", "Date Of Birth"),
                 Prop("countryOfBirth", label="Country Of Birth"), *_modified()],
                scale, lambda i: self._person(employee(i)), total=True,
                navs=[Nav("personalInfoNav", "PerPersonal", "*", lambda r, w: self._related("PerPersonal", r, w)),
                      Nav("emailNav", "PerEmail", "*", lambda r, w: self._related("PerEmail", r, w))],
            ),
            EntityDef(
                "PerPersonal", "Personal Information", ("personIdExternal", "startDate"),
                [Prop("personIdExternal", label="Person ID"), *_effective(), Prop("firstName", label="First Name"),
                 Prop("lastName", label="Last Name"), Prop("nationality", label="Nationality"), *_modified()],
                scale, lambda i: self._personal(employee(i)), effective_dated=True,
            ),
            EntityDef(
                "PerEmail", "Email Information", ("emailType", "personIdExternal"),
                [Prop("personIdExternal", label="Person ID"), Prop("emailType", label="Email Type"),
                 Prop("emailAddress", label="Email Address"), Prop("isPrimary", "Edm.Boolean", "Is Primary"),
                 *_modified()],
                scale, lambda i: self._email(employee(i)), total=True,
            ),
            EntityDef(
                "EmpEmployment", "Employment Details", ("personIdExternal", "userId"),
                [Prop("personIdExternal", label="Person ID"), Prop("userId", label="User ID"),
                 *_effective(), Prop("originalStartDate", "Edm.DateTime", "Original Start Date"),
                 Prop("isContingentWorker", "Edm.Boolean", "Is Contingent Worker"),
                 Prop("jobNumber", "Edm.Int64", "Employment Id"), *_modified()],
                scale, lambda i: self._employment(employee(i)), total=True,
                navs=[Nav("jobInfoNav", "EmpJob", "*", lambda r, w: self._related("EmpJob", r, w)),
                      Nav("userNav", "User", "1", lambda r, w: self._related("User", r, w))],
            ),
            EntityDef(
                "EmpJob", "Job Information", ("seqNumber", "startDate", "userId"),
                [Prop("userId", label="User ID", max_length=100), *_effective(),
                 Prop("seqNumber", "Edm.Int64", "Sequence Number"), Prop("company", label="Company"),
                 Prop("department", label="Department"), Prop("location", label="Location"),
                 Prop("jobCode", label="Job Classification"), Prop("costCenter", label="Cost Center"),
                 Prop("managerId", label="Supervisor"), Prop("payGroup", label="Pay Group"),
                 Prop("emplStatus", label="Employee Status"), Prop("eventReason", label="Event Reason"),
                 Prop("fte", "Edm.Decimal", "FTE"), Prop("standardHours", "Edm.Decimal", "Standard Weekly Hours"),
                 *_modified()],
                lambda: self._headcount() * 2, self._job_row, effective_dated=True,
                navs=[Nav("userNav", "User", "1", lambda r, w: self._related("User", r, w))],
            ),
            self._foundation("FOCompany", "Legal Entity", company.legal_entities,
                             [Prop("country", label="Country"), Prop("currency", label="Default Currency")],
                             lambda c: {"country": "CA" if c.code == "C200" else "US",
                                        "currency": "CAD" if c.code == "C200" else "USD"}, renamed=True),
            self._foundation("FODepartment", "Department", company.departments,
                             [Prop("costCenter", label="Cost Center"), Prop("parent", label="Parent Department")],
                             lambda c: {"costCenter": f"CC{int(c.code[1:]):02d}", "parent": None}),
            self._foundation("FOLocation", "Location", company.locations,
                             [Prop("country", label="Country"), Prop("timezone", label="Time Zone")],
                             lambda c: {"country": c.parent, "timezone": "UTC"}),
            self._foundation("FOJobCode", "Job Classification", company.jobs,
                             [Prop("isFulltimeEmployee", "Edm.Boolean", "Is Fulltime Employee"),
                              Prop("standardHours", "Edm.Decimal", "Standard Weekly Hours")],
                             lambda c: {"isFulltimeEmployee": True, "standardHours": Decimal("40.00")}),
            self._foundation("FOCostCenter", "Cost Center", company.cost_centers,
                             [Prop("legalEntity", label="Legal Entity")], lambda c: {"legalEntity": "C100"}),
            EntityDef(
                "cust_EquipmentAssignment", "Equipment Assignment", ("externalCode",),
                [Prop("externalCode", label="Code"), Prop("cust_userId", label="User"),
                 Prop("cust_assetTag", label="Asset Tag"), Prop("cust_assetValue", "Edm.Decimal", "Asset Value"),
                 Prop("cust_assignedOn", "Edm.DateTime", "Assigned On"),
                 Prop("mdfSystemRecordStatus", label="Record Status"), *_modified()],
                scale, lambda i: self._equipment(employee(i)), total=True,
            ),
        ]  # fmt: skip

    def _foundation(
        self,
        name: str,
        label: str,
        codes: list[Any],
        props: list[Prop],
        extra: Callable[[Any], dict[str, Any]],
        renamed: bool = False,
    ) -> EntityDef:
        """An FO object: one row per code valid since 2015; ``renamed`` objects also have a pre-2020 name."""
        rows: list[dict[str, Any]] = []
        for code in codes:
            periods = [(date(2015, 1, 1), date(2019, 12, 31), f"{code.name} (former)"), (date(2020, 1, 1), None,
                       code.name)] if renamed else [(date(2015, 1, 1), None, code.name)]  # fmt: skip
            for start, end, title in periods:
                stamp = _day(start) + timedelta(hours=8)
                rows.append({
                    "externalCode": code.code, "startDate": _day(start), "endDate": _day(end) if end else END_OF_TIME,
                    "name": title, "description": f"{title} ({code.code})", "status": "A",
                    "createdDateTime": stamp, "lastModifiedDateTime": stamp, **extra(code),
                })  # fmt: skip
        base = [Prop("externalCode", label="Code", max_length=32), *_effective(), Prop("name", label="Name"),
                Prop("description", label="Description"), Prop("status", label="Status")]  # fmt: skip
        return EntityDef(
            name, label, ("externalCode", "startDate"), [*base, *props, *_modified()],
            lambda: len(rows), rows.__getitem__, effective_dated=True,
        )  # fmt: skip

    def _user(self, e: Employee) -> dict[str, Any]:
        return {
            "userId": e.employee_id, "username": e.email.split("@")[0], "firstName": e.first_name,
            "lastName": e.last_name, "email": e.email,
            "status": "inactive" if e.status == "terminated" else "active", "hireDate": _day(e.hire_date),
            "department": e.department_code, "location": e.location_code, "jobCode": e.job_code,
            "managerId": e.manager_id or "NO_MANAGER", "empId": e.employee_id, "timeZone": "UTC",
            "createdDateTime": _day(e.hire_date) + timedelta(hours=9), "lastModifiedDateTime": e.last_modified,
        }  # fmt: skip

    def _person(self, e: Employee) -> dict[str, Any]:
        return {
            "personIdExternal": e.person_id,
            "perPersonUuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"acme:{e.person_id}")).upper().replace("-", ""),
            "dateOfBirth": _day(e.birth_date), "countryOfBirth": "CAN" if e.currency == "CAD" else "USA",
            "createdDateTime": _day(e.hire_date) + timedelta(hours=9), "lastModifiedDateTime": e.last_modified,
        }  # fmt: skip

    def _personal(self, e: Employee) -> dict[str, Any]:
        return {
            "personIdExternal": e.person_id, "startDate": _day(e.hire_date), "endDate": END_OF_TIME,
            "firstName": e.first_name, "lastName": e.last_name, "nationality": "CAN" if e.currency == "CAD" else "USA",
            "createdDateTime": _day(e.hire_date) + timedelta(hours=9), "lastModifiedDateTime": e.last_modified,
        }  # fmt: skip

    def _email(self, e: Employee) -> dict[str, Any]:
        return {
            "personIdExternal": e.person_id, "emailType": "8448", "emailAddress": e.email, "isPrimary": True,
            "createdDateTime": _day(e.hire_date) + timedelta(hours=9), "lastModifiedDateTime": e.last_modified,
        }  # fmt: skip

    def _employment(self, e: Employee) -> dict[str, Any]:
        return {
            "personIdExternal": e.person_id, "userId": e.employee_id, "startDate": _day(e.hire_date),
            "endDate": _day(e.termination_date) if e.termination_date else None,
            "originalStartDate": _day(e.hire_date), "isContingentWorker": False, "jobNumber": 1,
            "createdDateTime": _day(e.hire_date) + timedelta(hours=9), "lastModifiedDateTime": e.last_modified,
        }  # fmt: skip

    def _job_row(self, k: int) -> dict[str, Any] | None:
        """EmpJob row ``k``: two slots per employee; the second is empty for people hired too recently."""
        rows = self._jobs_at(k // 2, self.ctx.clock.now())
        return rows[k % 2] if k % 2 < len(rows) else None

    def _jobs_of_index(self, i: int, _now: datetime) -> list[dict[str, Any]]:
        """Both rows of employee ``i`` at one clock reading (rows 2i and 2i+1 are read one after the other)."""
        return self._jobs(self._employee(i))

    def _jobs(self, e: Employee) -> list[dict[str, Any]]:
        """The hire row, then (for everyone hired before the sandbox epoch) a job change or termination."""
        hired = _day(e.hire_date) + timedelta(hours=9)
        jobs = self.company.jobs
        earlier_job = jobs[(int(e.job_code[1:]) % len(jobs))].code
        common = {
            "userId": e.employee_id, "seqNumber": 1, "company": e.company_code, "department": e.department_code,
            "location": e.location_code, "costCenter": e.cost_center, "managerId": e.manager_id or "NO_MANAGER",
            "payGroup": e.pay_group, "fte": Decimal("1.00") if e.full_time else Decimal("0.50"),
            "standardHours": Decimal("40.00") if e.full_time else Decimal("20.00"),
        }  # fmt: skip
        days_employed = (_REFERENCE_DAY - e.hire_date).days
        if days_employed < 2:
            return [{**common, "startDate": _day(e.hire_date), "endDate": END_OF_TIME, "jobCode": e.job_code,
                     "emplStatus": "A", "eventReason": "HIRNEW", "createdDateTime": e.last_modified,
                     "lastModifiedDateTime": e.last_modified}]  # fmt: skip
        rng = self.company._rng("sf_job_change", int(e.employee_id[1:]))
        change = e.hire_date + timedelta(days=rng.randrange(1, days_employed))
        status, reason = {"terminated": ("T", "TERIMM"), "leave": ("U", "LOALOA")}.get(e.status, ("A", "PRMPRM"))
        if e.termination_date:
            change = max(e.termination_date, e.hire_date + timedelta(days=1))
        changed_at = max(_day(change) + timedelta(hours=10), e.last_modified)
        return [
            {**common, "startDate": _day(e.hire_date), "endDate": _day(change - timedelta(days=1)),
             "jobCode": earlier_job, "emplStatus": "A", "eventReason": "HIRNEW", "createdDateTime": hired,
             "lastModifiedDateTime": hired},
            {**common, "startDate": _day(change), "endDate": END_OF_TIME, "jobCode": e.job_code,
             "emplStatus": status, "eventReason": reason, "createdDateTime": changed_at,
             "lastModifiedDateTime": changed_at},
        ]  # fmt: skip

    def _equipment(self, e: Employee) -> dict[str, Any]:
        index = int(e.employee_id[1:])
        return {
            "externalCode": f"EQ{index:06d}", "cust_userId": e.employee_id, "cust_assetTag": f"LT-{index:06d}",
            "cust_assetValue": Decimal(1000 + (index * 7919) % 2500) + Decimal("0.99"),
            "cust_assignedOn": _day(e.hire_date), "mdfSystemRecordStatus": "N",
            "createdDateTime": _day(e.hire_date) + timedelta(hours=11), "lastModifiedDateTime": e.last_modified,
        }  # fmt: skip

    def _related(self, target: str, row: dict[str, Any], window: tuple[datetime, datetime]) -> list[dict[str, Any]]:
        """Rows of ``target`` sharing the source row's person or user id (direct index, no scan)."""
        entity = self.entities[target]
        join = "userId" if "userId" in entity.by_name and "userId" in row else "personIdExternal"
        ident = str(row.get(join, ""))
        found = [r for r in entity.extra if r.get(join) == ident]
        digits = ident.lstrip("P")[1:] if join == "personIdExternal" else ident[1:]
        if ident[:1] in "EP" and digits.isdigit() and 0 < int(digits) <= self._headcount():
            index = int(digits) - 1
            per = 2 if target == "EmpJob" else 1
            found.extend(r for j in range(per) if (r := entity.row(index * per + j)) is not None)
        return [r for r in found if self._in_window(entity, r, window)]

    # --- query ------------------------------------------------------------------------------------------------

    @staticmethod
    def _in_window(entity: EntityDef, row: dict[str, Any], window: tuple[datetime, datetime]) -> bool:
        if not entity.effective_dated:
            return True
        return bool(row["startDate"] <= window[1] and (row.get("endDate") or END_OF_TIME) >= window[0])

    def _effective_window(self, request: Request) -> tuple[datetime, datetime]:
        params = request.query_params

        def day(name: str) -> datetime | None:
            value = params.get(name)
            if value is None:
                return None
            try:
                return _day(date.fromisoformat(value[:10]))
            except ValueError:
                raise ODataRequestError(
                    400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Invalid {name}: expected yyyy-MM-dd"
                ) from None

        as_of = day("asOfDate")
        from_date, to_date = day("fromDate"), day("toDate")
        if as_of and (from_date or to_date):
            raise ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", "[COE0019]asOfDate cannot be used with fromDate")
        if from_date or to_date:
            return from_date or _BEGINNING, to_date or END_OF_TIME
        today = as_of or _day(self.ctx.clock.now().date())
        return today, today

    def _all_rows(self, entity: EntityDef) -> Iterator[tuple[Any, dict[str, Any]]]:
        """(identity, row) in internal order: inserted rows first, then generated ones."""
        with self._lock:
            extra = list(entity.extra)
        for inserted in extra:
            yield inserted, inserted
        for i in range(entity.count()):
            row = entity.row(i)
            if row is not None:
                yield i, row

    def _every_identity(self, entity: EntityDef) -> Iterator[tuple[Any, dict[str, Any] | None]]:
        """``_all_rows``' identities without building the generated rows (for ``EntityDef.total`` sets)."""
        with self._lock:
            extra = list(entity.extra)
        for inserted in extra:
            yield inserted, inserted
        yield from ((i, None) for i in range(entity.count()))

    def _resolve(self, entity: EntityDef, ident: Any) -> dict[str, Any] | None:
        return ident if isinstance(ident, dict) else entity.row(ident)

    @staticmethod
    def _predicate(entity: EntityDef, text: str | None) -> Callable[[dict[str, Any]], bool] | None:
        """The request's ``$filter``, and the entity's default view when the filter does not name its property
        (a User query without a status term sees active users only, SAP KBA 2736579)."""
        predicate = parse_filter(text, entity) if text else None
        if entity.unless_filtered is None:
            return predicate
        name, default = entity.unless_filtered
        if text and name in filter_names(text):
            return None if names_every_value(text, entity) else predicate
        if predicate is None:
            return default
        given = predicate
        return lambda row: default(row) and given(row)

    def _matching(self, entity: EntityDef, request: Request) -> Iterator[tuple[Any, dict[str, Any]]]:
        params = request.query_params
        predicate = self._predicate(entity, params.get("$filter"))
        window = self._effective_window(request)
        yield from self._matching_rows(entity, predicate, window)

    def _match_scan(self, entity: EntityDef, request: Request) -> _MatchScan | None:
        """The shared scan of this request's filter and effective window (None with the cache off). The filter
        and window are checked here, so a bad one fails the request before anything is kept."""
        if not self.row_cache.enabled:
            return None
        params = request.query_params
        text = params.get("$filter")
        predicate = self._predicate(entity, text)
        window = self._effective_window(request)
        if predicate is None and entity.total and not entity.effective_dated:
            rows = self._every_identity(entity)  # every row matches: the pages build them, once
        else:
            rows = self._matching_rows(entity, predicate, window)
        found: _MatchScan | None = self.row_cache.shared(
            ("match", entity.name, text, window), self._data_version(), lambda: _MatchScan(rows)
        )
        return found

    def _matching_rows(
        self, entity: EntityDef, predicate: Callable[[dict[str, Any]], bool] | None, window: tuple[datetime, datetime]
    ) -> Iterator[tuple[Any, dict[str, Any]]]:
        for ident, row in self._all_rows(entity):
            if not self._in_window(entity, row, window):
                continue
            if predicate is None or predicate(row):
                yield ident, row

    # --- handlers ---------------------------------------------------------------------------------------------

    def _entity(self, request: Request) -> EntityDef:
        return self._entity_named(request.path_params.get("entity", ""))

    def _entity_named(self, name: str) -> EntityDef:
        entity = self.entities.get(name)
        if entity is None:
            raise ODataRequestError(
                404, "COE_ENTITY_NOT_FOUND", f"[COE0020]Entity {name} is not found. Please check the entity name."
            )
        return entity

    def _authorised(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "basic":
            try:
                user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if user == f"{API_USER}@{COMPANY_ID}" and password == API_PASSWORD:
                return API_USER
            raise ODataRequestError(401, "LGN0011", "[LGN0011]Invalid username or password.")
        if scheme.lower() == "bearer":
            token = self.ctx.tokens.check(self.product_id, value)
            if token is not None:
                return token.subject
            raise ODataRequestError(401, "LGN0022", "[LGN0022]The access token is either rejected or expired.")
        raise ODataRequestError(401, "LGN0011", "[LGN0011]Authentication required: Basic or Bearer.")

    def _guard(handler: Callable[..., Response]) -> Callable[..., Any]:  # type: ignore[misc]
        """Auth, then vendor-shaped errors for anything the request got wrong."""

        async def wrapped(self: SuccessFactorsEmulator, request: Request) -> Response:
            try:
                self._authorised(request)
                return handler(self, request)
            except ODataRequestError as exc:
                return JSONResponse(exc.body(), status_code=exc.status)

        return wrapped

    @_guard
    def _service_metadata(self, request: Request) -> Response:
        if "entity" in request.path_params:
            self._entity(request)
        return Response(self._metadata, media_type="application/xml;charset=utf-8")

    @_guard
    def _count(self, request: Request) -> Response:
        entity = self._entity(request)
        scan = self._match_scan(entity, request)
        total = len(scan.upto(None)) if scan is not None else sum(1 for _ in self._matching(entity, request))
        return Response(str(total), media_type="text/plain")

    def _addressed(self, request: Request) -> tuple[EntityDef, dict[str, Any]]:
        """The entity an address with a key predicate names (``User('E1')``, ``EmpJob(seqNumber=1L,...)``)."""
        name, _, predicate = request.path_params["entity"].partition("(")
        entity = self._entity_named(name)
        if not predicate.endswith(")"):
            raise ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Malformed entity address: {name}(")
        key = parse_key(predicate[:-1], entity)
        wanted = entity.key_of(key)
        # Rows keyed by person or user: the direct index first; anything else (FO objects, MDF) by a scan.
        join = next((k for k in ("userId", "personIdExternal") if k in key), None)
        candidates = self._related(entity.name, key, (_BEGINNING, END_OF_TIME)) if join else []
        for row in candidates or (row for _, row in self._all_rows(entity)):
            if entity.key_of(row) == wanted:
                return entity, row
        raise ODataRequestError(
            404,
            "COE_RESOURCE_NOT_FOUND",
            f"[COE0023]Resource not found for the segment '{request.path_params['entity']}'.",
        )

    def _select_expand(self, entity: EntityDef, params: Any) -> tuple[list[str] | None, ExpandTree]:
        select = [s.strip() for s in params["$select"].split(",")] if params.get("$select") else None
        for name in select or []:
            if name not in entity.by_name and name not in {n.name for n in entity.navs}:
                raise ODataRequestError(400, "COE_PROPERTY_NOT_FOUND", f"[COE0021]Invalid property names: {name}")
        return select, self._expand(entity, params.get("$expand"))

    def _single(self, request: Request) -> Response:
        """One entity by its key: every key property given, effective dating by the key (startDate), not today."""
        entity, row = self._addressed(request)
        select, expand = self._select_expand(entity, request.query_params)
        service_url = _service_url(request)
        body = serialize(entity, row, service_url, select, _top(expand), self._effective_window(request), expand)
        return JSONResponse({"d": body}, headers={"Content-Type": "application/json;charset=utf-8"})

    @_guard
    def _navigation(self, request: Request) -> Response:
        """A navigation property of one entity (the ``__deferred`` URIs the emulator writes point here)."""
        entity, row = self._addressed(request)
        nav = next((n for n in entity.navs if n.name == request.path_params["nav"]), None)
        if nav is None:
            raise ODataRequestError(
                404, "COE_PROPERTY_NOT_FOUND", f"[COE0021]Invalid navigation property: {request.path_params['nav']}"
            )
        target = self.entities[nav.target]
        window = self._effective_window(request)
        service_url = _service_url(request)
        related = [serialize(target, r, service_url, None, {}, window) for r in nav.resolve(row, window)]
        if nav.multiplicity == "*":
            body: Any = {"results": related}
        elif related:
            body = related[0]
        else:
            raise ODataRequestError(404, "COE_RESOURCE_NOT_FOUND", f"[COE0023]No {nav.target} for this {entity.name}.")
        return JSONResponse({"d": body}, headers={"Content-Type": "application/json;charset=utf-8"})

    @_guard
    def _collection(self, request: Request) -> Response:
        if "(" in request.path_params["entity"]:
            return self._single(request)
        entity = self._entity(request)
        params = request.query_params
        if params.get("$format", "json").lower() != "json":
            raise ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", "[COE0019]Only $format=json is emulated.")
        select, expand = self._select_expand(entity, params)
        page_size = self._page_size(params.get("customPageSize"))
        top = self._int(params, "$top")
        skip = self._int(params, "$skip") or 0
        snapshot_mode = params.get("paging", "").lower() == "snapshot"
        token = params.get("$skiptoken")
        offset, snapshot = decode_skiptoken(token) if token else (skip, None)
        order = parse_orderby(params["$orderby"], entity) if params.get("$orderby") else None
        window = self._effective_window(request)
        service_url = _service_url(request)

        if self.row_cache.enabled and not order:
            return self._collection_cached(request, entity, page_size, top, skip, offset, snapshot, window)
        identities: list[Any] | None = None
        if snapshot:
            identities = self.snapshots.get(snapshot)
        elif snapshot_mode or order:
            matched = list(self._matching(entity, request))
            identities = sort_rows([row for _, row in matched], order) if order else [i for i, _ in matched]
            if snapshot_mode:
                snapshot = self.snapshots.create(identities)
        remaining = None if top is None else max(top - (offset - skip), 0)
        limit = page_size if remaining is None else min(page_size, remaining)
        if identities is not None:
            page = [r for i in identities[offset : offset + limit] if (r := self._resolve(entity, i)) is not None]
            rows_after = offset + len(page) < len(identities)
        else:
            page, rows_after = [], False
            for position, (_, row) in enumerate(self._matching(entity, request)):
                if position < offset:
                    continue
                if len(page) == limit:
                    rows_after = True
                    break
                page.append(row)
        results = [serialize(entity, row, service_url, select, _top(expand), window, expand) for row in page]
        body: dict[str, Any] = {"results": results}
        if params.get("$inlinecount") == "allpages":
            total = len(identities) if identities is not None else sum(1 for _ in self._matching(entity, request))
            body["__count"] = str(total)
        if rows_after and page and (remaining is None or len(page) < remaining):
            link_params = list(params.multi_items())
            body["__next"] = next_url(
                f"{service_url}/{entity.name}", link_params, encode_skiptoken(offset + len(page), snapshot)
            )
        elif snapshot:
            self.snapshots.drop(snapshot)
        return JSONResponse({"d": body}, headers={"Content-Type": "application/json;charset=utf-8"})

    def _collection_cached(
        self,
        request: Request,
        entity: EntityDef,
        page_size: int,
        top: int | None,
        skip: int,
        offset: int,
        snapshot: str | None,
        window: tuple[datetime, datetime],
    ) -> Response:
        """``_collection`` without ``$orderby``, from the shared scan of matching rows and serialized rows: the
        same pages and links, each generated row serialized once per (request shape, data version)."""
        params = request.query_params
        select, expand = self._select_expand(entity, params)
        service_url = _service_url(request)
        remaining = None if top is None else max(top - (offset - skip), 0)
        limit = page_size if remaining is None else min(page_size, remaining)
        scan: _MatchScan | None = None
        snapshotted = snapshot is not None or params.get("paging", "").lower() == "snapshot"
        if snapshot is not None:
            identities = self.snapshots.get(snapshot)
        else:
            scan = self._match_scan(entity, request)
            assert scan is not None  # the cache is on
            if snapshotted:
                identities = list(scan.upto(None))
                snapshot = self.snapshots.create(identities)
            else:
                identities = scan.upto(offset + limit + 1)
        chosen = identities[offset : offset + limit]
        version = self._data_version()
        shape = ("rows", entity.name, params.get("$select"), params.get("$expand"), window, service_url)
        cached = self.row_cache.rows(shape, version)
        results: list[bytes] = []
        for ident in chosen:
            body = None if cached is None or not isinstance(ident, int) else cached.get(ident)
            if body is None:
                row = self._resolve(entity, ident)
                body = (
                    b""
                    if row is None
                    else serialize_bytes(entity, row, service_url, select, _top(expand), window, expand)
                )
                if cached is not None and isinstance(ident, int) and self.row_cache.room_for(len(body) + 1):
                    cached[ident] = body
            if body:
                results.append(body)
        # A snapshot knows its length; an offset scan has looked one row past the page.
        rows_after = offset + len(results) < len(identities) if snapshotted else len(identities) > offset + limit
        tail: dict[str, Any] = {}
        if params.get("$inlinecount") == "allpages":
            tail["__count"] = str(len(identities) if scan is None or snapshotted else len(scan.upto(None)))
        if rows_after and results and (remaining is None or len(results) < remaining):
            tail["__next"] = next_url(
                f"{service_url}/{entity.name}",
                list(params.multi_items()),
                encode_skiptoken(offset + len(results), snapshot),
            )
        elif snapshot:
            self.snapshots.drop(snapshot)
        extra = b"," + json_bytes(tail)[1:-1] if tail else b""
        return Response(
            b'{"d":{"results":[' + b",".join(results) + b"]" + extra + b"}}",
            headers={"Content-Type": "application/json;charset=utf-8"},
        )

    def _expand(self, entity: EntityDef, text: str | None) -> ExpandTree:
        """``$expand`` paths (``jobInfoNav``, ``jobInfoNav/userNav``) as a tree of declared navigation properties."""
        tree: ExpandTree = {}
        for path in (p.strip() for p in (text or "").split(",") if p.strip()):
            level, source = tree, entity
            for name in path.split("/"):
                nav = next((n for n in source.navs if n.name == name), None)
                if nav is None:
                    raise ODataRequestError(
                        400, "COE_PROPERTY_NOT_FOUND", f"[COE0021]Invalid navigation property for $expand: {path}"
                    )
                source = self.entities[nav.target]
                level = level.setdefault(name, (source, {}))[1]
        return tree

    @staticmethod
    def _int(params: Any, name: str) -> int | None:
        value = params.get(name)
        if value is None:
            return None
        if not value.isdigit():
            raise ODataRequestError(400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]Invalid {name}: {value!r}")
        return int(value)

    @staticmethod
    def _page_size(value: str | None) -> int:
        if value is None:
            return MAX_PAGE_SIZE
        if not value.isdigit() or not 0 < int(value) <= MAX_PAGE_SIZE:
            raise ODataRequestError(
                400, "COE_GENERAL_BAD_REQUEST", f"[COE0019]customPageSize must be between 1 and {MAX_PAGE_SIZE}."
            )
        return int(value)

    # --- OAuth 2.0 SAML bearer --------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        # application/x-www-form-urlencoded, parsed here (no multipart dependency needed)
        fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
        try:
            subject = self._verify_assertion(fields)
        except ODataRequestError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        token = self.ctx.tokens.issue(self.product_id, subject, ttl=TOKEN_TTL)
        return JSONResponse({"access_token": token.token, "token_type": "Bearer", "expires_in": int(TOKEN_TTL)})

    def _verify_assertion(self, fields: dict[str, str]) -> str:
        if fields.get("grant_type") != SAML2_BEARER_GRANT:
            raise ODataRequestError(400, "unsupported_grant_type", f"Unsupported grant_type; use {SAML2_BEARER_GRANT}")
        if fields.get("client_id") != CLIENT_ID:
            raise ODataRequestError(401, "invalid_client", "Invalid client_id: no OAuth client is registered with it.")
        if fields.get("company_id") != COMPANY_ID:
            raise ODataRequestError(
                401,
                "invalid_company",
                f"Invalid company_id: the client is not registered in {fields.get('company_id')!r}.",
            )
        try:
            document = base64.b64decode(fields.get("assertion", ""), validate=True)
            verified = XMLVerifier().verify(document, x509_cert=self.certificate_pem)
        except (binascii.Error, SignXMLException, etree.XMLSyntaxError, ValueError):
            raise ODataRequestError(
                401,
                "invalid_grant",
                "Unable to verify the signature of the SAML assertion. Please ensure that the assertion has a "
                "signature and the key pairs match the client ID",
            ) from None
        signed = verified.signed_xml if not isinstance(verified, list) else None
        if signed is None:
            raise ODataRequestError(401, "invalid_grant", "The SAML assertion must carry exactly one signature.")
        ns = {"saml2": SAML_NS}
        now = datetime.now(UTC) + timedelta(seconds=self.clock_offset_s)  # the tenant's clock, no leeway
        issued = aware_instant(signed.get("IssueInstant"))
        conditions = signed.find("saml2:Conditions", ns)
        not_before = aware_instant(conditions.get("NotBefore") if conditions is not None else None)
        not_after = aware_instant(conditions.get("NotOnOrAfter") if conditions is not None else None)
        confirmation = signed.find("saml2:Subject/saml2:SubjectConfirmation/saml2:SubjectConfirmationData", ns)
        confirmed_until = aware_instant(confirmation.get("NotOnOrAfter") if confirmation is not None else None)
        if (
            issued is None
            or not_after is None
            or now < issued
            or now >= not_after
            or (not_before is not None and now < not_before)
            or (confirmed_until is not None and now >= confirmed_until)
        ):
            raise ODataRequestError(
                401, "invalid_grant", "The SAML assertion has expired or is not yet valid (check the client clock)."
            )
        audience = signed.findtext("saml2:Conditions/saml2:AudienceRestriction/saml2:Audience", namespaces=ns)
        if audience != AUDIENCE:
            raise ODataRequestError(401, "invalid_grant", f"The SAML assertion audience must be {AUDIENCE}.")
        user = signed.findtext("saml2:Subject/saml2:NameID", namespaces=ns)
        if user != API_USER:
            raise ODataRequestError(401, "invalid_grant", "The SAML assertion subject is not a known user.")
        return user


def _service_url(request: Request) -> str:
    """The service root as SuccessFactors writes it in ``__next`` and ``__metadata.uri``: the port always named,
    ``:443`` included (SAP KBA 2489065)."""
    base = request.base_url
    if base.port is None:
        base = base.replace(port=443 if base.scheme == "https" else 80)
    return str(base).rstrip("/") + "/odata/v2"


def _top(tree: ExpandTree) -> dict[str, EntityDef]:
    return {name: entity for name, (entity, _) in tree.items()}


def _self_signed_pair() -> tuple[str, str]:
    """The OAuth client's key pair, as SuccessFactors generates it when a client application is registered."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{COMPANY_ID} sandbox OAuth client")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


__all__ = ["SuccessFactorsEmulator"]
