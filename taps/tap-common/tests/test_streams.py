"""tap-common against the Common emulator over real HTTP: every stream lands what Common holds, decimals exact,
incremental by updated_at, both auth flows, both route variants, Common's errors (also inside a 200), bad settings."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.testing.singer_cli import discover_selecting, parse_singer_messages, run_tap_cli, write_json
from xlr8_sandbox.platform.faults import FaultSpec
from xlr8_sandbox.platform.server import Sandbox
from xlr8_sandbox.products.common import PASSWORD, CommonEmulator
from xlr8_tap_common.tap import TapCommon

from .conftest import SCALE, common_config, oauth_config, run_tap


def test_every_stream_lands_what_common_holds(url: str, emulator: CommonEmulator) -> None:
    out = run_tap(common_config(url, page_size=7))
    company = emulator.ctx.company
    pos = out.records("purchase_orders")
    assert len(pos) == company.purchase_order_count == SCALE // 2
    assert len({p["id"] for p in pos}) == len(pos)
    by_number = {p["po_number"]: p for p in pos}
    for po in company.purchase_orders():
        row = by_number[po.po_id]
        assert row["total_amount"] == po.amount
        assert row["supplier_number"] == po.supplier_id  # the same supplier id the ERPs use
        assert isinstance(row["quantity"], Decimal)
        assert row["quantity"] == row["quantity"].quantize(Decimal("0.001"))
        assert row["unit_price"] == row["unit_price"].quantize(Decimal("0.01"))
    assert len(out.records("companies")) == len(company.legal_entities) + company.supplier_count
    assert len(out.records("business_relationships")) == company.supplier_count
    assert {a["id"] for a in out.records("amendments")} == {a["id"] for a in emulator.data.amendments()}
    pending = out.records("erp_sync_pending_updates")
    assert [u["id"] for u in pending] == [u.id for u in emulator.data.pending_updates()]
    assert out.schema_message("purchase_orders")["schema"]["x-xlr8"]["entity"] == "purchase_order"
    assert out.state["bookmarks"]["erp_sync_pending_updates"]["delivered_update_ids"] == [u["id"] for u in pending]
    assert emulator.data.state.ack_calls == {}  # nothing acknowledged by the run that emitted it


def test_incremental_reads_only_what_changed(url: str, emulator: CommonEmulator, sandbox: Sandbox) -> None:
    config = common_config(url)
    first = run_tap(config, streams={"purchase_orders"})
    sandbox.ctx.clock.advance(timedelta(hours=3))
    emulator.insert_records(2)
    second = run_tap(config, streams={"purchase_orders"}, state=first.state)
    changed = {u.po_id for u in emulator.data.pending_updates() if u.created_at > sandbox.ctx.clock.start}
    numbers = {r["po_number"] for r in second.records("purchase_orders")}
    ids = {r["id"] for r in second.records("purchase_orders")}
    assert {"POX0000001", "POX0000002"} <= numbers
    assert changed <= ids
    # re-read only the boundary (updated_since is inclusive) plus what changed
    assert len(ids) <= len(changed) + 2 + 1 + sum(
        1
        for r in first.records("purchase_orders")
        if r["updated_at"] == first.state["bookmarks"]["purchase_orders"]["replication_key_value"]
    )


def test_client_credentials_and_the_public_route_variant(url: str, emulator: CommonEmulator) -> None:
    emulator.variant = "public"
    config = oauth_config(url, emulator.buyer_company_id, ack_route="mark-synced")
    first = run_tap(config, streams={"erp_sync_pending_updates"})
    delivered = first.state["bookmarks"]["erp_sync_pending_updates"]["delivered_update_ids"]
    assert delivered
    run_tap(config, streams={"erp_sync_pending_updates"}, state=first.state)
    assert {i: emulator.data.state.ack_calls[i] for i in delivered} == dict.fromkeys(delivered, 1)


def test_wrong_ack_route_fails_and_acknowledges_nothing(url: str, emulator: CommonEmulator) -> None:
    emulator.variant = "public"
    config = common_config(url)  # ack_route defaults to the seed's "acknowledge"
    first = run_tap(config, streams={"erp_sync_pending_updates"})
    with pytest.raises(KitHTTPError, match="404"):
        run_tap(config, streams={"erp_sync_pending_updates"}, state=first.state)
    assert emulator.data.state.ack_calls == {}


def test_login_relogs_in_when_refresh_is_absent(url: str, emulator: CommonEmulator, sandbox: Sandbox) -> None:
    for variant, refreshed in (("seed", True), ("public", False)):
        emulator.variant = variant
        tap = TapCommon(config=common_config(url), parse_env_config=False)
        stream = tap.streams["companies"]
        list(stream.get_records(None))
        sandbox.ctx.tokens.expire_all("common")
        list(stream.get_records(None))
        auth = tap.kit.authenticator
        assert auth.refreshes == (1 if refreshed else 0)  # type: ignore[union-attr]
        assert auth.logins == (1 if refreshed else 2)  # type: ignore[union-attr]
        assert auth.refresh_supported is (True if refreshed else None)  # type: ignore[union-attr]


@pytest.mark.parametrize("status", [408, 425, 429, 503])
def test_a_login_answered_408_425_429_or_5xx_is_sent_again_and_the_run_goes_on(
    url: str, emulator: CommonEmulator, sandbox: Sandbox, status: int
) -> None:
    """Throttled or unavailable at login: the kit's session sends it again (``login_verdict``); a refused login is
    the tap's to explain, sent once (the next test)."""
    sandbox.faults.add("common", "*/auth/login", FaultSpec("status", status=status, times=1))
    out = run_tap(common_config(url, http={"backoff_base": 0.01, "backoff_max": 0.05}), streams={"companies"})
    company = emulator.ctx.company
    assert len(out.records("companies")) == len(company.legal_entities) + company.supplier_count
    assert [r.status for r in sandbox.requests("common", "/api/v1/auth/login")] == [status, 200]


