"""UKG Pro REST resources as rows, from the shared company (``employeeID`` = ``employee_id``).

Field names follow the real API (``employeeID``, ``companyID``, ``primaryJobCode``, ``orgLevel1Code``,
``employeeStatusCode`` A/L/T, ...). Dates come as ``YYYY-MM-DDT00:00:00`` like the real service; change stamps as
UTC ``...Z``. A few descriptions carry typographic apostrophes (U+2019) as UKG tenants' data often does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from xlr8_sandbox.company import Company, Employee

Row = dict[str, Any]

STATUS_CODES = {"active": "A", "leave": "L", "terminated": "T"}

#: UKG descriptions of the company's job codes (the tenant's own wording, apostrophes included).
JOB_DESCRIPTIONS = {
    "J003": "Manager",
    "J004": "Director\u2019s Office Lead",
    "J008": "Consultant \u2013 Client\u2019s Site",
}

CODE_TABLES: dict[str, list[tuple[str, str]]] = {
    "EMPLOYEESTATUS": [("A", "Active"), ("L", "Leave of absence"), ("T", "Terminated")],
    "EMPLOYEETYPE": [("REG", "Regular"), ("TMP", "Temporary"), ("SEA", "Seasonal")],
    "TERMREASON": [
        ("RES", "Resignation \u2013 employee\u2019s decision"),
        ("RET", "Retirement"),
        ("INV", "Involuntary"),
    ],
    "LEAVEREASON": [("FMLA", "Family and medical leave"), ("MIL", "Military leave"), ("PER", "Personal leave")],
    "MARITALSTATUS": [("S", "Single"), ("M", "Married"), ("D", "Divorced"), ("W", "Widowed")],
    "FULLTIMEORPARTTIME": [("F", "Full time"), ("P", "Part time")],
}

SHIFT_CODES = [
    ("DAY", "Day shift", "08:00", "16:30"),
    ("EVE", "Evening shift", "14:00", "22:30"),
    ("NGT", "Night shift \u2013 Überstunden eligible", "22:00", "06:30"),
]
TAX_GROUPS = [
    ("US-FED", "United States federal", "US"),
    ("CA-FED", "Canada federal", "CA"),
    ("GB-PAYE", "United Kingdom PAYE", "GB"),
    ("DE-LST", "Deutschland Lohnsteuer", "DE"),
    ("AU-PAYG", "Australia PAYG", "AU"),
]
_SCHOOLS = [
    ("MIT", "Massachusetts Institute of Technology"),
    ("ETH", "ETH Zürich"),
    ("SORB", "Sorbonne Université"),
    ("UOT", "University of Toronto"),
]
_DEGREES = [
    ("BS", "Bachelor of Science"),
    ("BA", "Bachelor of Arts"),
    ("MS", "Master of Science"),
    ("MBA", "Master of Business Administration"),
]
_RELATIONSHIPS = ["Spouse", "Parent", "Sibling", "Friend"]


def ukg_date(value: date | None) -> str | None:
    return None if value is None else f"{value.isoformat()}T00:00:00"


def ukg_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def employee_number(e: Employee) -> str:
    return e.employee_id.lstrip("E")


def job_description(company: Company, code: str) -> str:
    if code in JOB_DESCRIPTIONS:
        return JOB_DESCRIPTIONS[code]
    return job.name if (job := company.job_by_code.get(code)) else code


def person_details(company: Company, e: Employee) -> Row:
    return {
        "employeeID": e.employee_id,
        "companyID": e.company_code,
        "personID": e.person_id,
        "firstName": e.first_name,
        "lastName": e.last_name,
        "middleName": None,
        "preferredName": e.first_name,
        "emailAddress": e.email,
        "dateOfBirth": ukg_date(e.birth_date),
        "addressCountry": _country(company, e),
        "dateTimeChanged": ukg_stamp(e.last_modified),
    }


def employment_details(company: Company, e: Employee) -> Row:
    return {
        "employeeID": e.employee_id,
        "companyID": e.company_code,
        "companyCode": e.company_code,
        "employeeNumber": employee_number(e),
        "employeeStatusCode": STATUS_CODES[e.status],
        "primaryJobCode": e.job_code,
        "jobTitle": job_description(company, e.job_code),
        "orgLevel1Code": e.department_code,
        "orgLevel2Code": e.cost_center,
        "primaryWorkLocationCode": e.location_code,
        "payGroupCode": e.pay_group,
        "fullTimeOrPartTimeCode": "F" if e.full_time else "P",
        "originalHireDate": ukg_date(e.hire_date),
        "lastHireDate": ukg_date(e.hire_date),
        "dateOfTermination": ukg_date(e.termination_date),
        "supervisorID": e.manager_id,
        "dateTimeChanged": ukg_stamp(e.last_modified),
    }


#: Resources UKG Pro serves per employment (employee and company: ``/personnel/v1/companies/{companyId}/employees/
#: {employeeId}/employment-details``), so an employee of two companies has a row in each.
PER_COMPANY = frozenset({"employment-details", "compensation-details", "pto-plans"})


def in_company(row: Row, company_code: str) -> Row:
    """``row`` as the same employee's ended employment in another company (the ``second_company`` scenario)."""
    other = {**row, "companyID": company_code}
    if "companyCode" in other:
        other["companyCode"] = company_code
    if "employeeStatusCode" in other:
        other["employeeStatusCode"] = "T"
        other["dateOfTermination"] = other.get("originalHireDate")
    return other


