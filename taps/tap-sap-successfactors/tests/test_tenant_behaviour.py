"""What a real SuccessFactors tenant does where the emulator used to do what the tap expected (review audit24a),
over real HTTP: inactive users only on request (H1), rows changed while a read is in progress (H3), future-dated
rows (H2), a ``__next`` naming the default port (M1) and a retired Basic authentication (M2)."""

from __future__ import annotations

import socket
import threading
import typing as t
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from urllib3.util import connection as urllib3_connection

from xlr8_kit.testing.singer_cli import run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.successfactors import API_PASSWORD, API_USER, COMPANY_ID, SuccessFactorsEmulator
from xlr8_tap_sap_successfactors.connector import SuccessFactorsConnector

from .conftest import SCALE, basic_config, run_tap

AUTH = (f"{API_USER}@{COMPANY_ID}", API_PASSWORD)


def _ids(rows: list[dict]) -> set[str]:
    return {r["userId"] for r in rows}


def test_h1_emulator_returns_active_users_unless_status_is_filtered(url: str, emulator: SuccessFactorsEmulator) -> None:
    """SAP KBA 2736579: no status term, active users only; ``status in ...`` (or its ``or`` chain) names the rest."""

    def users(**params: str) -> list[dict]:
        got = requests.get(f"{url}/odata/v2/User", params={"$format": "json", **params}, auth=AUTH, timeout=30)
        got.raise_for_status()
        return got.json()["d"]["results"]

    def count(**params: str) -> int:
        got = requests.get(f"{url}/odata/v2/User/$count", params=params, auth=AUTH, timeout=30)
        got.raise_for_status()
        return int(got.text)

    everyone = users(**{"$filter": "status in 't','f','T','F','e','d'"})
    assert len(everyone) == SCALE
    inactive = {u["userId"] for u in everyone if u["status"] == "inactive"}
    assert inactive
    default = users()
    assert {u["status"] for u in default} == {"active"}
    assert len(default) == SCALE - len(inactive) == count()
    assert count(**{"$filter": "status in 't','f','T','F','e','d'"}) == SCALE
    assert _ids(users(**{"$filter": "status eq 'f' or status eq 'F'"})) == inactive
    assert _ids(users(**{"$filter": "status in 'inactive'"})) == inactive
    stamp = "lastModifiedDateTime ge datetimeoffset'1900-01-01T00:00:00Z'"
    assert len(users(**{"$filter": stamp})) == len(default)  # a filter without a status term: still active only
    assert users(**{"$filter": f"{stamp} and status in 't','f'"}) == everyone


def test_h1_terminated_users_land_first_and_incrementally(url: str, emulator: SuccessFactorsEmulator) -> None:
    config = basic_config(url, entity_sets=["User"])
    first = run_tap(config)
    users = first.records("User")
    assert len(users) == SCALE
    inactive = {u["userId"] for u in users if u["status"] == "inactive"}
    assert inactive  # the seed's terminated people land on the first run
    # An active user is terminated after the first run: the next run reads the change.
    leaver = next(u for u in users if u["status"] == "active")
    clock = emulator.ctx.clock
    clock.advance(timedelta(hours=1))
    row = next(r for _, r in emulator._all_rows(emulator.entities["User"]) if r["userId"] == leaver["userId"])
    emulator.insert("User", {**row, "status": "inactive", "lastModifiedDateTime": clock.now()})
    second = run_tap(config, state=first.state)
    landed = {u["userId"]: u["status"] for u in second.records("User")}
    assert landed.get(leaver["userId"]) == "inactive"


def test_h3_a_row_edited_while_the_read_pages_is_read_next_run(
    url: str, sandbox: Sandbox, emulator: SuccessFactorsEmulator
) -> None:
    """Row ZA is served on the first page; then a user edits ZA and, a second later, ZB, which a later page serves
    with its new stamp. The bookmark must not pass ZA's edit, so the next run reads it (E-series: rows changed
    during the read)."""
    clock = emulator.ctx.clock
    template = next(r for _, r in emulator._all_rows(emulator.entities["User"]))
    old = clock.now() - timedelta(days=400)
    for user_id in ("ZB", "ZX", "ZA"):  # inserted rows come first, the last inserted first: ZA, ZX | ZB, ...
        emulator.insert("User", {**template, "userId": user_id, "lastName": user_id, "lastModifiedDateTime": old})

    def edit_mid_read(_count: int) -> None:
        edited_a = clock.advance(timedelta(minutes=15))
        emulator.edit("User", ("ZA",), {"lastName": "A-edited", "lastModifiedDateTime": edited_a})
        edited_b = clock.advance(timedelta(seconds=1))
        emulator.edit("User", ("ZB",), {"lastName": "B-edited", "lastModifiedDateTime": edited_b})

    emulator.insert_records = edit_mid_read  # type: ignore[method-assign]  # the fault hook's action
    sandbox.faults.add("successfactors", "/odata/v2/User", FaultSpec("insert_records", after=1, times=1))
    config = basic_config(url, entity_sets=["User"], page_size=2)
    first = run_tap(config)
    seen = {u["userId"]: u["lastName"] for u in first.records("User")}
    assert (seen["ZA"], seen["ZB"]) == ("ZA", "B-edited")  # ZA served before its edit, ZB after
    bookmark = first.state["bookmarks"]["User"]["replication_key_value"]
    assert bookmark == "2026-01-05T08:59:00Z"  # the first page's Date (09:00 sandbox time) less the skew
    second = run_tap(config, state=first.state)
    again = {u["userId"]: u["lastName"] for u in second.records("User")}
    assert again.get("ZA") == "A-edited"
    assert again.get("ZB") == "B-edited"


