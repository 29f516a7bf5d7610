"""Ceiling for Oracle HCM: Fusion REST collection pages of 500 (Basic auth, ``onlyData``, the same ``fields``,
``expand`` and ``orderBy`` the tap sends), flattened the way the tap declares, until ``hasMore`` is false. Plain
requests; no SDK, no retries, no typing of values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ceilings._fusion import pages
from ceilings._fusion import tap_config as tap_config  # the harness reads it from this module

TAP = "tap-oracle-hcm"
STREAMS = {"workers": "workers", "jobs": "jobs", "absences": "absences"}
API = "/hcmRestApi/resources/11.13.18.05"
_WORKER_FIELDS = (
    "PersonId,PersonNumber,DateOfBirth,CorrespondenceLanguage,CreatedBy,CreationDate,LastUpdatedBy,LastUpdateDate;"
    "names:NameType,FirstName,LastName,DisplayName;emails:EmailType,EmailAddress;workRelationships:PrimaryFlag,"
    "StartDate,TerminationDate,LegalEntityId;workRelationships.assignments:AssignmentStatusType,JobCode,"
    "DepartmentName,LocationCode,GradeCode,PositionCode,ManagerPersonNumber,FullPartTime,PrimaryFlag"
)
_ORDER = {"workers": "LastUpdateDate:asc,PersonId:asc", "jobs": "LastUpdateDate:asc,JobId:asc",
          "absences": "LastUpdateDate:asc,PersonAbsenceEntryId:asc"}  # fmt: skip


def _rows(child: Any) -> list[dict[str, Any]]:
    """A child's rows: framework 4 sends a collection object (``items``, ``hasMore``), 1 and 2 an array. The
    emulator's workers have at most two rows per child, never cut at 25."""
    return (child.get("items") if isinstance(child, dict) else child) or [{}]


def _flatten(row: dict[str, Any]) -> dict[str, Any]:
    name = _rows(row.pop("names", None))[0]
    email = _rows(row.pop("emails", None))[0]
    relation = _rows(row.pop("workRelationships", None))[0]
    assignment = _rows(relation.get("assignments"))[0]
    row.update({k: name.get(k) for k in ("FirstName", "LastName", "DisplayName")})
    row["WorkEmail"] = email.get("EmailAddress")
    row.update(HireDate=relation.get("StartDate"), TerminationDate=relation.get("TerminationDate"),
               LegalEntityId=relation.get("LegalEntityId"))  # fmt: skip
    for key in ("AssignmentStatusType", "JobCode", "DepartmentName", "LocationCode", "GradeCode", "PositionCode",
                "ManagerPersonNumber", "FullPartTime"):  # fmt: skip
        row[key] = assignment.get(key)
    return row


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    params: dict[str, Any] = {"orderBy": _ORDER[stream]}
    if stream == "workers":
        params.update(fields=_WORKER_FIELDS, expand="names,emails,workRelationships,workRelationships.assignments")
    for items in pages(f"{url}{API}/{stream}", credentials, params):
        yield from (_flatten(item) for item in items) if stream == "workers" else items
