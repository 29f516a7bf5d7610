"""40+ questions over the landed products, each gathered from the running emulators: the entities found, the filter
as each product's own dialect sends it, the rows landed, and the answer (count, sum, average, grouped) compared with
a value computed independently from the fictional company the emulators serve (``xlr8_sandbox.company.Company``;
the Salesforce emulator generates its own sObjects, so Salesforce answers are computed from its ``base_record``)."""

from __future__ import annotations

import typing as t
from collections import Counter
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from xlr8_gather.gather import GatherReport, analyse, gather
from xlr8_sandbox.company import Company, Employee
from xlr8_sandbox.platform.server import Sandbox

PROJECT = "acme-questions"
Expected = t.Callable[["World"], t.Any]


@dataclass
class World:
    company: Company
    sandbox: Sandbox

    def people(self) -> list[Employee]:
        return list(self.company.employees(as_of=self.sandbox.ctx.clock.now()))

    def sobjects(self, name: str) -> list[dict[str, t.Any]]:
        objects = self.sandbox.emulator("salesforce").objects[name]  # type: ignore[attr-defined]
        return [objects.base_record(i) for i in range(objects.count)]


def count(predicate: t.Callable[[Employee], bool]) -> Expected:
    return lambda w: sum(1 for e in w.people() if predicate(e))


def groups(values: t.Callable[[World], t.Iterable[t.Any]]) -> Expected:
    return lambda w: dict(sorted(Counter(values(w)).items()))


def total(values: t.Callable[[World], t.Iterable[Decimal | None]]) -> Expected:
    return lambda w: sum((v for v in values(w) if v is not None), Decimal(0))


def average(values: t.Callable[[World], t.Iterable[Decimal | None]]) -> Expected:
    def compute(w: World) -> Decimal:
        found = [v for v in values(w) if v is not None]
        return sum(found, Decimal(0)) / len(found)

    return compute


def sums_by(key: str, value: str, name: str) -> Expected:
    def compute(w: World) -> dict[t.Any, Decimal]:
        out: dict[t.Any, Decimal] = {}
        for row in w.sobjects(name):
            if row.get(value) is not None:
                out[row[key]] = out.get(row[key], Decimal(0)) + row[value]
        return dict(sorted(out.items()))

    return compute


def journals(w: World) -> list[t.Any]:
    return list(w.company.journals())


def journal_amount(j: t.Any) -> Decimal:
    return sum((line.debit for line in j.lines), Decimal(0))


WD_STATUS = {"active": "Active", "leave": "On Leave", "terminated": "Terminated"}
UKG_STATUS = {"active": "A", "leave": "L", "terminated": "T"}
HR = ("ukg_pro", "successfactors", "workday_hcm")