def test_h2_a_future_dated_row_lands_when_keyed(url: str, emulator: SuccessFactorsEmulator) -> None:
    """A promotion keyed on 5 Jan for 15 Jan, then another change an hour later: the promotion must land (with
    its startDate, a key of its own) although its stamp is older than the bookmark by the time it takes effect."""
    clock = emulator.ctx.clock
    config = basic_config(url, entity_sets=["EmpJob"])
    first = run_tap(config)
    keyed = emulator.key_future_job("E000001", 10, jobCode="PROMOTED")
    clock.advance(timedelta(hours=1))
    emulator.key_future_job("E000002", 0, jobCode="OTHER", seqNumber=2)  # a change in force today
    second = run_tap(config, state=first.state)
    clock.advance(timedelta(days=11))
    third = run_tap(config, state=second.state)
    promoted = [
        (r["userId"], r["startDate"])
        for run in (second, third)
        for r in run.records("EmpJob")
        if r["jobCode"] == "PROMOTED"
    ]
    assert promoted
    assert set(promoted) == {("E000001", keyed["startDate"].strftime("%Y-%m-%dT%H:%M:%SZ"))}
    assert any(r["jobCode"] == "OTHER" for r in second.records("EmpJob"))


def rewriting_proxy(upstream: str, links: t.Callable[[], str]) -> ThreadingHTTPServer:
    """A proxy on an ephemeral 127.0.0.1 port in front of the emulator, its answers' links to ``upstream`` rewritten
    to ``links()`` (the form a tenant writes them in)."""

    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept")}
            got = requests.get(upstream + self.path, headers=headers, timeout=30)
            body = got.content.replace(upstream.encode(), links().encode())
            self.send_response(got.status_code)
            for name in ("Content-Type", "Date"):
                if name in got.headers:
                    self.send_header(name, got.headers[name])
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Forward)


