"""ESS jobs through the ERP integrations resource, the bulk path: ``submitESSJobRequest`` returns a request id;
``ESSJobStatusRF`` is polled until ``SUCCEEDED`` (``ERROR``/``WARNING``/``CANCELLED`` stop with Fusion's message;
a bounded wait); ``ESSJobExecutionDetailsRF`` with ``fileType=out`` returns the output as a base64 zip whose CSV
files are read as rows."""

from __future__ import annotations

import base64
import binascii
import csv
import io
import time
import typing as t
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence

from xlr8_kit.http.errors import OutcomeUnknownError
from xlr8_kit.oracle.client import BulkJobError, FusionClient, wait_for_job

DONE = {"SUCCEEDED"}
FAILED = {"ERROR", "WARNING", "CANCELLED", "EXPIRED"}
RESOURCE = "erpintegrations"


def _item(client: FusionClient, finder: str) -> dict[str, t.Any]:
    payload = client.get_json(RESOURCE, {"finder": finder, "onlyData": "true"})
    items = payload.get("items") if isinstance(payload, Mapping) else None
    if not items:
        raise BulkJobError(f"{client.product}: {RESOURCE} finder {finder.split(';')[0]} returned nothing")
    return dict(items[0])


def submit(client: FusionClient, package: str, definition: str, parameters: Sequence[str]) -> str:
    body = {
        "OperationName": "submitESSJobRequest",
        "JobPackageName": package,
        "JobDefName": definition,
        "ESSParameters": ",".join(parameters),
    }
    try:  # never resent once it may have reached the pod: a second ESS job would run the extract again, unread
        answer = client.request_json("POST", f"{client.resources_url}/{RESOURCE}", json=body, idempotent=False)
    except OutcomeUnknownError as exc:
        raise exc.explained(
            f"the ESS job {package}/{definition} may have been submitted (its request id is unknown: check the "
            "ESS queue, Scheduled Processes, before running again)"
        ) from None
    if not isinstance(answer, Mapping):  # JSON, but a list, a text or null: no request id to read
        raise BulkJobError(f"{client.product}: submitESSJobRequest for {definition} did not answer a JSON object")
    request_id = str(answer.get("ReqstId") or "")
    if not request_id.isdigit():
        raise BulkJobError(f"{client.product}: submitESSJobRequest for {definition} returned no request id")
    return request_id


def output_rows(client: FusionClient, request_id: str) -> Iterator[dict[str, str]]:
    item = _item(client, f"ESSJobExecutionDetailsRF;requestId={request_id},fileType=out")
    try:
        archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(str(item.get("DocumentContent") or ""), validate=True)))
    except (binascii.Error, zipfile.BadZipFile) as exc:
        raise BulkJobError(f"{client.product}: ESS request {request_id} output is not a zip: {exc}") from None
    with archive:
        for name in sorted(n for n in archive.namelist() if n.lower().endswith(".csv")):
            with archive.open(name) as handle:
                yield from csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8-sig", newline=""))


def run_job(
    client: FusionClient,
    package: str,
    definition: str,
    *,
    parameters: Sequence[str] = (),
    poll_interval: float = 5.0,
    timeout: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, str]]:
    """Submit, wait (bounded), download: the job's output rows."""
    request_id = submit(client, package, definition, parameters)
    wait_for_job(
        lambda: _item(client, f"ESSJobStatusRF;requestId={request_id}"),
        status_key="RequestStatus",
        message_key="ErrorMessage",
        done=DONE,
        failed=FAILED,
        interval=poll_interval,
        timeout=timeout,
        what=f"{client.product}: ESS job {package}/{definition} (request {request_id})",
        sleep=sleep,
    )
    yield from output_rows(client, request_id)