# question, entities, {product: what the product is sent (native query text)}, expected answer per product
CASES: list[tuple[str, tuple[str, ...], dict[str, str], dict[str, Expected]]] = [
    # --- employees over the HR products ---------------------------------------------------------------------
    ("How many employees are in UKG Pro?", ("employee",), {"ukg_pro": "employment_details"},
     {"ukg_pro": count(lambda e: True)}),
    ("How many active employees are in UKG Pro?", ("employee",), {"ukg_pro": "employeeStatusCode=A"},
     {"ukg_pro": count(lambda e: e.status == "active")}),
    ("How many employees are on leave in UKG Pro, SuccessFactors and Workday?", ("employee",),
     {"ukg_pro": "employeeStatusCode=L", "successfactors": "/EmpJob?$filter=(emplStatus eq 'U' or emplStatus eq 'P')",
      "workday_hcm": "/workers"},
     dict.fromkeys(HR, count(lambda e: e.status == "leave"))),
    ("How many terminated employees are in Workday and UKG Pro?", ("employee",),
     {"ukg_pro": "employeeStatusCode=T", "workday_hcm": "/workers"},
     dict.fromkeys(("ukg_pro", "workday_hcm"), count(lambda e: e.status == "terminated"))),
    ("How many employees were hired in 2024 in UKG Pro, SuccessFactors and Workday?", ("employee",),
     {"successfactors": "hireDate ge datetime'2024-01-01T00:00:00' and hireDate le datetime'2024-12-31T00:00:00'"},
     dict.fromkeys(HR, count(lambda e: e.hire_date.year == 2024))),
    ("How many employees were hired since 2023-06-01 in SuccessFactors?", ("employee",),
     {"successfactors": "hireDate ge datetime'2023-06-01T00:00:00'"},
     {"successfactors": count(lambda e: e.hire_date >= date(2023, 6, 1))}),
    ("How many employees were hired before 2019 in Workday and UKG Pro?", ("employee",), {"workday_hcm": "/workers"},
     dict.fromkeys(("ukg_pro", "workday_hcm"), count(lambda e: e.hire_date < date(2019, 1, 1)))),
    ("How many employees were hired after 2022 in UKG Pro?", ("employee",), {"ukg_pro": "employment_details"},
     {"ukg_pro": count(lambda e: e.hire_date > date(2022, 12, 31))}),
    ("How many employees were hired between 2020-01-01 and 2021-06-30 in SuccessFactors?", ("employee",),
     {"successfactors": "hireDate ge datetime'2020-01-01T00:00:00'"},
     {"successfactors": count(lambda e: date(2020, 1, 1) <= e.hire_date <= date(2021, 6, 30))}),
    ("How many employees were terminated in 2025 in UKG Pro?", ("employee",), {"ukg_pro": "employment_details"},
     {"ukg_pro": count(lambda e: e.termination_date is not None and e.termination_date.year == 2025)}),
    ("How many employees in department D003 in UKG Pro and SuccessFactors?", ("employee",),
     {"successfactors": "department eq 'D003'"},
     dict.fromkeys(("ukg_pro", "successfactors"), count(lambda e: e.department_code == "D003"))),
    ("How many employees at location TOR in SuccessFactors and Workday?", ("employee",),
     {"successfactors": "location eq 'TOR'"},
     dict.fromkeys(("successfactors",), count(lambda e: e.location_code == "TOR"))),
    ("How many employees in department D001 were hired since 2020 in SuccessFactors?", ("employee",),
     {"successfactors": "hireDate ge datetime'2020-01-01T00:00:00' and department eq 'D001'"},
     {"successfactors": count(lambda e: e.department_code == "D001" and e.hire_date >= date(2020, 1, 1))}),
    ("Headcount by department in UKG Pro", ("employee",), {"ukg_pro": "employment_details"},
     {"ukg_pro": groups(lambda w: (e.department_code for e in w.people()))}),
    ("How many employees by status in Workday?", ("employee",), {"workday_hcm": "workers"},
     {"workday_hcm": groups(lambda w: (WD_STATUS[e.status] for e in w.people()))}),
    ("How many employees by status in UKG Pro?", ("employee",), {"ukg_pro": "employment_details"},
     {"ukg_pro": groups(lambda w: (UKG_STATUS[e.status] for e in w.people()))}),
    ("How many employees per location in SuccessFactors?", ("employee",), {"successfactors": "User"},
     {"successfactors": groups(lambda w: (e.location_code for e in w.people()))}),
    # SuccessFactors' User.status is active for people on leave too (only terminated people are inactive)
    ("How many active employees are in SuccessFactors?", ("employee",),
     {"successfactors": "/User?$filter=status eq 'active'"},
     {"successfactors": count(lambda e: e.status != "terminated")}),
    ("How many active and terminated employees in UKG Pro?", ("employee",),
     {"ukg_pro": "employment_details"}, {"ukg_pro": count(lambda e: e.status in ("active", "terminated"))}),
    ("How many employees on leave in UKG WFM?", ("employee",), {"ukg_wfm": "/persons"},
     {"ukg_wfm": count(lambda e: e.status == "leave")}),
    # --- Salesforce -------------------------------------------------------------------------------------------
    ("How many opportunities are in Salesforce?", ("opportunity",), {"salesforce": "Opportunity"},
     {"salesforce": lambda w: len(w.sobjects("Opportunity"))}),
    ("Total amount of opportunities in Salesforce", ("opportunity",), {"salesforce": "Opportunity"},
     {"salesforce": total(lambda w: (o["Amount"] for o in w.sobjects("Opportunity")))}),
    ("Average amount of opportunities in Salesforce", ("opportunity",), {"salesforce": "Opportunity"},
     {"salesforce": average(lambda w: (o["Amount"] for o in w.sobjects("Opportunity")))}),
    ("Total amount of opportunities by stage in Salesforce", ("opportunity",), {"salesforce": "Opportunity"},
     {"salesforce": sums_by("StageName", "Amount", "Opportunity")}),
    ("How many opportunities by stage in Salesforce?", ("opportunity",), {"salesforce": "Opportunity"},
     {"salesforce": groups(lambda w: (o["StageName"] for o in w.sobjects("Opportunity")))}),
    ("How many opportunities with amount over 100000 in Salesforce?", ("opportunity",),
     {"salesforce": "WHERE Amount > 100000"},
     {"salesforce": lambda w: sum(1 for o in w.sobjects("Opportunity") if (o["Amount"] or 0) > 100000)}),
    ("How many opportunities with an amount under 50000 in Salesforce?", ("opportunity",),
     {"salesforce": "WHERE Amount < 50000"},
     {"salesforce": lambda w: sum(1 for o in w.sobjects("Opportunity") if (o["Amount"] or 50000) < 50000)}),
    ("How many opportunities closing in 2026 in Salesforce?", ("opportunity",),
     {"salesforce": "CloseDate >= 2026-01-01 AND CloseDate <= 2026-12-31"},
     {"salesforce": lambda w: sum(1 for o in w.sobjects("Opportunity") if str(o["CloseDate"]).startswith("2026"))}),
    ("How many opportunities in stage 'Closed Won' in Salesforce?", ("opportunity",),
     {"salesforce": "StageName = 'Closed Won'"},
     {"salesforce": lambda w: sum(1 for o in w.sobjects("Opportunity") if o["StageName"] == "Closed Won")}),
    ("How many accounts are in Salesforce?", ("crm_account",), {"salesforce": "Account"},
     {"salesforce": lambda w: len(w.sobjects("Account"))}),
    ("How many accounts with annual revenue above 1000000 in Salesforce?", ("crm_account",),
     {"salesforce": "AnnualRevenue > 1000000"},
     {"salesforce": lambda w: sum(1 for a in w.sobjects("Account") if (a["AnnualRevenue"] or 0) > 1000000)}),
    ("Total annual revenue of accounts by industry in Salesforce", ("crm_account",), {"salesforce": "Account"},
     {"salesforce": sums_by("Industry", "AnnualRevenue", "Account")}),
    ("How many accounts by country in Salesforce?", ("crm_account",), {"salesforce": "Account"},
     {"salesforce": groups(lambda w: (a["BillingCountry"] for a in w.sobjects("Account")))}),
    ("How many contacts are in Salesforce?", ("contact",), {"salesforce": "Contact"},
     {"salesforce": lambda w: len(w.sobjects("Contact"))}),
    ("How many leads are in Salesforce?", ("lead",), {"salesforce": "Lead"},
     {"salesforce": lambda w: len(w.sobjects("Lead"))}),
    # --- Workday Financials -----------------------------------------------------------------------------------
    ("How many journal entries are in Workday Financials?", ("journal_entry",), {"workday_fins": "journals"},
     {"workday_fins": lambda w: len(journals(w))}),
    ("Total amount of journal entries in Workday Financials", ("journal_entry",), {"workday_fins": "journals"},
     {"workday_fins": total(lambda w: (journal_amount(j) for j in journals(w)))}),
    ("How many journal entries by company in Workday Financials?", ("journal_entry",), {"workday_fins": "journals"},
     {"workday_fins": groups(lambda w: (j.legal_entity for j in journals(w)))}),
    ("How many journal entries since 2025-01-01 in Workday Financials?", ("journal_entry",),
     {"workday_fins": "journals"},
     {"workday_fins": lambda w: sum(1 for j in journals(w) if j.posted_date >= date(2025, 1, 1))}),
    ("Total journal amount in 2024 in Workday Financials", ("journal_entry",), {"workday_fins": "journals"},
     {"workday_fins": total(lambda w: (journal_amount(j) for j in journals(w) if j.posted_date.year == 2024))}),
    ("How many journal entries with amount over 20000 in Workday Financials?", ("journal_entry",),
     {"workday_fins": "journals"},
     {"workday_fins": lambda w: sum(1 for j in journals(w) if journal_amount(j) > 20000)}),
    ("How many suppliers are in Workday Financials?", ("supplier",), {"workday_fins": "suppliers"},
     {"workday_fins": lambda w: len(list(w.company.suppliers()))}),
    ("How many suppliers by country in Workday Financials?", ("supplier",), {"workday_fins": "suppliers"},
     {"workday_fins": groups(lambda w: (s.country for s in w.company.suppliers()))}),
    # --- configuration --------------------------------------------------------------------------------------
    ("How many job codes are in SuccessFactors?", ("job",), {"successfactors": "FOJobCode"},
     {"successfactors": lambda w: len(w.company.jobs)}),
]  # fmt: skip