def compensation_details(company: Company, e: Employee) -> Row:
    hourly = (e.annual_salary / 2080).quantize(Decimal("0.0001"))
    periods = {"BW": 26, "MO": 12, "WK": 52}.get(e.pay_group, 26)
    return {
        "employeeID": e.employee_id,
        "companyID": e.company_code,
        "annualSalary": float(e.annual_salary),
        "hourlyPayRate": float(hourly),
        "payPeriodPayRate": float((e.annual_salary / periods).quantize(Decimal("0.01"))),
        "currencyCode": e.currency,
        "payGroupCode": e.pay_group,
        "salaryOrHourlyCode": "S" if e.full_time else "H",
        "fullTimeOrPartTimeCode": "F" if e.full_time else "P",
        "primaryJobCode": e.job_code,
        "jobTitle": job_description(company, e.job_code),
        "dateOfLastPayRateChange": ukg_date(e.last_modified.date()),
        "dateTimeChanged": ukg_stamp(e.last_modified),
    }


def job_history(company: Company, e: Employee) -> list[Row]:
    """The hire row, and a rate change on the last update for people touched since."""
    rows: list[Row] = [
        {
            "systemID": f"JH{employee_number(e)}01",
            "employeeID": e.employee_id,
            "companyID": e.company_code,
            "jobEffectiveDate": ukg_date(e.hire_date),
            "jobCode": e.job_code,
            "jobTitle": job_description(company, e.job_code),
            "orgLevel1Code": e.department_code,
            "reasonCode": "100",
            "isRateChange": False,
            "annualSalary": None,
        }
    ]
    if e.last_modified.date() > e.hire_date:
        rows.append(
            {
                **rows[0],
                "systemID": f"JH{employee_number(e)}02",
                "jobEffectiveDate": ukg_date(e.last_modified.date()),
                "reasonCode": "MER",
                "isRateChange": True,
                "annualSalary": float(e.annual_salary),
            }
        )
    return rows


def employee_change(company: Company, e: Employee) -> Row:
    """One row of ``employee-changes`` (camel-case ``employeeId`` here, as the real resource spells it)."""
    return {
        "employeeId": e.employee_id,
        "personId": e.person_id,
        "companyId": e.company_code,
        "employeeNumber": employee_number(e),
        "firstName": e.first_name,
        "lastName": e.last_name,
        "emailAddress": e.email,
        "employeeStatus": STATUS_CODES[e.status],
        "isActive": e.status != "terminated",
        "jobCode": e.job_code,
        "orgLevel1Code": e.department_code,
        "orgLevel2Code": e.cost_center,
        "workLocation": e.location_code,
        "supervisorId": e.manager_id,
        "fullTimeOrPartTime": "F" if e.full_time else "P",
        "hireDate": ukg_date(e.hire_date),
        "terminationDate": ukg_date(e.termination_date),
        "dateTimeChanged": ukg_stamp(e.last_modified),
    }


def demographics(company: Company, e: Employee) -> Row:
    r = company._rng("ukg:demographics", e.index)
    return {
        "employeeID": e.employee_id,
        "companyID": e.company_code,
        "gender": r.choice(["F", "M", "X"]),
        "maritalStatusCode": r.choice(["S", "M", "D", "W"]),
        "dateOfBirth": ukg_date(e.birth_date),
        "isDisabled": r.random() < 0.05,
        "isVeteran": r.random() < 0.08,
    }


def education(company: Company, e: Employee) -> list[Row]:
    r = company._rng("ukg:education", e.index)
    if r.random() < 0.4:
        return []
    school, school_name = r.choice(_SCHOOLS)
    degree, degree_name = r.choice(_DEGREES)
    return [
        {
            "employeeID": e.employee_id,
            "companyID": e.company_code,
            "educationID": f"ED{employee_number(e)}",
            "schoolCode": school,
            "schoolName": school_name,
            "degreeCode": degree,
            "degreeDescription": degree_name,
            "graduationDate": ukg_date(date(e.birth_date.year + 22, 6, 1)),
        }
    ]