@pytest.fixture
def default_port_proxy(url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The emulator behind ``http://127.0.0.1`` (port 80), its links written as SAP writes them: with the default
    port named (``http://127.0.0.1:80/odata/v2/User?...&$skiptoken=...``, KBA 2489065's form). The proxy listens on
    an ephemeral port and urllib3's connections to 127.0.0.1:80 are routed there, so no runner needs root to bind
    port 80 and the tap still compares ``:80`` links with a port-less ``api_url`` over real HTTP (review24a L1)."""
    server = rewriting_proxy(url.rstrip("/"), lambda: "http://127.0.0.1:80")
    port = server.server_address[1]
    connect = urllib3_connection.create_connection
    routed: list[int] = []

    def route_port_80(address: tuple[str, int], *args: t.Any, **kwargs: t.Any) -> socket.socket:
        if address == ("127.0.0.1", 80):
            routed.append(port)
            address = ("127.0.0.1", port)
        return connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3_connection, "create_connection", route_port_80)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield "http://127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()
    assert routed  # the tap's requests did go to port 80


def test_m1_a_next_link_naming_the_default_port_is_followed(
    default_port_proxy: str, emulator: SuccessFactorsEmulator
) -> None:
    """``api_url`` without a port, ``__next`` with ``:80``: the same server, so every page is read."""
    result = run_tap(basic_config(default_port_proxy, entity_sets=["User"], page_size=10, snapshot_paging_threshold=0))
    assert len({u["userId"] for u in result.records("User")}) == SCALE
    assert result.state["bookmarks"]["User"]["replication_key_value"]


def test_a_next_link_that_parsers_read_two_ways_carries_no_credentials(
    url: str, emulator: SuccessFactorsEmulator
) -> None:
    """review24a #1: ``http://127.0.0.2:P\\@127.0.0.1:Q/...`` reads as the tenant to Python's URL parser but
    ``requests`` connects to 127.0.0.2. The link is refused by name and nothing reaches the other host."""
    upstream = url.rstrip("/")
    reached: list[str] = []

    class Elsewhere(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            reached.append(self.headers.get("Authorization") or "")
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: object) -> None:
            pass

    elsewhere = ThreadingHTTPServer(("127.0.0.2", 0), Elsewhere)
    front: dict[str, str] = {}
    proxy = rewriting_proxy(upstream, lambda: front["evil"])
    tenant = f"http://127.0.0.1:{proxy.server_address[1]}"
    front["evil"] = f"http://127.0.0.2:{elsewhere.server_address[1]}\\\\@127.0.0.1:{proxy.server_address[1]}"
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (elsewhere, proxy)]
    for thread in threads:
        thread.start()
    try:
        with pytest.raises(Exception, match="another host") as caught:
            run_tap(basic_config(tenant, entity_sets=["User"], page_size=10, snapshot_paging_threshold=0))
    finally:
        for server in (elsewhere, proxy):
            server.shutdown()
            server.server_close()
    assert reached == []
    assert API_PASSWORD not in str(caught.value)


def test_m2_basic_is_deprecated_and_its_401_names_saml_bearer(
    url: str, emulator: SuccessFactorsEmulator, tmp_path: Path
) -> None:
    """Through the CLI: Basic works with a warning; a rejected Basic login says Basic may be retired for this tenant
    and names ``auth.type saml_bearer`` (SAP deleted Basic for APIs on 20 Nov 2026), never the password."""
    config = basic_config(url, entity_sets=["FOCompany"])
    working = run_tap_cli(
        "tap-sap-successfactors", ["--config", write_json(tmp_path / "ok.json", config), "--discover"], tmp_path
    )
    assert working.returncode == 0, working.stderr[-2000:]
    assert "auth.type basic is deprecated" in working.stderr
    config["auth"]["password"] = "canary-pw-5f1e9"
    refused = run_tap_cli(
        "tap-sap-successfactors", ["--config", write_json(tmp_path / "bad.json", config), "--discover"], tmp_path
    )
    assert refused.returncode != 0
    assert "LGN0011" in refused.stderr
    assert "Basic authentication may be retired for this tenant" in refused.stderr
    assert "use auth.type saml_bearer" in refused.stderr
    assert "canary-pw-5f1e9" not in refused.stdout + refused.stderr


def test_connector_answers_about_today_not_with_future_rows(url: str, emulator: SuccessFactorsEmulator) -> None:
    """review24a M1: a leave keyed today to start in 30 days is next month's fact. The connector (the gatherer's
    questions about today) must not list that person as on leave now; a sync still lands the future row."""
    company = emulator.ctx.company
    on_leave = sorted(e.employee_id for e in company.employees() if e.status == "leave")
    assert "E000001" not in on_leave
    keyed = emulator.key_future_job("E000001", 30, emplStatus="U", seqNumber=2)
    with SuccessFactorsConnector(basic_config(url)) as connector:
        assert sorted(r["userId"] for r in connector.get_employees({"employment_status": "leave"})) == on_leave
        today = list(connector.get_entity("EmpJob", 'employee_id = "E000001"'))
        assert [r["emplStatus"] for r in today] == ["A"]
    synced = run_tap(basic_config(url, entity_sets=["EmpJob"])).records("EmpJob")
    future = keyed["startDate"].strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [r["emplStatus"] for r in synced if r["userId"] == "E000001" and r["startDate"] == future] == ["U"]


def test_a_row_ending_the_data_centres_day_lands_with_fresh_or_cached_metadata(
    url: str, emulator: SuccessFactorsEmulator, tmp_path: Path
) -> None:
    """review24a M3: at 02:00 UTC it is still yesterday in a data centre at UTC-5 (DC8), so a row ending yesterday
    (UTC) is in force there today: it must land, also when ``$metadata`` comes from the disk cache (no ``Date``
    seen yet: the tap asks the server, not its own clock, which here is months apart from the sandbox's)."""
    clock = emulator.ctx.clock
    now = clock.advance(timedelta(hours=17))
    assert now.hour == 2
    utc_day = datetime(now.year, now.month, now.day, tzinfo=UTC)
    current = next(r for _, r in emulator._all_rows(emulator.entities["EmpJob"]) if r["userId"] == "E000001")
    ends = {"ZDC8": utc_day - timedelta(days=1), "ZMARGIN": utc_day - timedelta(days=2)}
    ends["ZOLD"] = utc_day - timedelta(days=3)  # ended before the margin: not asked for
    for user_id, end in ends.items():
        emulator.insert(
            "EmpJob",
            {**current, "userId": user_id, "startDate": end - timedelta(days=90), "endDate": end,
             "lastModifiedDateTime": now},
        )  # fmt: skip
    config = basic_config(url, entity_sets=["EmpJob"], metadata_cache_dir=str(tmp_path / "meta"))
    for run in ("fresh", "cached"):
        landed = {r["userId"] for r in run_tap(config).records("EmpJob")}
        assert ("ZDC8" in landed, "ZMARGIN" in landed, "ZOLD" in landed) == (True, True, False), run
        assert "E000001" in landed, run
    assert any((tmp_path / "meta").iterdir())
