"""UKG Ready v2 streams, declarations only: employees and their per-employee resources (Reality), and the
company's configuration lists (Configuration). Reports are made per configured report in ``tap.py``.

All are full-table: the v2 employee and configuration resources take no changed-since filter.
"""

from __future__ import annotations

import typing as t
from urllib.parse import quote

from xlr8_kit.columns import schema_of
from xlr8_kit.http.errors import ClientRequestError
from xlr8_kit.http.errors import json_kind as _kind
from xlr8_tap_ukg_ready.client import ReadyShapeError, ReadyStream

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.helpers.types import Context

    from xlr8_tap_ukg_ready.tap import TapUkgReady


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

    def __init__(self, tap: TapUkgReady, **kwargs: t.Any) -> None:
        settings = tap.settings
        if settings.employee_details:
            kwargs.setdefault("schema", schema_of({**self.columns, **detail_columns(settings.cost_center_trees)}))
        super().__init__(tap, **kwargs)
        #: account id -> employee_id of every employee seen (list rows, managers' records read), for managers.
        self._employee_ids: dict[t.Any, t.Any] = {}
        #: account id -> the record of a manager read before their own row was listed: used for that row, not read
        #: again (one call per employee against the rate limit).
        self._read_ahead: dict[t.Any, dict[str, t.Any]] = {}

    def get_child_context(self, record: dict[str, t.Any], context: Context | None) -> dict[str, t.Any]:
        return {"account_id": record["id"], "employee_id": record["employee_id"]}

    @property
    def xlr8_annotation(self) -> dict[str, t.Any] | None:
        """With ``employee_details``, ``manager_employee_id`` references the employee. Not in the vocabulary's
        mapping: that would offer a universal query the e-mail and manager of a stream that, with the setting
        off, does not have them (nulls instead of the query's "not carried" error)."""
        annotation = super().xlr8_annotation
        if annotation is not None and "manager_employee_id" in self.schema.get("properties", {}):
            from xlr8_kit.vocabulary.annotations import semantic_type

            references = annotation.setdefault("references", {})
            references["manager_employee_id"] = {"entity": "employee", "semantic_type": semantic_type("employee")}
        return annotation

    def enrich(self, rows: list[t.Any]) -> list[t.Any]:
        """With ``employee_details``: each row with the columns of the employee's full record
        (``GET .../employees/{id}``, the list item's ``_links.self``), read one employee at a time."""
        if not self.settings.employee_details:
            return rows
        for row in rows:
            if isinstance(row, dict):
                self._employee_ids[row.get("id")] = row.get("employee_id")
        return [self._with_details(row) if isinstance(row, dict) else row for row in rows]

    def _record_of(self, account_id: t.Any) -> dict[str, t.Any]:
        try:
            record = t.cast("TapUkgReady", self._tap).client.get_json(f"{self.path}/{quote(str(account_id), safe='')}")
        except ClientRequestError as exc:  # the operator is told which setting made the call
            raise ClientRequestError(
                f"{exc} (employee account {account_id}'s record, read because the setting employee_details is on)",
                status=exc.status,
                path=exc.path,
            ) from None
        if not isinstance(record, dict):
            raise ReadyShapeError(
                f"ukg_ready employee {account_id}: the record is {_kind(record)}, where UKG documents an object"
            )
        return record

    def _with_details(self, row: dict[str, t.Any]) -> dict[str, t.Any]:
        record = self._read_ahead.pop(row.get("id"), None) or self._record_of(row.get("id"))
        flat = employee_details(record, self.settings.cost_center_trees)
        manager = flat["manager_account_id"]
        if manager is not None:
            if manager not in self._employee_ids:  # not listed yet: the manager's own record names them
                self._employee_ids[manager] = self._manager_employee_id(manager, row.get("id"))
            flat["manager_employee_id"] = self._employee_ids[manager]
        return {**row, **flat}

    def _manager_employee_id(self, manager: t.Any, of: t.Any) -> t.Any:
        """The manager's ``employee_id`` from their record. A manager the API user may not read (403: another
        company, outside its security group) or that is gone (404) costs only that column: the employees land with
        ``manager_account_id``, and a warning names the manager (once: the answer is kept), never a silent null."""
        try:
            record = self._record_of(manager)
        except ClientRequestError as exc:
            if exc.status not in (403, 404):
                raise
            self.logger.warning(
                "ukg_ready employees: manager account %s (first met as employee account %s's manager) cannot be "
                "read: HTTP %s; manager_employee_id is null for the employees they manage, manager_account_id is "
                "kept. Let the API user read that employee, or turn employee_details off",
                manager,
                of,
                exc.status,
            )
            return None
        self._read_ahead[manager] = record
        return record.get("employee_id")


