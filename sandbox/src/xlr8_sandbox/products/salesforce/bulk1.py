"""Bulk API 1.0 query jobs: ``/services/async/<version>/job``, batches and their results.

Follows the Bulk API developer guide (asynchronous API, Bulk API 1.0): a job is created (XML or JSON body, answered
in the same format), a query batch is posted (the SOQL text as the body), batches move Queued -> InProgress ->
Completed (or Failed with a ``stateMessage``), the completed batch lists result ids and each result is the data in
the job's content type (CSV with every value quoted, JSON records with ``attributes``, or XML ``queryResult``).
Authentication is the session id in ``X-SFDC-Session`` (an OAuth access token works there; so does a Bearer
header). Errors are ``<error><exceptionCode/><exceptionMessage/></error>`` (or the JSON equivalent).

PK chunking (``Sforce-Enable-PKChunking: chunkSize=N`` on job creation) splits each query batch into batches of N
consecutive record ids; the original batch then reports ``NotProcessed`` and has no results, as on a real org.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import secrets
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from xlr8_kit.xmlsafe import XMLParseError, parse_xml
from xlr8_sandbox.products import salesforce as sf
from xlr8_sandbox.products.salesforce import soql
from xlr8_sandbox.products.salesforce.objects import sf_datetime

NS = "http://www.force.com/2009/06/asyncapi/dataload"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
CONTENT_TYPES = {"CSV": "text/csv", "JSON": "application/json", "XML": "application/xml"}
PK_CHUNK_DEFAULT = 100_000
PK_CHUNK_MAX = 250_000


class BulkError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Batch:
    id: str
    job_id: str
    query: str
    created: str
    plan: sf._Plan | None = None
    state: str = "Queued"
    state_message: str | None = None
    polls: int = 0
    processed: int = 0
    #: Set when the batch will fail while processing (malformed query, compound or binary fields).
    error: str | None = None


@dataclass
class Job:
    id: str
    operation: str
    object: str
    content_type: str
    created: str
    api_version: str
    pk_chunk_size: int | None
    state: str = "Open"
    batches: dict[str, Batch] = field(default_factory=dict)


def _wants_json(request: Request, job: Job | None = None) -> bool:
    if job is not None:
        return job.content_type == "JSON"
    return "json" in request.headers.get("content-type", "") or "json" in request.headers.get("accept", "")


def _xml(root_name: str, fields: list[tuple[str, Any]]) -> bytes:
    root = etree.Element(f"{{{NS}}}{root_name}", nsmap={None: NS})
    for name, value in fields:
        if value is not None:
            etree.SubElement(root, f"{{{NS}}}{name}").text = str(value)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _reply(request: Request, root_name: str, fields: list[tuple[str, Any]], job: Job | None = None,
           status: int = 200) -> Response:  # fmt: skip
    if _wants_json(request, job):
        return Response(json.dumps(dict(fields)), status_code=status, media_type="application/json")
    return Response(_xml(root_name, fields), status_code=status, media_type="application/xml")


def error_response(request: Request, status: int, code: str, message: str) -> Response:
    """Bulk 1.0's own error shape (not the REST API's list of errors)."""
    return _reply(request, "error", [("exceptionCode", code), ("exceptionMessage", message)], status=status)


class BulkV1:
    """The Bulk API 1.0 endpoints of one emulated org (jobs live until ``reset``)."""

    def __init__(self, emulator: sf.SalesforceEmulator) -> None:
        self.emulator = emulator
        self.jobs: dict[str, Job] = {}

    def routes(self) -> list[BaseRoute]:
        base = "/services/async/{version}/job"
        return [
            Route(base, self._wrap(self.create_job), methods=["POST"]),
            Route(base + "/{job_id}", self._wrap(self.job_info), methods=["GET", "POST"]),
            Route(base + "/{job_id}/batch", self._wrap(self.batches), methods=["GET", "POST"]),
            Route(base + "/{job_id}/batch/{batch_id}", self._wrap(self.batch_info), methods=["GET"]),
            Route(base + "/{job_id}/batch/{batch_id}/request", self._wrap(self.batch_request), methods=["GET"]),
            Route(base + "/{job_id}/batch/{batch_id}/result", self._wrap(self.result_list), methods=["GET"]),
            Route(base + "/{job_id}/batch/{batch_id}/result/{result_id}", self._wrap(self.result), methods=["GET"]),
        ]

    def reset(self) -> None:
        self.jobs.clear()

    def _wrap(self, handler: Any) -> Any:
        emulator = self.emulator

        async def endpoint(request: Request) -> Response:
            emulator.request_log.append((request.method, request.url.path))
            token = request.headers.get("x-sfdc-session")
            auth = request.headers.get("authorization", "")
            if token is None and auth.lower().startswith("bearer "):
                token = auth[7:]
            if emulator.ctx.tokens.check(sf.PRODUCT, token) is None:
                return error_response(request, 400, "InvalidSessionId", "Invalid session id")
            if request.path_params["version"] not in sf.API_VERSIONS:
                return error_response(request, 404, "InvalidUrl", "Destination URL not reset. The URL is invalid.")
            try:
                return await handler(request)
            except BulkError as exc:
                return error_response(request, exc.status, exc.code, exc.message)

        return endpoint

    # --- jobs ----------------------------------------------------------------------------------------------------
    async def _body_fields(self, request: Request) -> dict[str, str]:
        raw = await request.body()
        if "json" in request.headers.get("content-type", ""):
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                raise BulkError(400, "InvalidJob", "Unable to parse the JSON job information") from None
            return {k: str(v) for k, v in parsed.items()} if isinstance(parsed, dict) else {}
        try:
            root = parse_xml(raw)
        except XMLParseError as exc:
            raise BulkError(400, "InvalidXML", f"Unable to parse the job information: {exc}") from None
        return {etree.QName(child).localname: (child.text or "") for child in root}

    def _job_fields(self, job: Job) -> list[tuple[str, Any]]:
        count = {state: sum(1 for b in job.batches.values() if b.state == state) for state in
                 ("Queued", "InProgress", "Completed", "Failed", "NotProcessed")}  # fmt: skip
        return [
            ("id", job.id),
            ("operation", job.operation),
            ("object", job.object),
            ("createdById", "005000000000000AAA"),
            ("createdDate", job.created),
            ("systemModstamp", job.created),
            ("state", job.state),
            ("concurrencyMode", "Parallel"),
            ("contentType", job.content_type),
            ("numberBatchesQueued", count["Queued"]),
            ("numberBatchesInProgress", count["InProgress"]),
            ("numberBatchesCompleted", count["Completed"]),
            ("numberBatchesFailed", count["Failed"]),
            ("numberBatchesTotal", len(job.batches)),
            ("numberRecordsProcessed", sum(b.processed for b in job.batches.values())),
            ("numberRetries", 0),
            ("apiVersion", job.api_version),
            ("numberRecordsFailed", 0),
            ("totalProcessingTime", 0),
            ("apiActiveProcessingTime", 0),
            ("apexProcessingTime", 0),
        ]

    async def create_job(self, request: Request) -> Response:
        fields = await self._body_fields(request)
        operation = fields.get("operation", "")
        if operation not in ("query", "queryAll"):
            raise BulkError(400, "InvalidJob", f"The emulator serves query jobs only, not {operation!r}")
        name = fields.get("object", "")
        if name not in self.emulator.objects:
            raise BulkError(400, "InvalidJob", f"Unable to find object: {name}")
        content_type = fields.get("contentType", "XML")
        if content_type not in CONTENT_TYPES:
            raise BulkError(400, "InvalidJob", f"Invalid content type: {content_type}")
        job = Job(
            id="750" + secrets.token_hex(8)[:12] + "AAA",
            operation=operation,
            object=name,
            content_type=content_type,
            created=sf_datetime(datetime.now(UTC)),
            api_version=request.path_params["version"],
            pk_chunk_size=_pk_chunk_size(request.headers.get("sforce-enable-pkchunking")),
        )
        self.jobs[job.id] = job
        return _reply(request, "jobInfo", self._job_fields(job), status=201)

    def _job(self, request: Request) -> Job:
        job = self.jobs.get(request.path_params["job_id"])
        if job is None:
            raise BulkError(400, "InvalidJob", f"Invalid job id: {request.path_params['job_id']}")
        return job

    async def job_info(self, request: Request) -> Response:
        job = self._job(request)
        if request.method == "POST":
            state = (await self._body_fields(request)).get("state", "")
            if state not in ("Closed", "Aborted"):
                raise BulkError(400, "InvalidJobState", f"Invalid state: {state}")
            job.state = state
        for batch in job.batches.values():
            self._advance(batch)
        return _reply(request, "jobInfo", self._job_fields(job), job)

    # --- batches -------------------------------------------------------------------------------------------------
    def _batch_fields(self, batch: Batch) -> list[tuple[str, Any]]:
        return [
            ("id", batch.id),
            ("jobId", batch.job_id),
            ("state", batch.state),
            ("stateMessage", batch.state_message),
            ("createdDate", batch.created),
            ("systemModstamp", batch.created),
            ("numberRecordsProcessed", batch.processed),
            ("numberRecordsFailed", 0),
            ("totalProcessingTime", 0),
            ("apiActiveProcessingTime", 0),
            ("apexProcessingTime", 0),
        ]

    def _new_batch(self, job: Job, query: str) -> Batch:
        batch = Batch("751" + secrets.token_hex(8)[:12] + "AAA", job.id, query, sf_datetime(datetime.now(UTC)))
        job.batches[batch.id] = batch
        self.emulator.bulk1_batches += 1
        return batch

    async def batches(self, request: Request) -> Response:
        job = self._job(request)
        if request.method == "GET":
            for batch in job.batches.values():
                self._advance(batch)
            infos = [dict(self._batch_fields(b)) for b in job.batches.values()]
            if _wants_json(request, job):
                return Response(json.dumps({"batchInfo": infos}), media_type="application/json")
            root = etree.Element(f"{{{NS}}}batchInfoList", nsmap={None: NS})
            for info in infos:
                node = etree.SubElement(root, f"{{{NS}}}batchInfo")
                for name, value in info.items():
                    if value is not None:
                        etree.SubElement(node, f"{{{NS}}}{name}").text = str(value)
            return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), media_type="application/xml")
        if job.state != "Open":
            raise BulkError(400, "InvalidJobState", f"Job {job.id} is {job.state}: no batches can be added")
        query = (await request.body()).decode("utf-8").strip()
        batch = self._new_batch(job, query)
        try:
            plan = self.emulator._plan(query, include_deleted=job.operation == "queryAll", check_timeout=False)
        except sf.SalesforceError as exc:  # the batch is accepted and fails while processing, as on a real org
            batch.error = f"InvalidBatch : Failed to process query: {exc.code}: {exc.message}"
            return _reply(request, "batchInfo", self._batch_fields(batch), job, status=201)
        except soql.SoqlError as exc:
            batch.error = f"InvalidBatch : Failed to process query: MALFORMED_QUERY: {exc}"
            return _reply(request, "batchInfo", self._batch_fields(batch), job, status=201)
        refusal = sf.bulk_refusal(plan.sobject, plan.query.fields)
        if plan.sobject.name != job.object:
            refusal = f"Query object {plan.sobject.name} does not match the job's object {job.object}"
        if refusal:
            batch.error = f"InvalidBatch : Failed to process query: FUNCTIONALITY_NOT_ENABLED: {refusal}"
        elif job.pk_chunk_size:
            # The original batch only describes the work; one batch per id range does it.
            batch.state, batch.state_message = "NotProcessed", None
            count = plan.sobject.count
            for low in range(0, count, job.pk_chunk_size):
                high = min(low + job.pk_chunk_size, count)
                chunk = self._new_batch(job, f"{query} [ids {plan.sobject.record_id(low)} .. {high}]")
                chunk.plan = _id_range(plan, low, high)
        else:
            batch.plan = plan
        return _reply(request, "batchInfo", self._batch_fields(batch), job, status=201)

    def _advance(self, batch: Batch) -> None:
        """Each poll moves a queued batch on; after ``bulk_polls_before_complete`` polls it is done."""
        if batch.state in ("Completed", "Failed", "NotProcessed"):
            return
        batch.polls += 1
        if batch.polls <= self.emulator.bulk_polls_before_complete:
            batch.state = "InProgress"
        elif batch.error:
            batch.state, batch.state_message = "Failed", batch.error
        else:
            assert batch.plan is not None
            batch.processed = sum(1 for _ in self.emulator._rows(batch.plan, _start(batch.plan)))
            batch.state = "Completed"

    def _batch(self, request: Request) -> tuple[Job, Batch]:
        job = self._job(request)
        batch = job.batches.get(request.path_params["batch_id"])
        if batch is None:
            raise BulkError(400, "InvalidBatch", f"Invalid batch id: {request.path_params['batch_id']}")
        return job, batch

    async def batch_info(self, request: Request) -> Response:
        job, batch = self._batch(request)
        self._advance(batch)
        return _reply(request, "batchInfo", self._batch_fields(batch), job)

    async def batch_request(self, request: Request) -> Response:
        _job, batch = self._batch(request)
        return Response(batch.query, media_type="text/plain")

    # --- results -------------------------------------------------------------------------------------------------
    def _completed(self, request: Request) -> tuple[Job, Batch]:
        job, batch = self._batch(request)
        if batch.state == "Failed":
            raise BulkError(400, "InvalidBatch", batch.state_message or "Batch failed")
        if batch.state not in ("Completed", "NotProcessed"):
            raise BulkError(400, "InvalidBatch", f"Batch not completed: {batch.state}")
        return job, batch

    async def result_list(self, request: Request) -> Response:
        job, batch = self._completed(request)
        ids = [] if batch.state == "NotProcessed" else ["752" + batch.id[3:]]
        if _wants_json(request, job):
            return Response(json.dumps(ids), media_type="application/json")
        root = etree.Element(f"{{{NS}}}result-list", nsmap={None: NS})
        for result_id in ids:
            etree.SubElement(root, f"{{{NS}}}result").text = result_id
        return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), media_type="application/xml")

    async def result(self, request: Request) -> Response:
        job, batch = self._completed(request)
        if batch.state == "NotProcessed" or request.path_params["result_id"] != "752" + batch.id[3:]:
            raise BulkError(400, "InvalidBatch", f"Invalid result id: {request.path_params['result_id']}")
        assert batch.plan is not None
        plan, version = batch.plan, job.api_version
        names = plan.query.fields
        records = (record for record, _after in self.emulator._rows(plan, _start(plan)))
        if job.content_type == "CSV":
            buffer = io.StringIO()
            writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
            writer.writerow(names)
            for record in records:
                writer.writerow([_csv_value(record.get(n)) for n in names])
            return Response(buffer.getvalue(), media_type="text/csv; charset=UTF-8")
        types = plan.sobject.field_types
        if job.content_type == "JSON":
            rows = [
                {
                    "attributes": {"type": plan.sobject.name, "url": _record_url(version, plan.sobject.name, r["Id"])},
                    **{n: _json_value(r.get(n), types.get(n)) for n in names},
                }
                for r in records
            ]
            return Response(json.dumps(rows, default=float), media_type="application/json")
        root = etree.Element(f"{{{NS}}}queryResult", nsmap={None: NS, "xsi": XSI})
        for record in records:
            node = etree.SubElement(root, f"{{{NS}}}records", {f"{{{XSI}}}type": "sObject"})
            etree.SubElement(node, f"{{{NS}}}type").text = plan.sobject.name
            for name in names:
                value = record.get(name)
                child = etree.SubElement(node, f"{{{NS}}}{name}")
                if value is None:
                    child.set(f"{{{XSI}}}nil", "true")
                else:
                    child.text = _csv_value(value)
        return Response(etree.tostring(root, xml_declaration=True, encoding="UTF-8"), media_type="application/xml")


def _pk_chunk_size(header: str | None) -> int | None:
    """``Sforce-Enable-PKChunking: true`` or ``chunkSize=50000``: the chunk size, or None when not enabled."""
    if not header:
        return None
    value = header.strip()
    if value.lower() == "false":
        return None
    size = PK_CHUNK_DEFAULT
    for part in value.split(";"):
        key, _, raw = part.strip().partition("=")
        if key.strip() == "chunkSize":
            if not raw.strip().isdigit() or not 1 <= int(raw) <= PK_CHUNK_MAX:
                raise BulkError(400, "InvalidJob", f"Invalid chunkSize {raw!r}: 1 to {PK_CHUNK_MAX}")
            size = int(raw)
    return size


def _id_range(plan: sf._Plan, low: int, high: int) -> sf._Plan:
    """The plan restricted to record ids ``low`` .. ``high`` (exclusive), as a PK chunk's WHERE Id range does."""
    sobject = plan.sobject
    overlay = [r for r in plan.overlay if low <= sobject.index_of(r["Id"]) < high]
    return dataclasses.replace(plan, overlay=overlay, start=max(plan.start, low), stop=min(plan.stop, high))


def _start(plan: sf._Plan) -> sf._Position:
    return sf._Position(plan.start, 0)


def _record_url(version: str, name: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{name}/{record_id}"


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_value(value: Any, sf_type: str | None) -> Any:
    """Bulk 1.0 JSON results carry dates and datetimes as epoch milliseconds, numbers as numbers."""
    if value is None:
        return None
    if sf_type == "datetime":
        return int(datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp() * 1000)
    if sf_type == "date":
        day = date.fromisoformat(value)
        return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    if isinstance(value, Decimal):
        return float(value)
    return value