def test_there_are_forty_questions_or_more() -> None:
    assert len(CASES) >= 40
    assert len({q for q, *_ in CASES}) == len(CASES)


@pytest.mark.parametrize(("question", "entities", "sent", "expected"), CASES, ids=[c[0] for c in CASES])
def test_question(
    sources: dict[str, dict[str, t.Any]],
    sandbox: Sandbox,
    tmp_path: Path,
    question: str,
    entities: tuple[str, ...],
    sent: dict[str, str],
    expected: dict[str, Expected],
) -> None:
    analysis = analyse(question)
    assert analysis.entities == entities
    report = GatherReport()
    truths = gather(question, project=PROJECT, sources=sources, duckdb_path=str(tmp_path / "t.duckdb"), report=report)
    by_product = {tr.metadata["product"]: tr for tr in truths}
    assert set(expected) <= set(by_product), report.skipped
    world = World(sandbox.ctx.company, sandbox)
    for product, truth in by_product.items():
        # every row read landed
        assert truth.metadata["landed"] == truth.metadata["rows"]
        assert truth.metadata["dead_lettered"] == 0
        if product in sent:
            assert sent[product] in (truth.metadata["query"] or truth.metadata["stream"]), truth.metadata["query"]
    for product, compute in expected.items():
        answer = by_product[product].metadata["answer"]
        want = compute(world)
        if isinstance(want, dict):
            got = {key: value for key, value in answer.groups}
            assert got == want, (product, answer.text())
        elif answer.kind == "average":
            assert answer.value is not None
            assert abs(Decimal(answer.value) - want) < Decimal("0.01"), (product, answer.text())
        else:
            assert answer.value == want, (product, answer.text())
            if answer.kind == "count":
                assert by_product[product].metadata["rows"] == want


def test_an_encrypted_measure_is_reported_not_computed(
    sources: dict[str, dict[str, t.Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from xlr8_kit.privacy.cipher import generate_key_file

    monkeypatch.setenv("XLR8_PII_KEY_FILE", str(generate_key_file(tmp_path / "pii.key")))
    report = GatherReport()
    question = "Average annual salary of employees in UKG Pro"
    truths = gather(question, project=PROJECT, sources=sources, duckdb_path=str(tmp_path / "t.duckdb"), report=report)
    answer = truths[0].metadata["answer"]
    assert (truths[0].metadata["entity"], answer.kind, answer.measure) == ("compensation", "average", "annual_salary")
    assert truths[0].metadata["landed"] == truths[0].metadata["rows"] > 0
    assert answer.value is None
    assert "annual_salary is encrypted in the store" in answer.text()
