"""``meltano run tap-oracle-hcm target-xlr8-truths`` and ``tap-oracle-erp`` in the sandbox environment, end to end
into DuckDB: HCM workers (flattened names, emails, assignments), a child stream with its parent key, a code
table and an HCM extract (submitted, polled, downloaded); ERP purchase orders with their lines, suppliers and a
BI Publisher report (SOAP runReport); an incremental re-run; and a canary password that appears nowhere a run writes.

The emulators run on ephemeral ports; the URLs and the canary are given through Meltano's environment variables,
as an operator would, in a temporary copy of the project. Assertions are on the rows that landed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from xlr8_kit.testing.meltano_e2e import MeltanoProject
from xlr8_kit.testing.residue import Canary, duckdb_dump, scan, tree_files
from xlr8_sandbox.company import Company
from xlr8_sandbox.platform.server import run_sandbox
from xlr8_sandbox.products.oracle_fusion.hcm import USERNAME, OracleHcmEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
CANARY = 'CANARY-ohcm/5e2f+Q="k&z 19'
HCM_SELECT = ["workers.*", "workers_emails.*", "jobs.*", "extract_workers.*"]
ERP_SELECT = ["purchaseOrders.*", "purchaseOrders_lines.*", "suppliers.*", "bi_invoices.*"]
STATUS = {"active": "ACTIVE", "leave": "SUSPENDED", "terminated": "INACTIVE"}


def workspace_executables(data: dict[str, Any]) -> None:
    """Run the workspace's installed commands (on PATH) instead of letting Meltano install each ``pip_url``."""
    for kind in ("extractors", "loaders"):
        for plugin in data["plugins"].get(kind, []):
            plugin.pop("pip_url", None)


def test_meltano_run_lands_oracle_hcm_and_erp_truths(tmp_path: Path) -> None:
    company = Company(seed=42, scale=100)
    project = MeltanoProject.copy_of(ROOT / "meltano.yml", tmp_path, edit=workspace_executables)

    def rows(product: str, stream: str, columns: list[str], order: str) -> list[tuple[Any, ...]]:
        return project.rows(product, stream, columns, order)

    with run_sandbox(["oracle_hcm", "oracle_erp"], scale=100) as sandbox:
        hcm = sandbox.emulator("oracle_hcm")
        assert isinstance(hcm, OracleHcmEmulator)
        hcm.password = CANARY  # the pod accepts only the canary
        hcm_env = {
            "TAP_ORACLE_HCM_BASE_URL": sandbox.url("oracle_hcm"),
            "TAP_ORACLE_HCM_PASSWORD": CANARY,
            "TAP_ORACLE_HCM__SELECT": json.dumps(HCM_SELECT),
        }
        erp_env = {
            "TAP_ORACLE_ERP_BASE_URL": sandbox.url("oracle_erp"),
            "TAP_ORACLE_ERP__SELECT": json.dumps(ERP_SELECT),
        }
        outputs = [project.run("tap-oracle-hcm", env=hcm_env), project.run("tap-oracle-erp", env=erp_env)]
        for output in outputs:
            assert output.returncode == 0, output.stderr[-3000:]
        rerun = project.run("tap-oracle-hcm", env=hcm_env)  # incremental from the stored bookmark (E12)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        outputs.append(rerun)
        # the workers pages: children named in fields, never expand beside it (audit25a F3)
        hcm_queries = [q for q in hcm.collection_queries if q.get("fields", "").startswith("PersonId,")]
        assert hcm_queries
        assert all(";names:" in q["fields"] and "expand" not in q for q in hcm_queries)
        assert hcm_queries[-1]["q"].startswith("LastUpdateDate >= '")

    workers = rows("oracle_hcm", "workers", ["PersonNumber", "FirstName", "WorkEmail", "JobCode",
                                             "AssignmentStatusType"], "PersonNumber")  # fmt: skip
    assert len(workers) == 100  # upserted by key on the re-run, not appended
    for e in company.employees():
        assert workers[e.index] == (e.employee_id, e.first_name, e.email, e.job_code, STATUS[e.status])
    emails = rows("oracle_hcm", "workers_emails", ["PersonId", "EmailAddress"], "PersonId")  # its own table
    assert [email for _, email in emails] == [e.email for e in company.employees()]
    assert dict(rows("oracle_hcm", "jobs", ["JobCode", "Name"], "JobCode")) == {j.code: j.name for j in company.jobs}
    extract = rows("oracle_hcm", "extract_workers", ["PersonNumber", "LastName", "HireDate"], "PersonNumber")
    assert extract == [(e.employee_id, e.last_name, e.hire_date.isoformat()) for e in company.employees()]
    orders = rows("oracle_erp", "purchaseOrders", ["OrderNumber", "SupplierNumber", "Ordered"], "OrderNumber")
    assert [(o, s, Decimal(str(a))) for o, s, a in orders] == [
        (po.po_id, po.supplier_id, po.amount) for po in company.purchase_orders()
    ]
    lines = rows("oracle_erp", "purchaseOrders_lines", ["POHeaderId", "Amount"], "POLineId")
    assert len(lines) == sum(po.line_count for po in company.purchase_orders())
    assert len(rows("oracle_erp", "suppliers", ["SupplierNumber"], "SupplierNumber")) == company.supplier_count
    report = rows("oracle_erp", "bi_invoices", ["InvoiceNumber", "InvoiceAmount"], "InvoiceNumber")
    assert {n: Decimal(a) for n, a in report} == {i.invoice_number: i.amount for i in company.invoices()}

    canary = Canary("oracle_hcm password", CANARY, user=USERNAME)
    blobs = {f"output {i}": (o.stdout + o.stderr).encode() for i, o in enumerate(outputs)}
    blobs.update(tree_files(tmp_path))
    blobs["truths rows"] = duckdb_dump(project.truths)
    assert scan([canary], blobs) == []
