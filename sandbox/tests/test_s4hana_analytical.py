"""The S/4HANA emulator's A_JournalEntryItemBasic as SAP's analytical engine answers it, over real HTTP: the
``$metadata`` annotations of API_JOURNALENTRYITEMBASIC_SRV, rows grouped by what ``$select`` names with the
measures summed from the company's postings, ``ID`` numbered per answer, and the options the engine refuses."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import requests
from lxml import etree

from xlr8_sandbox.products.s4hana import COMM_PASSWORD, COMM_USER, SAP_CLIENT
from xlr8_sandbox.testing import emulator_fixtures

sandbox, emulator, url = emulator_fixtures("s4hana", scale=100)

SERVICE = "/sap/opu/odata/sap/API_JOURNALENTRYITEMBASIC_SRV"
EDM = "{http://schemas.microsoft.com/ado/2008/09/edm}"
SAP = "{http://www.sap.com/Protocols/SAPData}"


def get(url: str, path: str, **params: str) -> requests.Response:
    query = {"sap-client": SAP_CLIENT, "$format": "json", **params}
    return requests.get(f"{url}{SERVICE}/{path}", params=query, auth=(COMM_USER, COMM_PASSWORD), timeout=30)


def rows(url: str, **params: str) -> list[dict[str, Any]]:
    answer = get(url, "A_JournalEntryItemBasic", **params)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["d"]["results"])


def by_account(sandbox: Any) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for journal in sandbox.ctx.company.journals():
        for line in journal.lines:
            sums[(line.account_number.zfill(8), journal.currency)] += line.debit - line.credit
    return dict(sums)


def test_metadata_declares_an_analytical_set_with_a_generated_key(url: str) -> None:
    answer = get(url, "$metadata")
    assert answer.status_code == 200
    root = etree.fromstring(answer.content)
    entity = next(e for e in root.iter(f"{EDM}EntityType") if e.get("Name") == "A_JournalEntryItemBasicType")
    assert entity.get(f"{SAP}semantics") == "aggregate"
    assert [r.get("Name") for r in entity.iter(f"{EDM}PropertyRef")] == ["ID"]
    props = {p.get("Name"): p for p in entity.iter(f"{EDM}Property")}
    assert props["ID"].get(f"{SAP}sortable") == "false"
    assert props["ID"].get(f"{SAP}filterable") == "false"
    assert props["GLAccount"].get(f"{SAP}aggregation-role") == "dimension"
    amount = props["AmountInCompanyCodeCurrency"]
    assert amount.get(f"{SAP}aggregation-role") == "measure"
    assert amount.get(f"{SAP}unit") == "CompanyCodeCurrency"
    assert amount.get(f"{SAP}filterable") == "false"
    assert (amount.get("Precision"), amount.get("Scale")) == ("24", "3")
    assert props["CompanyCodeCurrency"].get(f"{SAP}semantics") == "currency-code"
    assert not {"AccountingDocument", "LastChangeDate", "PostingDate", "SourceLedger"} & set(props)


def test_a_selection_is_grouped_and_its_measures_summed_from_the_postings(url: str, sandbox: Any) -> None:
    answer = get(url, "A_JournalEntryItemBasic", **{
        "$select": "GLAccount,AmountInCompanyCodeCurrency", "$orderby": "GLAccount", "$inlinecount": "allpages",
    })  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()["d"]
    results = body["results"]
    expected = by_account(sandbox)
    # Grouped by the account and by the measure's unit (its currency), nothing else; summed exactly.
    assert {(r["GLAccount"], r["CompanyCodeCurrency"]): Decimal(r["AmountInCompanyCodeCurrency"]) for r in results} == (
        expected
    )
    assert len(results) == len(expected) == int(body["__count"])
    assert [r["GLAccount"] for r in results] == sorted(r["GLAccount"] for r in results)
    assert [r["ID"] for r in results] == [str(n) for n in range(1, len(results) + 1)]  # numbered per answer
    assert all(set(r) == {"__metadata", "ID", "GLAccount", "CompanyCodeCurrency", "AmountInCompanyCodeCurrency"}
               for r in results)  # fmt: skip
    lines = sum(len(j.lines) for j in sandbox.ctx.company.journals())
    full = rows(url, **{"$inlinecount": "allpages"})
    assert len(expected) < len(full) <= lines  # the full grain is finer than the account, coarser than the lines


def test_windows_over_an_ordered_answer_and_filters_before_grouping(url: str) -> None:
    order = "CompanyCode,GLAccount,CostCenter,FiscalYearPeriod"
    select = order + ",AmountInCompanyCodeCurrency"
    whole = rows(url, **{"$select": select, "$orderby": order})
    first = rows(url, **{"$select": select, "$orderby": order, "$top": "7"})
    second = rows(url, **{"$select": select, "$orderby": order, "$top": "7", "$skip": "7"})
    assert [r["ID"] for r in first + second] == [r["ID"] for r in whole[:14]]
    assert first + second == whole[:14]
    canadian = rows(url, **{"$select": select, "$orderby": order, "$filter": "CompanyCode eq 'C200'"})
    strip = ("__metadata", "ID")
    assert [{k: v for k, v in r.items() if k not in strip} for r in canadian] == [
        {k: v for k, v in r.items() if k not in strip} for r in whole if r["CompanyCode"] == "C200"
    ]
    assert [r["ID"] for r in canadian] == [str(n) for n in range(1, len(canadian) + 1)]
    assert canadian
    assert all(r["CompanyCodeCurrency"] == "CAD" for r in canadian)
    count = get(url, "A_JournalEntryItemBasic/$count", **{"$select": select})
    assert count.text == str(len(whole))


def test_what_the_analytical_engine_refuses(url: str) -> None:
    for params in (
        {"$orderby": "ID"},  # the generated key cannot be sorted
        {"$filter": "AmountInCompanyCodeCurrency gt 0"},  # measures cannot be filtered
        {"$filter": "ID eq '1'"},
        {"$select": "GLAccount,AmountInCompanyCodeCurrency", "$orderby": "CostCenter"},  # not in the answer
        {"$select": "AccountingDocument"},  # not on the set
    ):
        answer = get(url, "A_JournalEntryItemBasic", **params)
        assert answer.status_code == 400, params
        assert answer.json()["error"]["code"].startswith("/IWBEP/CM_MGW_RT/"), params


def test_shuffled_ties_differ_per_window_and_a_full_order_does_not(url: str, emulator: Any) -> None:
    """``shuffle_ties``: rows tied under ``$orderby`` (accounts posted in two currencies, ordered by account only)
    and an answer without ``$orderby`` come back in another order per ``$skip``; an order naming every column of
    the answer (the account and the amount's currency) pages the same rows whatever the salt."""
    emulator.shuffle_ties = True
    select = "GLAccount,AmountInCompanyCodeCurrency"

    def pairs(found: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(r["GLAccount"], r["CompanyCodeCurrency"]) for r in found]

    tied = rows(url, **{"$select": select, "$orderby": "GLAccount"})
    after_one = rows(url, **{"$select": select, "$orderby": "GLAccount", "$skip": "1"})
    assert len(set(pairs(tied))) == len(tied) > len({r["GLAccount"] for r in tied})  # there are ties
    assert [r["GLAccount"] for r in after_one] == [r["GLAccount"] for r in tied[1:]]  # still in $orderby order
    assert pairs(after_one) != pairs(tied[1:])  # but the tied rows in another order: a window may double or miss
    unordered = rows(url, **{"$select": select})
    assert pairs(rows(url, **{"$select": select, "$skip": "1"})) != pairs(unordered[1:])
    full = {"$select": select, "$orderby": "GLAccount,CompanyCodeCurrency"}
    whole = rows(url, **full)
    assert pairs(rows(url, **full, **{"$skip": "1"})) == pairs(whole[1:])
    assert pairs(rows(url, **full, **{"$skip": "5", "$top": "5"})) == pairs(whole[5:10])


def test_the_kept_answer_of_one_selection_is_not_served_for_another(
    url: str, sandbox: Any, emulator: Any, monkeypatch: Any
) -> None:
    """The row cache keys an analytical answer by ``$select`` too: the same ``$filter``/``$orderby`` with another
    selection is another grouping (review29d L1)."""
    monkeypatch.setattr(emulator.row_cache, "enabled", True)
    order = {"$orderby": "GLAccount", "$filter": "Ledger eq '0L'"}
    by_account_only = rows(url, **{"$select": "GLAccount,AmountInCompanyCodeCurrency", **order})
    assert {(r["GLAccount"], r["CompanyCodeCurrency"]): Decimal(r["AmountInCompanyCodeCurrency"])
            for r in by_account_only} == by_account(sandbox)  # fmt: skip
    with_center = rows(url, **{"$select": "GLAccount,CostCenter,AmountInCompanyCodeCurrency", **order})
    sums: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for journal in sandbox.ctx.company.journals():
        for line in journal.lines:
            sums[(line.account_number.zfill(8), line.cost_center, journal.currency)] += line.debit - line.credit
    assert {(r["GLAccount"], r["CostCenter"], r["CompanyCodeCurrency"]): Decimal(r["AmountInCompanyCodeCurrency"])
            for r in with_center} == dict(sums)  # fmt: skip
    assert len(with_center) == len(sums) > len(by_account_only)


def test_the_journal_names_an_account_as_the_gl_account_text_set_does(url: str) -> None:
    """SAP fills both from the account's short text (SKAT-TXT20): one spelling, not an upper-cased one on the
    journal set (review29d L4)."""
    texts = requests.get(
        f"{url}/sap/opu/odata/sap/API_GLACCOUNTINCHARTOFACCOUNTS_SRV/A_GLAccountText",
        params={"sap-client": SAP_CLIENT, "$format": "json", "$filter": "Language eq 'EN'"},
        auth=(COMM_USER, COMM_PASSWORD),
        timeout=30,
    )
    assert texts.status_code == 200, texts.text
    short_text = {r["GLAccount"]: r["GLAccountName"] for r in texts.json()["d"]["results"]}
    journal = rows(url, **{"$select": "GLAccount,GLAccountName,AmountInCompanyCodeCurrency"})
    assert journal
    assert {r["GLAccount"]: r["GLAccountName"] for r in journal} == {
        r["GLAccount"]: short_text[r["GLAccount"]] for r in journal
    }
    assert any(name != name.upper() for name in short_text.values())