def detail_columns(trees: t.Iterable[int]) -> dict[str, str]:
    """The columns ``employee_details`` adds to ``employees``."""
    columns = {"primary_email": "s", "manager_account_id": "i", "manager_employee_id": "s"}
    columns.update({f"cost_center_{index}_id": "i" for index in trees})
    return columns


def _listed_at(item: dict[str, t.Any]) -> int:
    """An indexed item's ``index`` (one without an integer index sorts last)."""
    index = item.get("index")
    return index if isinstance(index, int) and not isinstance(index, bool) else 1 << 30


def employee_details(record: dict[str, t.Any], trees: t.Iterable[int]) -> dict[str, t.Any]:
    """``detail_columns`` from one employee's full record, in the shape Ready's public clients read and write it:
    ``primary_email``; ``managers: [{index, empl_ref: {account_id}}]`` (the manager at index 0, as a provisioning
    client uses the first); ``cost_centers_info: {defaults: [{index, value: {id}}]}`` (the default cost center of
    each tree). Another shape of either is a ``ReadyShapeError`` naming the field, never nulls."""
    where = f"ukg_ready employee {record.get('id')}"
    managers = record.get("managers") or []
    if not isinstance(managers, list) or not all(isinstance(m, dict) for m in managers):
        raise ReadyShapeError(f"{where}: 'managers' is {_kind(managers)}, where UKG documents a list of objects")
    first: dict[str, t.Any] = min(managers, key=_listed_at, default={})
    ref = first.get("empl_ref") or {}
    if not isinstance(ref, dict):
        raise ReadyShapeError(f"{where}: 'managers[].empl_ref' is {_kind(ref)}, where UKG documents an object")
    info = record.get("cost_centers_info") or {}
    defaults = info.get("defaults") if isinstance(info, dict) else None
    if not isinstance(info, dict) or not isinstance(defaults or [], list):
        raise ReadyShapeError(
            f"{where}: 'cost_centers_info' is {_kind(info)}, where UKG documents {{defaults: [{{index, value}}]}}"
        )
    by_tree: dict[t.Any, t.Any] = {}
    for item in defaults or []:
        value = item.get("value") if isinstance(item, dict) else None
        if not isinstance(value, dict):
            raise ReadyShapeError(
                f"{where}: a 'cost_centers_info.defaults' item is {_kind(item)}, not {{index, value: {{id}}}}"
            )
        by_tree[item.get("index")] = value.get("id")
    flat = {
        "primary_email": record.get("primary_email"),
        "manager_account_id": ref.get("account_id"),
        "manager_employee_id": None,
    }
    flat.update({f"cost_center_{index}_id": by_tree.get(index) for index in trees})
    return flat


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

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        """``employee_id`` is the parent row's: UKG's per-employee answers need not carry it (pay info does not)."""
        if context is not None:
            row = {**row, "employee_id": context["employee_id"]}
        return super().post_process(row, context)


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
    """Pay info as UKG's public clients read it: ``pay_type`` and ``default_job`` are objects (``{"id", ...}``);
    the ids are the pay-type and job lists' ids."""

    name = "employee_pay_info"
    resource = "/employees/{account_id}/pay-info"
    xlr8_entity = "compensation"
    columns: t.ClassVar[dict[str, str]] = {
        "employee_id": "s",
        "pay_type_id": "i",
        "pay_type_name": "s",
        "default_job_id": "i",
        "annual_salary": "n",
        "hourly_rate": "n",
        "currency": "s",
        "pay_period": "s",
        "effective_from": "d",
    }
    nested: t.ClassVar[dict[str, tuple[str, str]]] = {
        "pay_type_id": ("pay_type", "id"),
        "pay_type_name": ("pay_type", "name"),
        "default_job_id": ("default_job", "id"),
    }


