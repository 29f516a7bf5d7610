"""Ceiling for Workday: the RaaS workers report in one JSON request (Basic auth as the ISU), SOAP Get_Workers in
pages of 999 at the first page's As_Of_Entry_DateTime, or REST workers in pages of 100; parsed, nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import requests
from lxml import etree

TAP = "tap-workday"
STREAMS = {"raas": "worker_report", "report": "worker_report", "soap": "soap_workers", "rest": "workers"}
REPORT = "XLR8_Workers"
#: Large reports are read in yearly windows of their Updated_From/Updated_Through prompts (bounded memory).
WINDOWS: dict[str, Any] = {"from_prompt": "Updated_From", "to_prompt": "Updated_Through", "start_date": "2015-01-01",
           "window_days": 365, "replication_key": "Last_Updated"}  # fmt: skip
BSVC = "urn:com.workday/bsvc"
_ENVELOPE = (
    '<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
    'xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd" '
    f'xmlns:bsvc="{BSVC}"><s:Header><wsse:Security><wsse:UsernameToken><wsse:Username>{{user}}</wsse:Username>'
    "<wsse:Password>{password}</wsse:Password></wsse:UsernameToken></wsse:Security></s:Header><s:Body>"
    '<bsvc:Get_Workers_Request bsvc:version="v42.0"><bsvc:Response_Filter>{as_of}<bsvc:Page>{page}</bsvc:Page>'
    "<bsvc:Count>999</bsvc:Count></bsvc:Response_Filter></bsvc:Get_Workers_Request></s:Body></s:Envelope>"
)


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    tenant = credentials["tenant"]
    return {
        "base_url": url,
        "tenant": tenant,
        "client_id": credentials["client_id"],
        "client_secret": credentials["client_secret"],
        "refresh_token": credentials["refresh_token"],
        "username": credentials["username"],
        "password": credentials["password"],
        "streams": [stream] if stream != "worker_report" else [],
        "reports": [
            {
                "name": "worker_report",
                "url": f"/ccx/service/customreport2/{tenant}/{credentials['username']}/{REPORT}",
                "primary_keys": ["Employee_ID"],
                "incremental": dict(WINDOWS),
            }
        ],
        "rest_page_size": 100,
        "soap_page_size": 999,
    }


def reading_day() -> date:
    """The last window ends today, as the tap's do (the served-bytes golden pins the day: its requests name it)."""
    return datetime.now(UTC).date()


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    tenant = credentials["tenant"]
    if stream == "worker_report":
        report = f"{url}/ccx/service/customreport2/{tenant}/{credentials['username']}/{REPORT}"
        session = requests.Session()
        session.auth = (credentials["username"], credentials["password"])
        start, today = date.fromisoformat(WINDOWS["start_date"]), reading_day()
        while start <= today:
            end = min(today, start + timedelta(days=WINDOWS["window_days"] - 1))
            params = {"format": "json", "Updated_From": start.isoformat(), "Updated_Through": end.isoformat()}
            yield from session.get(report, params=params, timeout=3600).json()["Report_Entry"]
            start = end + timedelta(days=1)
    elif stream == "soap_workers":
        yield from _soap_workers(url, credentials)
    elif stream == "workers":
        yield from _rest_workers(url, credentials)
    else:
        raise SystemExit(f"no ceiling for stream {stream!r}; use worker_report, soap_workers or workers")


def _soap_workers(url: str, credentials: dict[str, str]) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    endpoint = f"{url}/ccx/service/{credentials['tenant']}/Human_Resources/v42.0"
    user = f"{credentials['username']}@{credentials['tenant']}"
    page, as_of = 1, ""
    while True:
        body = _ENVELOPE.format(user=user, password=credentials["password"], as_of=as_of, page=page)
        response = session.post(endpoint, data=body.encode(), headers={"Content-Type": "text/xml"}, timeout=600)
        root = etree.fromstring(response.content, parser=etree.XMLParser(resolve_entities=False, huge_tree=True))
        for worker in root.iter(f"{{{BSVC}}}Worker"):
            yield {"Employee_ID": worker.findtext(f"{{{BSVC}}}Worker_Data/{{{BSVC}}}Worker_ID")}
        if not as_of:
            moment = root.findtext(f".//{{{BSVC}}}Response_Filter/{{{BSVC}}}As_Of_Entry_DateTime")
            as_of = f"<bsvc:As_Of_Entry_DateTime>{moment}</bsvc:As_Of_Entry_DateTime>"
        total_pages = int(root.findtext(f".//{{{BSVC}}}Total_Pages") or 0)
        if page >= total_pages:
            return
        page += 1


def _rest_workers(url: str, credentials: dict[str, str]) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    token = session.post(
        f"{url}/ccx/oauth2/{credentials['tenant']}/token",
        data={"grant_type": "refresh_token", "refresh_token": credentials["refresh_token"],
              "client_id": credentials["client_id"], "client_secret": credentials["client_secret"]},
        timeout=60,
    ).json()["access_token"]  # fmt: skip
    session.headers["Authorization"] = f"Bearer {token}"
    offset = 0
    while True:
        body = session.get(f"{url}/ccx/api/v1/{credentials['tenant']}/workers",
                           params={"limit": 100, "offset": offset}, timeout=600).json()  # fmt: skip
        yield from body["data"]
        offset += len(body["data"])
        if not body["data"] or offset >= body["total"]:
            return
