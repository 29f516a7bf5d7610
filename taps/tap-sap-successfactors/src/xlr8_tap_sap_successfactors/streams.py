"""What each SuccessFactors entity set is for the Intelligence Engine. Streams themselves come from
``$metadata`` (see ``discovery.py``); this module only declares.

Entity sets absent from this table are still offered: custom MDF objects keyed to a user (``userId``,
``cust_userId``) are annotated as employee facts, the rest carry no canonical entity.
"""

from __future__ import annotations

from xlr8_kit.declared import StreamDeclaration

#: Entity sets read when the ``entity_sets`` setting is not given.
DEFAULT_ENTITY_SETS: tuple[str, ...] = (
    "User",
    "PerPerson",
    "PerPersonal",
    "PerEmail",
    "EmpEmployment",
    "EmpJob",
    "FOCompany",
    "FODepartment",
    "FOLocation",
    "FOJobCode",
    "FOCostCenter",
)

_ORG = {"company": "company", "department": "department", "location": "location", "jobCode": "job"}

DECLARATIONS: dict[str, StreamDeclaration] = {
    "User": StreamDeclaration(
        "employee", references={"department": "department", "location": "location", "jobCode": "job"}
    ),
    "PerPerson": StreamDeclaration("employee"),
    "PerPersonal": StreamDeclaration("employee"),
    "PerEmail": StreamDeclaration("employee"),
    "EmpEmployment": StreamDeclaration("employee"),
    "EmpJob": StreamDeclaration("employee", references={**_ORG, "costCenter": "cost_center"}),
    "EmpCompensation": StreamDeclaration("compensation"),
    "FOCompany": StreamDeclaration("company", "configuration"),
    "FODepartment": StreamDeclaration("department", "configuration", {"costCenter": "cost_center"}),
    "FOLocation": StreamDeclaration("location", "configuration"),
    "FOJobCode": StreamDeclaration("job", "configuration"),
    "FOCostCenter": StreamDeclaration("cost_center", "configuration", {"legalEntity": "company"}),
    "FOPayGroup": StreamDeclaration("pay_group", "configuration"),
    "Position": StreamDeclaration("position", "configuration"),
}

#: Columns that tie a custom object's rows to a person.
USER_COLUMNS = ("userId", "cust_userId", "personIdExternal")


def declaration_for(entity_set: str, columns: list[str]) -> StreamDeclaration | None:
    if entity_set in DECLARATIONS:
        return DECLARATIONS[entity_set]
    user_column = next((c for c in USER_COLUMNS if c in columns), None)
    if user_column is not None:
        return StreamDeclaration("employee", references={user_column: "employee"} if user_column != "userId" else {})
    return None
