"""``meltano run tap-common target-xlr8-truths`` in the sandbox environment, end to end into DuckDB: Common's
purchase orders land as truths with exact decimals, and the ERP-sync updates the first run delivered are
acknowledged by the second run (from the state Meltano stored after the target committed), never by the first.

The emulator runs on an ephemeral port; the URL is overridden through Meltano's environment variables, exactly as
an operator would, in a temporary copy of the project. Assertions are on the rows that landed.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products.common import PASSWORD, CommonEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def workspace_executables(data: dict[str, Any]) -> None:
    """Run the workspace's installed ``tap-common`` (as the other plugins do) instead of letting Meltano
    auto-install ``pip_url`` into a plugin venv inside the temporary project copy, where ``./shared`` is absent."""
    for kind in ("extractors", "mappers", "loaders"):
        for plugin in data["plugins"].get(kind, []):
            plugin.pop("pip_url", None)


def unprefixed(data: dict[str, Any]) -> None:
    """``workspace_executables``, and the mappings without their po_number_prefix: the plumbing tests send Common's
    own POs round through the S/4 shape (to_erp would refuse them as no PO S/4 landed)."""
    workspace_executables(data)
    for mapper in data["plugins"]["mappers"]:
        for mapping in mapper.get("mappings", []):
            mapping["config"].pop("po_number_prefix", None)


def test_meltano_run_lands_common_purchase_orders_and_acks_after_commit(tmp_path: Path) -> None:
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=workspace_executables)
    with run_sandbox(["common"], scale=100) as sandbox:
        emulator = sandbox.emulator("common")
        assert isinstance(emulator, CommonEmulator)
        env = {"TAP_COMMON_API_BASE_URL": sandbox.url("common")}
        pending = [u.id for u in emulator.data.pending_updates()]
        first = project.run("tap-common", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert emulator.data.state.ack_calls == {}  # the run that delivered them acknowledges nothing
        second = project.run("tap-common", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert dict(emulator.data.state.ack_calls) == dict.fromkeys(pending, 1)
        company = sandbox.ctx.company
        expected = {po.po_id: po.amount for po in company.purchase_orders()}
    rows = project.rows("common", "purchase_orders", ["po_number", "total_amount", "quantity"], "po_number")
    assert len(rows) == len(expected)  # upserted by id on the second run, not appended
    for number, amount, quantity in rows:
        assert Decimal(str(amount)) == expected[number]
        assert Decimal(str(quantity)) == Decimal(str(quantity)).quantize(Decimal("0.001"))
    landed = project.rows("common", "erp_sync_pending_updates", ["id"], "id")
    assert {r[0] for r in landed} == set(pending)
    assert (
        len(project.rows("common", "companies", ["id"], "id")) == len(company.legal_entities) + company.supplier_count
    )
    for output in (first, second):
        assert PASSWORD not in output.stdout + output.stderr


def test_meltano_run_through_mapper_common_into_target_common(tmp_path: Path) -> None:
    """The reverse-direction plumbing in Meltano: tap-common -> common-to-s4hana -> s4hana-to-common ->
    target-common (S/4 stands in the middle until tap-sap-s4hana lands). Every PO comes back as it left, so
    target-common, idempotent by po_number, writes nothing; a PO whose status the S/4 template cannot carry is
    filtered out with the universal filter rather than guessed."""
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=unprefixed)
    covered = "status in ('draft', 'pending', 'confirmed', 'amendment_pending', 'cancelled')"
    with run_sandbox(["common"], scale=100) as sandbox:
        env = {
            "TAP_COMMON_API_BASE_URL": sandbox.url("common"),
            "TAP_COMMON_FILTERS": covered,
            "TAP_COMMON__SELECT": '["purchase_orders.*"]',
            "TARGET_COMMON_API_BASE_URL": sandbox.url("common"),
            "TARGET_COMMON_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        }
        result = project.meltano("run", "tap-common", "common-to-s4hana", "s4hana-to-common", "target-common", env=env)
        assert result.returncode == 0, result.stderr[-3000:]
        lookups = [r for r in sandbox.requests("common") if r.method == "GET" and r.path == "/api/v1/purchase-orders"]
        writes = [r for r in sandbox.requests("common") if r.method in ("POST", "PUT") and "/auth/" not in r.path]
    assert len(lookups) > 10  # one look-up per PO that went round
    assert writes == []
    assert not (tmp_path / "dead.jsonl").exists()


def test_c6_d1_no_canary_left_after_meltano_runs_of_the_common_plugins(tmp_path: Path) -> None:
    """C6/D1 for the three Common plugins through Meltano at DEBUG: after a normal run of tap-common into the truths
    store and one through mapper-common into target-common, the canary password and
    every token Common issued are nowhere under the project: Meltano's files and system db, the truths store,
    stdout and stderr (target-common's dead letters are covered in target-common/tests)."""
    from xlr8_kit.testing.residue import Canary, duckdb_dump, scan, sqlite_dump, tree_files
    from xlr8_sandbox.products.common import EMAIL

    canary = 'CANARY-cm-e2e/5b+Q="x&y 7'
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=unprefixed)
    dead = tmp_path / "dead.jsonl"
    with run_sandbox(["common"], scale=40) as sandbox:
        emulator = sandbox.emulator("common")
        assert isinstance(emulator, CommonEmulator)
        emulator.password = canary
        env = {
            "TAP_COMMON_API_BASE_URL": sandbox.url("common"),
            "TAP_COMMON_PASSWORD": canary,
            "TARGET_COMMON_API_BASE_URL": sandbox.url("common"),
            "TARGET_COMMON_PASSWORD": canary,
            "TARGET_COMMON_DEAD_LETTER_PATH": str(dead),
            "MELTANO_CLI_LOG_LEVEL": "debug",
        }
        first = project.run("tap-common", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        second = project.meltano(
            "run", "tap-common", "common-to-s4hana", "s4hana-to-common", "target-common",
            env={**env, "TAP_COMMON_FILTERS": "status in ('draft', 'pending', 'confirmed', 'cancelled')",
                 "TAP_COMMON__SELECT": '["purchase_orders.*"]'},
        )  # fmt: skip
        assert second.returncode == 0, second.stderr[-3000:]
        tokens = [Canary(f"token{i}", t) for i, t in enumerate(sandbox.ctx.tokens._tokens)]
        refresh = [Canary(f"refresh{i}", t) for i, t in enumerate(emulator.issued_refresh_tokens)]
    blobs = tree_files(tmp_path)
    blobs["truths rows"] = duckdb_dump(project.truths)
    blobs["system db rows"] = sqlite_dump(project.sys_dir / "meltano.db")
    for n, output in enumerate((first, second)):
        blobs[f"run {n} output"] = (output.stdout + output.stderr).encode()
    assert scan([Canary("password", canary, user=EMAIL), *tokens, *refresh], blobs) == []
    assert tokens  # positive controls: tokens were issued and data landed
    assert b"PO00000001" in blobs["truths rows"]


def test_meltano_run_s4hana_into_common_job_lands_orders_with_their_line(tmp_path: Path) -> None:
    """``meltano run s4hana-into-common-job`` as meltano.yml declares it: tap-sap-s4hana--purchase-orders reads each
    order with its items and schedule lines (``expand``), and an order of one item lands in Common with S/4's
    material, text and unit (and quantity, price and delivery date, written or proposed as Common's amendment rules
    say: ``taps/mapper-common/tests/test_s4hana_job.py``); an order of several items is refused by key, so the
    job exits 1 naming them and Common keeps them as they were. Before, every order came without its items and
    the job landed nothing (review25b F1)."""
    from xlr8_sandbox.products.s4hana import COMM_PASSWORD

    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=workspace_executables)
    with run_sandbox(["s4hana", "common"], scale=200) as sandbox:
        s4 = sandbox.emulator("s4hana").data  # type: ignore[attr-defined]
        items = {o["PurchaseOrder"]: s4.items_of_order(o) for o in map(s4.purchase_order, range(100))}
        single = sorted(n for n, its in items.items() if len(its) == 1)
        several = sorted(n for n, its in items.items() if len(its) > 1)
        assert single
        assert several
        common = sandbox.emulator("common").data  # type: ignore[attr-defined]
        before = {p["po_number"]: dict(p) for p in common.purchase_orders()}
        env = {
            "TAP_SAP_S4HANA__PURCHASE_ORDERS_BASE_URL": sandbox.url("s4hana"),
            "TARGET_COMMON_API_BASE_URL": sandbox.url("common"),
            "TARGET_COMMON_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        }
        result = project.meltano("run", "s4hana-into-common-job", env=env)
        after = {p["po_number"]: dict(p) for p in common.purchase_orders()}
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"{len(several)} record(s) the template 's4hana' cannot carry were not sent on" in result.stderr
    for number in single:
        item, po = items[number][0], after[f"S4-{number}"]  # meltano.yml's po_number_prefix S4-
        assert (po["product_id"], po["product_name"], po["unit"]) == (
            item["Material"], item["PurchaseOrderItemText"], item["PurchaseOrderQuantityUnit"]
        ), number  # fmt: skip
    for number in several:
        assert after[number] == before[number]
    assert COMM_PASSWORD not in result.stdout + result.stderr


def choosing(**config: str) -> Any:
    """``workspace_executables`` plus the user's explicit choices on every ERP -> Common mapping of meltano.yml."""

    def edit(data: dict[str, Any]) -> None:
        workspace_executables(data)
        for mapper in data["plugins"]["mappers"]:
            for mapping in mapper.get("mappings", []):
                if mapping["config"].get("direction") == "from_erp":
                    mapping["config"].update(config)

    return edit


def common_writes(sandbox: Any) -> list[Any]:
    return [r for r in sandbox.requests("common") if r.method in ("POST", "PUT") and "/auth/" not in r.path]


def test_meltano_run_s4hana_into_common_job_with_multi_line_split_lands_every_item_once(tmp_path: Path) -> None:
    """The job with the mapping's ``multi_line: split``: each of the 100 orders lands as one Common PO per item
    (S4-<order> for its first item, S4-<order>-<item> for the others) with that item's values, exit 0; a second
    ``meltano run`` writes nothing to Common. With the default (above) 86 of the 100 are refused."""
    from xlr8_sandbox.testing import landed_as, s4_lines_as_common

    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=choosing(multi_line="split"))
    with run_sandbox(["s4hana", "common"], scale=200) as sandbox:
        expected = s4_lines_as_common(sandbox.emulator("s4hana").data, "S4-")  # type: ignore[attr-defined]
        assert len({number.split("-")[1] for number in expected}) == 100
        common = sandbox.emulator("common").data  # type: ignore[attr-defined]
        before = {p["po_number"] for p in common.purchase_orders()}
        env = {
            "TAP_SAP_S4HANA__PURCHASE_ORDERS_BASE_URL": sandbox.url("s4hana"),
            "TARGET_COMMON_API_BASE_URL": sandbox.url("common"),
            "TARGET_COMMON_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        }
        first = project.meltano("run", "s4hana-into-common-job", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        after = {p["po_number"]: dict(p) for p in common.purchase_orders()}
        writes = len(common_writes(sandbox))
        second = project.meltano("run", "s4hana-into-common-job", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert common_writes(sandbox)[writes:] == []  # the re-run lands nothing twice
        assert {p["po_number"]: dict(p) for p in common.purchase_orders()} == after
    assert set(after) - before == set(expected)
    assert {number: landed_as(after[number], want) for number, want in expected.items()} == expected
    assert not (tmp_path / "dead.jsonl").exists()


def test_meltano_run_oracle_erp_into_common_job(tmp_path: Path) -> None:
    """``meltano run oracle-erp-into-common-job`` (tap-oracle-erp--purchase-orders: purchaseOrders with lines and
    schedules embedded): by default orders of several lines and prices of more than 2 places are refused by key,
    exit 1, none of them in Common; with ``multi_line: split`` and ``price_rounding: half_up`` every line lands
    with its price rounded, exit 0, and a re-run writes nothing."""
    from xlr8_sandbox.products.oracle_fusion.erp import PASSWORD as ERP_PASSWORD
    from xlr8_sandbox.products.oracle_fusion.erp import USERNAME as ERP_USER
    from xlr8_sandbox.testing import fusion_lines_as_common, landed_as

    orders_url = "/fscmRestApi/resources/11.13.18.05/purchaseOrders"
    with run_sandbox(["oracle_erp", "common"], scale=100) as sandbox:
        query = {"expand": "lines.schedules", "onlyData": "true", "limit": "500"}
        auth = (ERP_USER, ERP_PASSWORD)
        served = requests.get(sandbox.url("oracle_erp") + orders_url, auth=auth, params=query, timeout=30).json()
        assert not served["hasMore"]
        expected = fusion_lines_as_common(served["items"], "ORA-")
        env = {
            "TAP_ORACLE_ERP__PURCHASE_ORDERS_BASE_URL": sandbox.url("oracle_erp"),
            "TARGET_COMMON_API_BASE_URL": sandbox.url("common"),
            "TARGET_COMMON_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        }
        common = sandbox.emulator("common")
        refusing = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path / "a", edit=workspace_executables)
        before = {p["po_number"]: dict(p) for p in common.data.purchase_orders()}  # type: ignore[attr-defined]
        default = refusing.meltano("run", "oracle-erp-into-common-job", env=env)
        assert default.returncode == 1, default.stderr[-3000:]
        assert "lines has " in default.stderr
        assert "more than 2; refusing to round" in default.stderr
        split_numbers = {n for n in expected if "/" in n}  # orders of one line land whole by default, as with split
        assert not split_numbers & {p["po_number"] for p in common.data.purchase_orders()}  # type: ignore[attr-defined]

        common.reset()
        project = MeltanoProject.copy_of(
            ROOT / "meltano.yml", tmp_path / "b", edit=choosing(multi_line="split", price_rounding="half_up")
        )
        first = project.meltano("run", "oracle-erp-into-common-job", env=env)
        assert first.returncode == 0, first.stderr[-3000:]
        assert "price_rounding half_up rounded" in first.stderr
        after = {p["po_number"]: dict(p) for p in common.data.purchase_orders()}  # type: ignore[attr-defined]
        writes = len(common_writes(sandbox))
        second = project.meltano("run", "oracle-erp-into-common-job", env=env)
        assert second.returncode == 0, second.stderr[-3000:]
        assert common_writes(sandbox)[writes:] == []
    assert set(after) - set(before) == set(expected)
    assert {number: landed_as(after[number], want) for number, want in expected.items()} == expected
    assert ERP_PASSWORD not in first.stdout + first.stderr


def test_two_erps_jobs_never_overwrite_each_others_or_commons_own_pos(tmp_path: Path) -> None:
    """review27e M3: S/4, Oracle ERP and Common share one po_number space, and the sandbox's orders carry the same
    numbers in all three (PO00000033 is an S/4 order of one item, an Oracle order of one line and a PO of
    Common's own). ``meltano run s4hana-into-common-job`` then ``oracle-erp-into-common-job`` as meltano.yml
    declares them (defaults: multi-line orders and 4-place prices refused, exit 1): every PO Common held stays as
    it was, S/4's orders land as S4-<order> with S/4's item, Oracle's as ORA-<order> with Oracle's line, and
    neither job touches the other's. Before, each job wrote its order over Common's PO of that number."""
    from xlr8_sandbox.products.oracle_fusion.erp import PASSWORD as ERP_PASSWORD
    from xlr8_sandbox.products.oracle_fusion.erp import USERNAME as ERP_USER

    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=workspace_executables)
    with run_sandbox(["s4hana", "oracle_erp", "common"], scale=100) as sandbox:
        s4 = sandbox.emulator("s4hana").data  # type: ignore[attr-defined]
        orders = map(s4.purchase_order, range(s4.company.purchase_order_count))
        items = {o["PurchaseOrder"]: s4.items_of_order(o) for o in orders}
        s4_single = {n: its[0] for n, its in items.items() if len(its) == 1}
        query = {"expand": "lines.schedules", "onlyData": "true", "limit": "500"}
        served = requests.get(
            sandbox.url("oracle_erp") + "/fscmRestApi/resources/11.13.18.05/purchaseOrders",
            auth=(ERP_USER, ERP_PASSWORD), params=query, timeout=30,
        ).json()["items"]  # fmt: skip
        live = {o["OrderNumber"]: [x for x in o["lines"] if x["CancelFlag"] is not True] for o in served}
        ora_single = {  # a cancelled line is not a line of the order: an order of one live line lands whole
            number: lines[0]
            for number, lines in live.items()
            if len(lines) == 1 and Decimal(str(lines[0]["Price"])).as_tuple().exponent >= -2  # type: ignore[operator]
        }
        common = sandbox.emulator("common").data  # type: ignore[attr-defined]
        before = {p["po_number"]: dict(p) for p in common.purchase_orders()}
        assert set(s4_single) & set(ora_single) & set(before)  # a number all three hold
        env = {
            "TAP_SAP_S4HANA__PURCHASE_ORDERS_BASE_URL": sandbox.url("s4hana"),
            "TAP_ORACLE_ERP__PURCHASE_ORDERS_BASE_URL": sandbox.url("oracle_erp"),
            "TARGET_COMMON_API_BASE_URL": sandbox.url("common"),
            "TARGET_COMMON_DEAD_LETTER_PATH": str(tmp_path / "dead.jsonl"),
        }
        first = project.meltano("run", "s4hana-into-common-job", env=env)
        second = project.meltano("run", "oracle-erp-into-common-job", env=env)
        after = {p["po_number"]: dict(p) for p in common.purchase_orders()}
    assert (first.returncode, second.returncode) == (1, 1), (first.stderr[-2000:], second.stderr[-2000:])
    assert "cannot carry were not sent on" in first.stderr + second.stderr
    assert {n: after[n] for n in before} == before  # Common's own POs untouched
    assert set(after) - set(before) == {f"S4-{n}" for n in s4_single} | {f"ORA-{n}" for n in ora_single}
    for number, item in s4_single.items():
        po = after[f"S4-{number}"]
        assert (po["product_id"], Decimal(po["quantity"])) == (item["Material"], Decimal(str(item["OrderQuantity"])))
    for number, line in ora_single.items():
        po = after[f"ORA-{number}"]
        assert (po["product_id"], Decimal(po["quantity"])) == (line["Item"], Decimal(str(line["Quantity"])))