def test_a_refused_login_is_sent_once(url: str, sandbox: Sandbox, emulator: CommonEmulator) -> None:
    """A login refused 401 is sent once (``emulator`` resets the request log after: the next test counts its own)."""
    with pytest.raises(KitHTTPError, match="INVALID_CREDENTIALS"):
        run_tap(common_config(url, password="wrong-" + PASSWORD), streams={"companies"})
    assert [r.status for r in sandbox.requests("common", "/api/v1/auth/login")] == [401]


def test_a8_error_object_inside_a_200_is_an_error(url: str, emulator: CommonEmulator, sandbox: Sandbox) -> None:
    sandbox.faults.add("common", "/api/v1/companies", FaultSpec("error_body", times=10))
    with pytest.raises(KitHTTPError, match="INTERNAL_ERROR"):
        run_tap(common_config(url, http={"max_attempts": 1}), streams={"companies"})


def test_bad_settings_name_the_setting(url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigValidationError, match="'password' is required"):
        TapCommon(config={"api_base_url": url, "email": "x@y.z"}, parse_env_config=False).discover_streams()
    with pytest.raises(ConfigValidationError, match="'company_id' is required"):
        TapCommon(
            config={"api_base_url": url, "client_id": "c", "client_secret": "s"}, parse_env_config=False
        ).discover_streams()
    config = write_json(tmp_path / "c.json", common_config(url, page_size=5000))
    result = run_tap_cli("tap-common", ["--config", config, "--discover"], tmp_path)
    assert result.returncode != 0
    assert "page_size" in result.stderr


def test_wrong_password_is_an_authentication_error_without_the_secret(url: str, emulator: CommonEmulator) -> None:
    with pytest.raises(KitHTTPError) as failure:
        run_tap(common_config(url, password="wrong-" + PASSWORD), streams={"companies"})
    assert "INVALID_CREDENTIALS" in str(failure.value)
    assert PASSWORD not in str(failure.value)


@pytest.mark.parametrize("profile", ["flaky", "expiring-tokens"])
def test_fault_profiles_change_nothing_that_lands(
    url: str, emulator: CommonEmulator, sandbox: Sandbox, profile: str
) -> None:
    """A3/A9/B2 together: 503s, 429s, resets, truncated bodies or revoked tokens mid-run; the same rows, no more."""
    config = common_config(url, page_size=3, http={"backoff_base": 0.01, "backoff_max": 0.05, "max_attempts": 6})
    clean = run_tap(config)
    sandbox.faults.apply_profile(profile)
    faulted = run_tap(config)
    fired = sum(rule.fired for rule in sandbox.faults.rules("common"))
    for stream in ("purchase_orders", "amendments", "companies", "business_relationships", "erp_sync_pending_updates"):
        assert faulted.records(stream) == clean.records(stream), stream
    assert faulted.state == clean.state
    assert fired > 0  # the faults really happened


