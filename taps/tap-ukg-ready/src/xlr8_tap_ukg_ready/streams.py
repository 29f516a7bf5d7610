"""UKG Ready v2 streams, declarations only: employees and their per-employee resources (Reality), and the
company's configuration lists (Configuration). Reports are made per configured report in ``tap.py``.

All are full-table: the v2 employee and configuration resources take no changed-since filter.
"""

from __future__ import annotations

import typing as t

from xlr8_tap_ukg_ready.client import ReadyStream

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class EmployeesStream(ReadyStream):
    """``GET /employees``: one row per employee account (``id``), paged with ``size`` and ``_links.next``.

    The list item as UKG documents it (UKG's v2 reference as the UKG Ready .NET SDK models it, ``Employee`` and
    ``EmployeeDates``; a provisioning client reads it alike): ``id, username, first_name, last_name, employee_id,
    external_id, primary_account_id, ein_name, status, dates: {hired, re_hired, started, terminated}, _links``. Job,
    location, cost center, manager and e-mail are not in it, so they are not columns here."""

    name = "employees"
    resource = "/employees"
    paged = True
    records_jsonpath = "$.employees[*]"
    primary_keys: t.ClassVar[list[str]] = ["employee_id"]
    xlr8_entity = "employee"
    columns: t.ClassVar[dict[str, str]] = {
        "id": "i",
        "employee_id": "s",
        "external_id": "s",
        "first_name": "s",
        "last_name": "s",
        "ein_name": "s",
        "status": "s",
        "hired_date": "d",
        "re_hired_date": "d",
        "started_date": "d",
        "terminated_date": "d",
    }
    nested: t.ClassVar[dict[str, tuple[str, str]]] = {
        "hired_date": ("dates", "hired"),
        "re_hired_date": ("dates", "re_hired"),
        "started_date": ("dates", "started"),
        "terminated_date": ("dates", "terminated"),
    }

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        return {"account_id": record["id"]}


class EmployeeResourceStream(ReadyStream):
    """One object per employee account: ``/employees/{account_id}/<resource>``. One call per employee counts
    against the tenant's rate limit, so these are offered but only synced when the catalog selects them."""

    selected_by_default = False
    #: One unpaged call per employee: nothing to read ahead (a worker thread per call would only cost).
    read_ahead_pages = False
    parent_stream_type = EmployeesStream
    ignore_parent_replication_keys = True
    state_partitioning_keys: t.ClassVar[list[str]] = []
    primary_keys: t.ClassVar[list[str]] = ["employee_id"]
    records_jsonpath = "$"
    xlr8_references: t.ClassVar[dict[str, str]] = {"employee_id": "employee"}


class EmployeeDemographicsStream(EmployeeResourceStream):
    name = "employee_demographics"
    resource = "/employees/{account_id}/demographics"
    xlr8_entity = "employee"
    columns: t.ClassVar[dict[str, str]] = {
        "employee_id": "s",
        "birth_date": "d",
        "gender": "s",
        "address_city": "s",
        "address_country": "s",
    }

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        address = row.get("address") or {}
        flat = {**row, "address_city": address.get("city"), "address_country": address.get("country")}
        return super().post_process(flat, context)


class EmployeePayInfoStream(EmployeeResourceStream):
    name = "employee_pay_info"
    resource = "/employees/{account_id}/pay-info"
    xlr8_entity = "compensation"
    columns: t.ClassVar[dict[str, str]] = {
        "employee_id": "s",
        "pay_type": "s",
        "annual_salary": "n",
        "hourly_rate": "n",
        "currency": "s",
        "pay_period": "s",
        "effective_from": "d",
    }


class ConfigStream(ReadyStream):
    """A company configuration list (``/config/<resource>``), one response, rows under ``records_jsonpath``."""

    xlr8_truth_type = "configuration"
    primary_keys: t.ClassVar[list[str]] = ["code"]


class CostCentersStream(ConfigStream):
    name = "cost_centers"
    resource = "/config/cost-centers"
    records_jsonpath = "$.cost_centers[*]"
    xlr8_entity = "cost_center"
    columns: t.ClassVar[dict[str, str]] = {"id": "i", "code": "s", "name": "s", "parent_code": "s"}


class PayTypesStream(ConfigStream):
    name = "pay_types"
    resource = "/config/pay-types"
    records_jsonpath = "$.pay_types[*]"
    xlr8_entity = "earning"
    columns: t.ClassVar[dict[str, str]] = {"id": "i", "code": "s", "name": "s", "type": "s"}


class JobTitlesStream(ConfigStream):
    name = "job_titles"
    resource = "/config/job-titles"
    records_jsonpath = "$.job_titles[*]"
    xlr8_entity = "job"
    columns: t.ClassVar[dict[str, str]] = {"id": "i", "code": "s", "name": "s"}


REST_STREAMS: tuple[type[ReadyStream], ...] = (
    EmployeesStream,
    EmployeeDemographicsStream,
    EmployeePayInfoStream,
    CostCentersStream,
    PayTypesStream,
    JobTitlesStream,
)
