"""Ceiling for UKG Pro: REST pages of 10,000 rows (Basic + US-Customer-Api-Key, bare JSON arrays), or a RaaS
report (LogOn, ExecuteReport, RetrieveReport polled until Completed, base64 CSV decoded from Windows-1252). Plain
requests and string templates; no SDK, no retries, no typing of values."""

from __future__ import annotations

import base64
import csv
import io
import re
import time
from collections.abc import Iterator
from typing import Any

import requests

TAP = "tap-ukg-pro"
FOLDER = "/content/folder[@name='zzzCompany Folders']/folder[@name='Acme Holdings']/folder[@name='Integrations']"
REPORTS = {
    "raas_xlr8_employees": f"{FOLDER}/report[@name='XLR8 Employees']",
    "raas_xlr8_earnings_history": f"{FOLDER}/report[@name='XLR8 Earnings History']",
    "raas_xlr8_job_codes": f"{FOLDER}/report[@name='XLR8 Job Codes']",
}
RESOURCES = {"employment_details": "/personnel/v1/employment-details", "person_details": "/personnel/v1/person-details",
             "compensation_details": "/personnel/v1/compensation-details"}  # fmt: skip
STREAMS = {"employees": "employment_details", "report": "raas_xlr8_employees", "earnings": "raas_xlr8_earnings_history"}
DATA = "http://www.ultipro.com/dataservices/bidata/2"
STREAM = "http://www.ultipro.com/dataservices/bistream/2"
ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">'
    '<s:Header><a:Action s:mustUnderstand="1">{action}</a:Action><a:To s:mustUnderstand="1">{to}</a:To>{header}'
    "</s:Header><s:Body>{body}</s:Body></s:Envelope>"
)


def tap_config(url: str, credentials: dict[str, str], stream: str) -> dict[str, Any]:
    config: dict[str, Any] = {"base_url": url, **credentials, "per_page": 10_000, "raas_poll_interval": 0.2}
    if stream in REPORTS:
        config["raas_reports"] = [{"path": REPORTS[stream]}]
        # The emulator renders a report when RetrieveReport asks (a tenant hands over a stored one): at a million
        # rows that takes minutes here, longer than the default 120 s wait for the first byte.
        config["http"] = {"read_timeout": 900}
    return config


def read(url: str, credentials: dict[str, str], stream: str) -> Iterator[dict[str, Any]]:
    if stream in REPORTS:
        yield from _read_report(url, credentials, REPORTS[stream])
        return
    session = requests.Session()
    session.auth = (credentials["username"], credentials["password"])
    session.headers["US-Customer-Api-Key"] = credentials["customer_api_key"]
    page = 1
    while True:
        rows = session.get(f"{url}{RESOURCES[stream]}", params={"page": page, "per_Page": 10_000}, timeout=300).json()
        yield from rows
        if len(rows) < 10_000:
            return
        page += 1


def _post(session: requests.Session, url: str, action: str, body: str, header: str = "") -> str:
    payload = ENVELOPE.format(action=action, to=url, header=header, body=body)
    headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"', "US-DELIMITER": ","}
    return session.post(url, data=payload.encode(), headers=headers, timeout=600).text


def _read_report(url: str, credentials: dict[str, str], path: str) -> Iterator[dict[str, Any]]:
    session = requests.Session()
    data_url, stream_url = f"{url}/services/BIDataService", f"{url}/services/BIStreamingService"
    logon = (
        f'<LogOn xmlns="{DATA}"><logOnRequest><UserName>{credentials["username"]}</UserName>'
        f"<Password>{credentials['password']}</Password><ClientAccessKey>{credentials['customer_api_key']}"
        f"</ClientAccessKey><UserAccessKey>{credentials['user_access_key']}</UserAccessKey></logOnRequest></LogOn>"
    )
    token = re.search(r"<Token>([^<]+)</Token>", _post(session, data_url, f"{DATA}/IBIDataService/LogOn", logon))
    assert token, "LogOn failed"
    key_element = f"<ClientAccessKey>{credentials['customer_api_key']}</ClientAccessKey>"
    context = f"<context>{key_element}<Token>{token[1]}</Token></context>"
    execute = (
        f'<ExecuteReport xmlns="{DATA}"><request><ReportPath>{path}</ReportPath></request>{context}</ExecuteReport>'
    )
    answer = _post(session, data_url, f"{DATA}/IBIDataService/ExecuteReport", execute)
    key = re.search(r"<ReportKey>([^<]+)</ReportKey>", answer)
    assert key, "ExecuteReport failed"
    retrieve = f'<RetrieveReportRequest xmlns="{STREAM}"/>'
    header = f'<ReportKey xmlns="{STREAM}">{key[1]}</ReportKey>'
    while True:
        answer = _post(session, stream_url, f"{STREAM}/IBIStreamService/RetrieveReport", retrieve, header)
        if ">Completed<" in answer:
            break
        time.sleep(0.2)
    encoded = re.search(r"<ReportStream>([^<]*)</ReportStream>", answer)
    assert encoded, "no ReportStream"
    text = base64.b64decode(encoded[1]).decode("cp1252")
    yield from csv.DictReader(io.StringIO(text, newline=""))
