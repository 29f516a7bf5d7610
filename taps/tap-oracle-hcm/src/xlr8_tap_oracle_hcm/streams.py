"""What each HCM resource is for the Intelligence Engine. Streams themselves come from each resource's describe
(``xlr8_kit.oracle``); this module only declares: entities, references, children, flatten rules."""

from __future__ import annotations

from xlr8_kit.oracle import Flatten, ResourceDeclaration

DEFAULT_RESOURCES: tuple[str, ...] = (
    "workers",
    "jobs",
    "locations",
    "departments",
    "grades",
    "positions",
    "absences",
)

_PRIMARY = {"PrimaryFlag": True}

DECLARATIONS: dict[str, ResourceDeclaration] = {
    "workers": ResourceDeclaration(
        entity="employee",
        references={"JobCode": "job", "LocationCode": "location", "ManagerPersonNumber": "employee"},
        children=("names", "emails", "workRelationships", "workRelationships.assignments"),
        child_entities=dict.fromkeys(
            ("names", "emails", "workRelationships", "workRelationships.assignments"), "employee"
        ),
        flatten=(
            Flatten(
                "names",
                {"FirstName": "FirstName", "LastName": "LastName", "DisplayName": "DisplayName"},
                {"NameType": "GLOBAL"},
            ),
            Flatten("emails", {"EmailAddress": "WorkEmail"}, {"EmailType": "W1"}),
            Flatten(
                "workRelationships",
                {"StartDate": "HireDate", "TerminationDate": "TerminationDate", "LegalEntityId": "LegalEntityId"},
                _PRIMARY,
            ),
            Flatten(
                "workRelationships.assignments",
                {
                    name: name
                    for name in (
                        "AssignmentStatusType",
                        "JobCode",
                        "DepartmentName",
                        "LocationCode",
                        "GradeCode",
                        "PositionCode",
                        "ManagerPersonNumber",
                        "FullPartTime",
                    )
                },
                _PRIMARY,
            ),
        ),
    ),
    "jobs": ResourceDeclaration("job", "configuration"),
    "locations": ResourceDeclaration("location", "configuration"),
    "departments": ResourceDeclaration("department", "configuration"),
    "grades": ResourceDeclaration("code_table", "configuration"),  # a tenant code list (no grade entity yet)
    "positions": ResourceDeclaration("position", "configuration", {"JobCode": "job"}),
    "absences": ResourceDeclaration("employee", references={"PersonNumber": "employee"}),  # a person's facts
}