def test_supplier_numbers_ignore_a_filter_meant_for_other_fields(url: str, emulator: CommonEmulator) -> None:
    out = run_tap(common_config(url, filters="country = 'CA'"), streams={"purchase_orders", "companies"})
    assert {c["country"] for c in out.records("companies")} == {"CA"}  # the filter applies to companies...
    orders = out.records("purchase_orders")
    assert orders
    assert all(o["supplier_number"] for o in orders)  # ...but not to the look-up behind supplier_number


@pytest.mark.parametrize(("cursor", "rows"), [(None, False), ("", False), ("", True), (None, True)])
def test_a_page_that_says_has_more_without_a_cursor_fails_the_run(
    url: str, emulator: CommonEmulator, sandbox: Sandbox, tmp_path: Path, cursor: str | None, rows: bool
) -> None:
    """Page 2 of the companies says more pages follow but gives no cursor to ask for them (null or ``""``, with or
    without rows: a cut or broken answer): the run fails naming it, exit non-zero, instead of ending there with exit 0
    and every later page missing (the SDK ends paging on any empty token)."""
    company = emulator.ctx.company
    assert len(company.legal_entities) + company.supplier_count > 6  # pages after the broken one exist
    page_2 = emulator.data.companies_in_order(None)[3:6] if rows else []
    broken = json.dumps({"data": page_2, "has_more": True, "next_cursor": cursor}, default=str)
    sandbox.faults.add("common", "/api/v1/companies", FaultSpec("status", status=200, body=broken, after=1, times=1))
    config, catalog = discover_selecting("tap-common", common_config(url, page_size=3), {"companies"}, tmp_path)
    run = run_tap_cli("tap-common", ["--config", config, "--catalog", catalog], tmp_path)
    assert run.returncode != 0
    assert "has_more true without a next_cursor" in run.stderr
    assert "/api/v1/companies" in run.stderr
    assert [r.status for r in sandbox.requests("common", "/api/v1/companies")] == [200, 200]