class ConfigStream(ReadyStream):
    """A company configuration list (``/config/<resource>``), one response, rows under ``records_jsonpath``. Keyed
    by ``id``: the one field a public Ready client reads on pay types and jobs (it indexes both by ``id``, as pay
    info's ``pay_type.id`` / ``default_job.id`` name them); ``code`` is read where the emulator puts it but is
    unconfirmed on the real answers, and a missing key would land every row with a null key (review26a L9)."""

    xlr8_truth_type = "configuration"
    primary_keys: t.ClassVar[list[str]] = ["id"]


class CostCentersStream(ConfigStream):
    """``/config/cost-centers?tree_index=N``, one call per tree (setting ``cost_center_trees``): each answers its
    whole tree, ``{id, name, external_id, parent_id}`` per item, as UKG's public clients read it. Departments,
    locations and unions are trees of their own, so every configured tree is read; keyed by ``(tree_index, id)``."""

    name = "cost_centers"
    resource = "/config/cost-centers"
    records_jsonpath = "$.cost_centers[*]"
    xlr8_entity = "cost_center"
    primary_keys: t.ClassVar[list[str]] = ["tree_index", "id"]
    state_partitioning_keys: t.ClassVar[list[str]] = []
    columns: t.ClassVar[dict[str, str]] = {
        "tree_index": "i",
        "id": "i",
        "external_id": "s",
        "name": "s",
        "parent_id": "i",
        "parent_external_id": "s",
    }

    @property
    def partitions(self) -> list[dict[str, t.Any]] | None:
        return [{"tree_index": index} for index in self.settings.cost_center_trees]

    def get_url_params(self, context: Context | None, next_page_token: t.Any | None) -> dict[str, t.Any]:
        params = super().get_url_params(context, next_page_token)
        if context is not None:
            params["tree_index"] = context["tree_index"]
        return params

    def get_records(self, context: Context | None) -> t.Iterable[dict[str, t.Any]]:
        """A tree the tenant refuses names the setting (the trees a tenant has are not listed by any call we
        know of)."""
        try:
            yield from super().get_records(context)
        except ClientRequestError as exc:
            index = (context or {}).get("tree_index")
            raise ClientRequestError(
                f"{exc} (cost-center tree_index {index}: setting 'cost_center_trees' lists the trees to read; "
                "leave out the ones the tenant does not have)",
                status=exc.status,
                path=exc.path,
            ) from None

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        """The tree's rows, each with its parent's ``external_id`` (the answer holds the whole tree)."""
        rows = list(super().parse_response(response))
        external = {row.get("id"): row.get("external_id") for row in rows if isinstance(row, dict)}
        return [
            {**row, "parent_external_id": external.get(row.get("parent_id"))} if isinstance(row, dict) else row
            for row in rows
        ]

    def post_process(self, row: dict[str, t.Any], context: Context | None = None) -> dict[str, t.Any] | None:
        if isinstance(row, dict) and context is not None:
            row = {**row, "tree_index": context["tree_index"]}
        return super().post_process(row, context)


class PayTypesStream(ConfigStream):
    """The company's pay types where a public Ready client reads them: v1 ``GET /ta/rest/v1/company/pay-types``
    (the company is the token's; ``{"pay_types": [...]}``). There is no v2 ``config/pay-types``."""

    name = "pay_types"
    records_jsonpath = "$.pay_types[*]"
    xlr8_entity = "earning"
    columns: t.ClassVar[dict[str, str]] = {"id": "i", "code": "s", "name": "s", "type": "s"}

    @property
    def path(self) -> str:  # type: ignore[override]
        return "/ta/rest/v1/company/pay-types"


class JobTitlesStream(ConfigStream):
    """The company's jobs, ``GET .../lookup/jobs`` (``{"items": [...]}``; ``id`` is what pay info's ``default_job``
    names), as a public Ready client reads them. There is no ``config/job-titles``."""

    name = "job_titles"
    resource = "/lookup/jobs"
    records_jsonpath = "$.items[*]"
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
