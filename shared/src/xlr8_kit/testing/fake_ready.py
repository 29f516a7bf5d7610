"""A tiny product for testing the connector framework and its callers: a KitTap for ukg_ready over a local
HTTP server (``FakeReadyServer``), its connector, and the vocabulary mapping it needs (``MAPPING``, register it).

The server pages ``/api/v1/employees`` (``page``/``per_page``), needs ``Authorization: Bearer <token>`` and
honours two named filter parameters (``status`` and ``hired_from``) the vocabulary mapping declares for it.
"""

from __future__ import annotations

import typing as t

import requests
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.pagination import PageNumberPaginator

from xlr8_kit.auth.static import ApiKeyHeaders
from xlr8_kit.connectors import TapConnector
from xlr8_kit.query.stream import UniversalFilterMixin
from xlr8_kit.rest import KitRESTStream, KitRuntime, KitTap, kit_config_schema
from xlr8_kit.testing.faultserver import FaultServer, RecordedRequest, Reply
from xlr8_kit.vocabulary import FieldMap, StreamMapping
from xlr8_sandbox.company import Company

GOOD_TOKEN = "fake-ready-token-7c1e9b"
STATUS = {"active": "Active", "leave": "On Leave", "terminated": "Terminated"}
PATH = "/api/v1/employees"

MAPPING = StreamMapping(
    product="ukg_ready",
    stream="employees",
    entity="employee",
    truth_type="reality",
    fields={
        "employee_id": FieldMap("employee_id"),
        "first_name": FieldMap("first_name"),
        "last_name": FieldMap("last_name"),
        "hire_date": FieldMap("hired_date", "date"),
        "employment_status": FieldMap("status", values=tuple(STATUS.items())),
        "annual_salary": FieldMap("salary"),
        "manager_id": FieldMap("manager_employee_id"),
    },
    params={("employment_status", "="): "status", ("hire_date", ">="): "hired_from"},
)


def employee_rows(scale: int) -> list[dict[str, t.Any]]:
    return [
        {
            "employee_id": e.employee_id,
            "first_name": e.first_name,
            "last_name": e.last_name,
            "hired_date": e.hire_date.isoformat(),
            "status": STATUS[e.status],
            "salary": str(e.annual_salary),
            "manager_employee_id": e.manager_id,
        }
        for e in Company(seed=7, scale=scale).employees()
    ]


class FakeReadyServer(FaultServer):
    def __init__(self, scale: int = 23) -> None:
        super().__init__()
        self.rows = employee_rows(scale)
        self.route(PATH, self.employees)

    def employees(self, request: RecordedRequest) -> Reply:
        if request.headers.get("Authorization") != f"Bearer {GOOD_TOKEN}":
            return Reply(401, body={"error": "invalid token"})
        query = {k: v[0] for k, v in request.query.items()}
        rows = [
            r
            for r in self.rows
            if r["status"] == query.get("status", r["status"]) and r["hired_date"] >= query.get("hired_from", "")
        ]
        page, size = int(query.get("page", "1")), int(query.get("per_page", "10"))
        chunk = rows[(page - 1) * size : page * size]
        return Reply(200, body={"items": chunk, "has_more": page * size < len(rows)})

    @property
    def data_requests(self) -> int:
        return self.count(PATH)


class _Pages(PageNumberPaginator):
    def get_next(self, response: requests.Response) -> int | None:
        return self._value + 1 if response.json().get("has_more") else None


class EmployeesStream(UniversalFilterMixin, KitRESTStream):
    name = "employees"
    path = PATH
    primary_keys: t.ClassVar[list[str]] = ["employee_id"]
    records_jsonpath = "$.items[*]"
    schema = th.PropertiesList(
        th.Property("employee_id", th.StringType, required=True),
        th.Property("first_name", th.StringType),
        th.Property("last_name", th.StringType),
        th.Property("hired_date", th.DateType),
        th.Property("status", th.StringType),
        th.Property("salary", th.StringType),
        th.Property("manager_employee_id", th.StringType),
    ).to_dict()

    @property
    def url_base(self) -> str:
        return str(t.cast("TapFakeReady", self._tap).resolved_config["base_url"])

    def get_new_paginator(self) -> _Pages:
        return _Pages(1)

    def get_url_params(self, context: t.Any, next_page_token: t.Any) -> dict[str, t.Any]:
        return {"page": next_page_token or 1, "per_page": self.config.get("page_size", 10), **self.universal_params()}

    def parse_response(self, response: requests.Response) -> t.Iterable[dict[str, t.Any]]:
        yield from (record for record in super().parse_response(response) if self.keep_record(record))


class TapFakeReady(KitTap):
    name = "tap-fake-ready"
    product_id = "ukg_ready"
    config_jsonschema: t.ClassVar[dict[str, t.Any]] = kit_config_schema(
        th.PropertiesList(
            th.Property("base_url", th.StringType, description="Or from credential_id."),
            th.Property("api_token", th.StringType, secret=True, description="Or from credential_id."),
            th.Property("page_size", th.IntegerType, default=10),
        )
    )

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase:
        token = self.resolved_config.get("api_token")
        if not self.resolved_config.get("base_url"):
            raise ConfigValidationError("setting 'base_url' is required (directly or through credential_id)")
        if not token:
            raise ConfigValidationError("setting 'api_token' is required (directly or through credential_id)")
        return ApiKeyHeaders({"Authorization": f"Bearer {token}"}, redactor=runtime.redactor)

    def discover_streams(self) -> list[EmployeesStream]:
        return [EmployeesStream(self)]


class FakeReadyConnector(TapConnector):
    product_id = "ukg_ready"
    tap_class = TapFakeReady