def test_an_empty_page_that_says_has_more_goes_on_to_the_next(
    url: str, emulator: CommonEmulator, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Page 2 of the companies holds no rows but says more follow, with a cursor (an API that filters a page after
    its limit answers so): the read goes on, and every company lands, not only page 1's."""
    ordered = emulator.data.companies_in_order(None)
    after_page_1 = [ordered[2]["updated_at"], ordered[2]["id"]]  # the same position, in a token of its own
    token = base64.urlsafe_b64encode(json.dumps(after_page_1, separators=(",", ":")).encode()).decode()
    empty = json.dumps({"data": [], "has_more": True, "next_cursor": token})
    sandbox.faults.add("common", "/api/v1/companies", FaultSpec("status", status=200, body=empty, after=1, times=1))
    config, catalog = discover_selecting("tap-common", common_config(url, page_size=3), {"companies"}, tmp_path)
    run = run_tap_cli("tap-common", ["--config", config, "--catalog", catalog], tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    records = [m["record"] for m in parse_singer_messages(run.stdout) if m["type"] == "RECORD"]
    assert [r["id"] for r in records] == [c["id"] for c in ordered]


def test_the_orders_of_acknowledged_updates_are_read_again_by_id(
    url: str, emulator: CommonEmulator, sandbox: Sandbox, tmp_path: Path
) -> None:
    """The run that acknowledges the updates a previous run delivered reads their orders again by id (the
    acknowledgement changed ``erp_sync_status``, not ``updated_at``), after the list's records and without moving
    its bookmark. An order Common answers 404 for (deleted since) is passed over with a WARNING, not retried by
    every later run."""
    streams = {"purchase_orders", "erp_sync_pending_updates"}
    config, catalog = discover_selecting("tap-common", common_config(url), streams, tmp_path)
    first = run_tap_cli("tap-common", ["--config", config, "--catalog", catalog], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    state = [m for m in parse_singer_messages(first.stdout) if m["type"] == "STATE"][-1]["value"]
    orders = state["bookmarks"]["erp_sync_pending_updates"]["delivered_order_ids"]
    assert sorted(orders) == sorted({u.po_id for u in emulator.data.pending_updates()})
    gone = orders[0]
    missing = json.dumps({"error_code": "PURCHASE_ORDER_NOT_FOUND", "detail": "not found", "request_id": "req_1"})
    sandbox.faults.add("common", f"/api/v1/purchase-orders/{gone}", FaultSpec("status", status=404, body=missing))
    args = ["--config", config, "--catalog", catalog, "--state", write_json(tmp_path / "state.json", state)]
    second = run_tap_cli("tap-common", args, tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    messages = parse_singer_messages(second.stdout)
    truth = {p["id"]: p for p in emulator.data.purchase_orders()}
    records = [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == "purchase_orders"]
    landed = {r["id"]: r for r in records}  # upserted by id: the last one written stays
    assert {i: landed[i]["erp_sync_status"] for i in orders[1:]} == {i: truth[i]["erp_sync_status"] for i in orders[1:]}
    assert {landed[i]["erp_sync_status"] for i in orders[1:]} - {"pending"}
    assert all(landed[i]["supplier_number"] for i in orders[1:])  # shaped as the list's rows are
    for po_id in orders:
        assert [r.status for r in sandbox.requests("common", f"/api/v1/purchase-orders/{po_id}")] == [
            404 if po_id == gone else 200
        ]
    assert "1 order(s) of acknowledged ERP-sync updates no longer found (404)" in second.stderr
    end = [m for m in messages if m["type"] == "STATE"][-1]["value"]["bookmarks"]
    assert (
        end["purchase_orders"]["replication_key_value"]
        == state["bookmarks"]["purchase_orders"]["replication_key_value"]
    )
    assert end["erp_sync_pending_updates"]["delivered_order_ids"] == []


def _token(position: list[str], spaces: int) -> str:
    """A cursor for ``position`` as the emulator issues them, re-encoded ``spaces`` ways (the same position)."""
    text = "[" + " " * spaces + json.dumps(position[0]) + "," + json.dumps(position[1]) + "]"
    return base64.urlsafe_b64encode(text.encode()).decode()


def test_empty_pages_that_say_has_more_without_end_fail_the_run_naming_the_path(
    url: str, emulator: CommonEmulator, sandbox: Sandbox, tmp_path: Path
) -> None:
    """Page after page holds no rows, says ``has_more: true`` and gives a cursor that is new each time but does not
    move on (re-encoded by a proxy or a broken API; the SDK catches only a repeated one): after ``MAX_EMPTY_PAGES``
    in a row the run fails naming the path, instead of asking for pages for ever."""
    from xlr8_tap_common.client import MAX_EMPTY_PAGES

    ordered = emulator.data.companies_in_order(None)
    after_page_1 = [ordered[2]["updated_at"], ordered[2]["id"]]
    for n in range(MAX_EMPTY_PAGES + 5):  # request 2, 3, ...: each answered empty, with a token of its own
        empty = json.dumps({"data": [], "has_more": True, "next_cursor": _token(after_page_1, n)})
        spec = FaultSpec("status", status=200, body=empty, after=1 + n, times=1)
        sandbox.faults.add("common", "/api/v1/companies", spec)
    config, catalog = discover_selecting("tap-common", common_config(url, page_size=3), {"companies"}, tmp_path)
    run = run_tap_cli("tap-common", ["--config", config, "--catalog", catalog], tmp_path)
    assert run.returncode != 0
    assert f"{MAX_EMPTY_PAGES} pages in a row with no rows and has_more true" in run.stderr
    assert "/api/v1/companies" in run.stderr
    assert len(sandbox.requests("common", "/api/v1/companies")) == 1 + MAX_EMPTY_PAGES


def test_a_read_only_pipeline_re_reads_the_orders_someone_else_acknowledged(
    url: str, emulator: CommonEmulator, sandbox: Sandbox, tmp_path: Path
) -> None:
    """review29b M1: with ``acknowledge_updates: false`` another consumer acknowledges (here all but one order's
    updates, as its POST would). The next read-only run re-reads, by id, the orders none of whose updates it
    listed, so their ``erp_sync_status`` lands as Common has it (was: ``pending`` for good, exit 0); the order
    still pending is not re-read and stays named in the state, and the bookmark of ``purchase_orders`` is not
    moved by the re-read."""
    streams = {"purchase_orders", "erp_sync_pending_updates"}
    config, catalog = discover_selecting("tap-common", common_config(url, acknowledge_updates=False), streams, tmp_path)
    first = run_tap_cli("tap-common", ["--config", config, "--catalog", catalog], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    msgs1 = parse_singer_messages(first.stdout)
    records = [m["record"] for m in msgs1 if m["type"] == "RECORD" and m["stream"] == "purchase_orders"]
    landed = {r["id"]: r for r in records}
    pending = emulator.data.pending_updates()
    waiting = sorted({u.po_id for u in pending})
    assert len(waiting) > 1
    assert {landed[i]["erp_sync_status"] for i in waiting} == {"pending"}
    kept = waiting[0]
    emulator.data.acknowledge([u.id for u in pending if u.po_id != kept])  # another consumer acknowledges
    state = [m for m in msgs1 if m["type"] == "STATE"][-1]["value"]
    assert sorted(state["bookmarks"]["erp_sync_pending_updates"]["delivered_order_ids"]) == waiting
    args = ["--config", config, "--catalog", catalog, "--state", write_json(tmp_path / "state.json", state)]
    second = run_tap_cli("tap-common", args, tmp_path)
    assert second.returncode == 0, second.stderr[-2000:]
    messages = parse_singer_messages(second.stdout)
    for m in messages:
        if m["type"] == "RECORD" and m["stream"] == "purchase_orders":
            landed[m["record"]["id"]] = m["record"]
    truth = {p["id"]: p["erp_sync_status"] for p in emulator.data.purchase_orders()}
    assert {i: landed[i]["erp_sync_status"] for i in waiting} == {i: truth[i] for i in waiting}
    assert {truth[i] for i in waiting[1:]} - {"pending"}
    assert truth[kept] == "pending"
    for po_id in waiting:
        assert len(sandbox.requests("common", f"/api/v1/purchase-orders/{po_id}")) == (po_id != kept)
    end = [m for m in messages if m["type"] == "STATE"][-1]["value"]["bookmarks"]
    assert end["erp_sync_pending_updates"]["delivered_order_ids"] == [kept]
    still = sorted(u.id for u in pending if u.po_id == kept)
    assert sorted(end["erp_sync_pending_updates"]["delivered_update_ids"]) == still
    assert (
        end["purchase_orders"]["replication_key_value"]
        == state["bookmarks"]["purchase_orders"]["replication_key_value"]
    )


def test_a_read_only_run_re_reads_at_most_its_bound_and_leaves_the_rest_to_the_next(
    url: str,
    emulator: CommonEmulator,
    sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """review29b M1, the bound: with ``REREAD_PER_RUN`` at 2 and more acknowledged orders than that, a read-only
    run re-reads 2 by id and names the rest in its state with a WARNING; each next run re-reads the next 2, until
    its state names none; every order is read once, and lands as Common has it."""
    from xlr8_tap_common import streams as common_streams

    monkeypatch.setattr(common_streams, "REREAD_PER_RUN", 2)
    config = common_config(url, acknowledge_updates=False)
    selected = {"purchase_orders", "erp_sync_pending_updates"}
    first = run_tap(config, streams=selected)
    pending = emulator.data.pending_updates()
    waiting = first.state["bookmarks"]["erp_sync_pending_updates"]["delivered_order_ids"]
    assert sorted(waiting) == sorted({u.po_id for u in pending})
    assert len(waiting) > 2
    emulator.data.acknowledge([u.id for u in pending])  # another consumer acknowledges every one
    runs = [first]
    for n in range(1, (len(waiting) + 1) // 2 + 1):  # each run re-reads the next 2, and names the rest
        runs.append(run_tap(config, streams=selected, state=runs[-1].state))
        got = [len(sandbox.requests("common", f"/api/v1/purchase-orders/{po_id}")) for po_id in waiting]
        assert got == [1] * min(2 * n, len(waiting)) + [0] * (len(waiting) - 2 * n)
        assert runs[-1].state["bookmarks"]["erp_sync_pending_updates"]["delivered_order_ids"] == waiting[2 * n :]
    assert "re-read by the next run (at most 2 per run)" in caplog.text
    truth = {p["id"]: p["erp_sync_status"] for p in emulator.data.purchase_orders()}
    landed = {r["id"]: r["erp_sync_status"] for run in runs for r in run.records("purchase_orders")}
    assert {i: landed[i] for i in waiting} == {i: truth[i] for i in waiting}
