"""UKG Pro RaaS replies are kept per (report, parameters, delimiter, data version): the RetrieveReport reply is the
same bytes with the cache off, cold and warm, and people hired after a cached run are in the next run."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests

from xlr8_sandbox.platform.server import Sandbox, run_sandbox
from xlr8_sandbox.products.ukg_pro import UkgProEmulator

DATA = "http://www.ultipro.com/dataservices/bidata/2"
STREAM = "http://www.ultipro.com/dataservices/bistream/2"
ENVELOPE = (
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">'
    '<s:Header><a:Action s:mustUnderstand="1">{action}</a:Action><a:To s:mustUnderstand="1">{to}</a:To>{header}'
    "</s:Header><s:Body>{body}</s:Body></s:Envelope>"
)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    with run_sandbox(["ukg_pro"], seed=3, scale=250) as running:
        yield running


@pytest.fixture
def emulator(sandbox: Sandbox) -> Iterator[UkgProEmulator]:
    emulator = sandbox.emulator("ukg_pro")
    assert isinstance(emulator, UkgProEmulator)
    sandbox.reset()
    yield emulator
    emulator.row_cache.enabled = True
    sandbox.reset()


def post(url: str, action: str, body: str, header: str = "", delimiter: str | None = None) -> bytes:
    payload = ENVELOPE.format(action=action, to=url, header=header, body=body)
    headers = {"Content-Type": f'application/soap+xml; charset=utf-8; action="{action}"'}
    if delimiter is not None:
        headers["US-DELIMITER"] = delimiter
    response = requests.post(url, data=payload.encode(), headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.content


def run_report(sandbox: Sandbox, path: str, params: dict[str, str], delimiter: str | None) -> bytes:
    creds = sandbox.emulator("ukg_pro").test_credentials()
    base = sandbox.url("ukg_pro")
    data_url, stream_url = f"{base}/services/BIDataService", f"{base}/services/BIStreamingService"
    logon = (
        f'<LogOn xmlns="{DATA}"><logOnRequest><UserName>{creds["username"]}</UserName>'
        f"<Password>{creds['password']}</Password><ClientAccessKey>{creds['customer_api_key']}"
        f"</ClientAccessKey><UserAccessKey>{creds['user_access_key']}</UserAccessKey></logOnRequest></LogOn>"
    )
    token = re.search(rb"<Token>([^<]+)</Token>", post(data_url, f"{DATA}/IBIDataService/LogOn", logon))
    assert token
    access_key = f"<ClientAccessKey>{creds['customer_api_key']}</ClientAccessKey>"
    context = f"<context>{access_key}<Token>{token[1].decode()}</Token></context>"
    parameters = "".join(
        f"<ReportParameter><Name>{name}</Name><Value>{value}</Value></ReportParameter>"
        for name, value in params.items()
    )
    execute = (
        f'<ExecuteReport xmlns="{DATA}"><request><ReportPath>{path}</ReportPath>'
        f"<ReportParameters>{parameters}</ReportParameters></request>{context}</ExecuteReport>"
    )
    key = re.search(rb"<ReportKey>([^<]+)</ReportKey>", post(data_url, f"{DATA}/IBIDataService/ExecuteReport", execute))
    assert key
    header = f'<ReportKey xmlns="{STREAM}">{key[1].decode()}</ReportKey>'
    while True:
        answer = post(
            stream_url, f"{STREAM}/IBIStreamService/RetrieveReport", f'<RetrieveReportRequest xmlns="{STREAM}"/>',
            header, delimiter,
        )  # fmt: skip
        if b">Completed<" in answer:
            return answer


def run_all(sandbox: Sandbox) -> list[bytes]:
    emulator = sandbox.emulator("ukg_pro")
    assert isinstance(emulator, UkgProEmulator)
    paths = emulator.report_paths()
    found = [run_report(sandbox, path, {}, delimiter) for path in paths for delimiter in (",", "|", None)]
    found.append(run_report(sandbox, paths[0], {"EmployeeStatus": "A"}, ","))
    return found


def test_cached_replies_are_the_uncached_bytes(sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    emulator.row_cache.enabled = False
    uncached = run_all(sandbox)
    emulator.row_cache.enabled = True
    cold = run_all(sandbox)
    assert emulator.row_cache.used_bytes > 0
    assert run_all(sandbox) == uncached
    assert cold == uncached


def test_people_hired_after_a_cached_run_are_in_the_next(sandbox: Sandbox, emulator: UkgProEmulator) -> None:
    before = run_all(sandbox)
    emulator.insert_records(2)
    after = run_all(sandbox)
    assert after[0] != before[0]
    sandbox.ctx.clock.advance(timedelta(days=30))
    later = run_all(sandbox)
    assert later[0] != after[0]
    emulator.row_cache.enabled = False
    assert run_all(sandbox) == later