def contacts(company: Company, e: Employee) -> list[Row]:
    r = company._rng("ukg:contacts", e.index)
    first = company.employee(r.randrange(company.scale)).first_name
    return [
        {
            "contactId": f"CT{employee_number(e)}",
            "employeeId": e.employee_id,
            "companyId": e.company_code,
            "firstName": first,
            "lastName": e.last_name,
            "relationship": r.choice(_RELATIONSHIPS),
            "isEmergencyContact": True,
            "homePhone": f"+1-555-{r.randrange(1000, 9999)}",
        }
    ]


def pto_plans(company: Company, e: Employee) -> list[Row]:
    return [
        {
            "employeeID": e.employee_id,
            "companyID": e.company_code,
            "ptoPlan": b.plan_code,
            "ptoPlanDescription": next(p.name for p in company.accrual_plans if p.code == b.plan_code),
            "earned": float(b.accrued_ytd),
            "taken": float(b.taken_ytd),
            "available": float(b.balance_hours),
            "asOfDate": ukg_date(b.as_of),
        }
        for b in company.accrual_balances(e.index)
    ]


def _country(company: Company, e: Employee) -> str | None:
    return location.parent if (location := company.location_by_code.get(e.location_code)) else None


PER_EMPLOYEE: dict[str, Callable[[Company, Employee], list[Row]]] = {
    "person-details": lambda c, e: [person_details(c, e)],
    "employment-details": lambda c, e: [employment_details(c, e)],
    "compensation-details": lambda c, e: [compensation_details(c, e)],
    "employee-job-history-details": job_history,
    "employee-demographic-details": lambda c, e: [demographics(c, e)],
    "employee-education": education,
    "contacts": contacts,
    "pto-plans": pto_plans,
}


def configuration(company: Company, resource: str) -> list[Row] | None:
    """Rows of a ``/configuration/v1/`` resource, or None when there is no such resource."""
    if resource == "jobs":
        return [
            {
                "jobCode": j.code,
                "description": job_description(company, j.code),
                "jobFamilyCode": "GEN",
                "flsaType": "E" if j.code in ("J003", "J004") else "N",
                "isActive": True,
            }
            for j in company.jobs
        ]
    if resource == "org-levels":
        return [{"level": 1, "code": d.code, "description": d.name, "isActive": True} for d in company.departments] + [
            {"level": 2, "code": c.code, "description": c.name, "isActive": True} for c in company.cost_centers
        ]
    if resource == "locations":
        return [
            {"locationCode": loc.code, "description": loc.name, "countryCode": loc.parent, "isActive": True}
            for loc in company.locations
        ]
    if resource == "company-details":
        return [
            {
                "companyID": c.code,
                "companyCode": c.code,
                "companyName": c.name,
                "countryCode": "CA" if c.code == "C200" else "US",
            }
            for c in company.legal_entities
        ]
    if resource == "pay-group-pay-period":
        return [
            {
                "payGroupCode": g.code,
                "periodControl": f"{p.pay_date:%Y%m%d}1",
                "payPeriodStartDate": ukg_date(p.start),
                "payPeriodEndDate": ukg_date(p.end),
                "payDate": ukg_date(p.pay_date),
            }
            for g in company.pay_groups
            for p in company.pay_periods()
        ]
    if resource == "earnings":
        return [
            {
                "earningCode": c.code,
                "description": c.name,
                "earningType": "HOURS" if c.code != "BON" else "AMOUNT",
                "isActive": True,
            }
            for c in company.earning_codes
        ]
    if resource == "deductions":
        return [
            {"deductionCode": c.code, "description": c.name, "deductionType": c.parent, "isActive": True}
            for c in company.deduction_codes
        ]
    if resource == "positions":
        return [
            {
                "positionCode": f"P{d.code[1:]}{j.code[1:]}",
                "description": f"{j.name}, {d.name}",
                "jobCode": j.code,
                "orgLevel1Code": d.code,
                "isActive": True,
            }
            for d in company.departments
            for j in company.jobs
        ]
    if resource == "shift-codes":
        return [{"shiftCode": c, "description": n, "startTime": s, "endTime": e} for c, n, s, e in SHIFT_CODES]
    if resource == "tax-groups":
        return [{"taxGroupCode": c, "description": n, "countryCode": k} for c, n, k in TAX_GROUPS]
    if resource == "code-tables":
        return [{"codeTable": name, "description": name.title()} for name in CODE_TABLES]
    return None


def code_table(name: str) -> list[Row] | None:
    rows = CODE_TABLES.get(name.upper())
    return None if rows is None else [{"code": c, "description": d, "isActive": True} for c, d in rows]


def employees_of(company: Company) -> Iterator[Employee]:
    return company.employees()
