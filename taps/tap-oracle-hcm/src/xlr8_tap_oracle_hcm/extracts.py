"""HCM Extracts, the bulk path: submit the extract's flow (``POST flowActions``), poll ``payrollFlows`` for the
instance until ``COMPLETED`` (``ERROR`` or ``CANCELLED`` stop with Fusion's message; a bounded wait), find the
output document on the content server (``GET_SEARCH_RESULTS`` by title = instance name) and stream it
(``GET_FILE``). The extract's delivery option must put a delimited (CSV) document on the content server.

``hcm_extracts`` entries become streams (``HcmExtractStream``): their columns are declared in the setting, so
discovery never runs an extract."""

from __future__ import annotations

import csv
import io
import time
import typing as t
import uuid
from collections.abc import Callable, Iterator, Mapping

import requests

from xlr8_kit.http.errors import ClientRequestError, OutcomeUnknownError
from xlr8_kit.oracle.bulk import BulkStream
from xlr8_kit.oracle.client import BulkJobError, FusionClient, classify_unread, raise_for_status, wait_for_job
from xlr8_kit.oracle.protocol import q_quote
from xlr8_kit.streaming import ChunkReader, body_chunks, send_streamed

DONE = {"COMPLETED"}
FAILED = {"ERROR", "CANCELLED", "FAILED"}


def submit(client: FusionClient, extract_name: str, instance: str, parameters: Mapping[str, str]) -> None:
    body = {
        "FlowName": extract_name,
        "FlowInstanceName": instance,
        "RecurringFlag": False,
        "ParameterValues": [{"ParameterName": k, "ParameterValue": v} for k, v in parameters.items()],
    }
    url = f"{client.resources_url}/flowActions"
    try:
        client.request("POST", url, json=body, idempotent=False)
        return
    except OutcomeUnknownError:
        # The submit may have landed (a late answer, a 5xx after Fusion acted): look for the instance, and submit
        # again only if it is not there. The unique instance name makes that safe: Fusion refuses a name already
        # used, so no second flow runs (audit25d F2: the kit's resend was refused as "already used").
        if _flow_exists(client, instance):
            return
    try:
        client.request("POST", url, json=body, idempotent=False)
    except ClientRequestError as exc:
        if "already used" not in str(exc) or not _flow_exists(client, instance):
            raise


def _flow_exists(client: FusionClient, instance: str) -> bool:
    try:
        flow_row(client, instance)
    except BulkJobError:
        return False
    return True


def flow_row(client: FusionClient, instance: str) -> dict[str, t.Any]:
    payload = client.get_json("payrollFlows", {"q": f"FlowInstanceName = {q_quote(instance)}", "onlyData": "true"})
    items = payload.get("items") if isinstance(payload, Mapping) else None
    if not items:
        raise BulkJobError(f"{client.product}: extract flow instance {instance!r} is not in payrollFlows")
    return dict(items[0])


def document_id(client: FusionClient, instance: str) -> str:
    """The content server's ``dID`` of the document titled after the flow instance."""
    payload = client.get_json(
        f"{client.base_url}/cs/idcplg",
        {"IdcService": "GET_SEARCH_RESULTS", "QueryText": f"dDocTitle <substring> `{instance}`", "IsJson": "1"},
    )
    results = ((payload.get("ResultSets") or {}).get("SearchResults") or {}) if isinstance(payload, Mapping) else {}
    names = [f.get("name") for f in results.get("fields") or []]
    rows = results.get("rows") or []
    if "dID" not in names or not rows:
        raise BulkJobError(
            f"{client.product}: no output document for extract instance {instance!r} on the content server"
        )
    return str(rows[0][names.index("dID")])


def download_rows(client: FusionClient, doc_id: str) -> Iterator[dict[str, str]]:
    """The CSV document as rows, decoded as it arrives (``xlr8_kit.streaming``: a download cut mid-transfer is
    asked for again and resumed after the bytes already read, or the run fails; it never ends early)."""
    request = requests.Request(
        "GET",
        f"{client.base_url}/cs/idcplg",
        params={"IdcService": "GET_FILE", "dID": doc_id},
        headers={**client.headers, "Accept": "text/csv, application/octet-stream"},
    )
    response = send_streamed(
        client.session,
        client.session.prepare_request(request),
        classify=classify_unread,
        judge_unread=classify_unread,
        authenticate=client.authenticator,
    )
    raise_for_status(response, client.redactor, client.product)
    body = ChunkReader(body_chunks(response, what=f"extract document {doc_id}"))
    yield from csv.DictReader(io.TextIOWrapper(t.cast("t.BinaryIO", body), encoding="utf-8-sig", newline=""))


def run_extract(
    client: FusionClient,
    extract_name: str,
    *,
    parameters: Mapping[str, str] | None = None,
    poll_interval: float = 5.0,
    timeout: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict[str, str]]:
    """Submit, wait (bounded), download: the extract's rows."""
    instance = f"XLR8_{uuid.uuid4().hex[:12].upper()}"
    submit(client, extract_name, instance, parameters or {})
    wait_for_job(
        lambda: flow_row(client, instance),
        status_key="FlowStatus",
        message_key="FlowErrorMessage",
        done=DONE,
        failed=FAILED,
        interval=poll_interval,
        timeout=timeout,
        what=f"{client.product}: HCM extract {extract_name!r} (instance {instance})",
        sleep=sleep,
    )
    yield from download_rows(client, document_id(client, instance))


class HcmExtractStream(BulkStream):
    """Rows of one HCM extract: submitted, polled and downloaded once per sync (full table)."""

    def bulk_rows(self) -> Iterator[dict[str, str]]:
        settings = self.fusion_tap.settings
        return run_extract(
            self.fusion_tap.client,
            self.spec.name,
            parameters=self.spec.parameters,
            poll_interval=settings.extract_poll_interval,
            timeout=settings.extract_timeout,
        )
