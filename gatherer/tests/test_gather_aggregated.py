"""A stream the vocabulary marks aggregated (S/4HANA's journal set: balances per dimension combination) is summed
but never counted, listed or averaged as if each row were one entity: through the real ``xlr8 gather`` CLI."""

from __future__ import annotations

import io
import typing as t
from decimal import Decimal
from pathlib import Path

import pytest

from xlr8_gather.gather import sandbox_sources
from xlr8_kit.cli import main
from xlr8_sandbox.platform.server import Sandbox, run_sandbox

PROJECT = "6f1c2a9e-5a4d-4b8e-9c1f-0a5d5a4d0b01"
MELTANO_YML = Path(__file__).resolve().parents[2] / "meltano.yml"
TARGET = {"duckdb_memory_limit": "1GB"}


@pytest.fixture(scope="module")
def s4() -> t.Iterator[Sandbox]:
    with run_sandbox(["s4hana"], seed=42, scale=40) as running:
        yield running


def _gather(s4: Sandbox, question: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    import xlr8_gather.gather as gather_module

    config = dict(sandbox_sources(str(MELTANO_YML))["s4hana"], base_url=s4.url("s4hana"))
    monkeypatch.setattr(gather_module, "project_sources", lambda project, store: {"s4hana": config})
    monkeypatch.setattr(gather_module, "CLI_TARGET_SETTINGS", TARGET)
    out, err = io.StringIO(), io.StringIO()
    code = main(["gather", "--project", PROJECT, "--duckdb", str(tmp_path / "t.duckdb"), question], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many journal entries are in S/4HANA?", "count"),
        ("How many journal entries by company in S/4HANA?", "count"),
        ("List journal entries in S/4HANA", "list"),
        ("Average journal amount in S/4HANA", "average"),
    ],
)
def test_balances_are_not_counted_listed_or_averaged_as_entries(
    s4: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, question: str, kind: str
) -> None:
    code, out, err = _gather(s4, question, tmp_path, monkeypatch)
    assert code == 0, err
    lines = out.partition("\n\n")[0].splitlines()
    # the head and the note only: no figure, no group, no item (not the number of balance rows, nor their average,
    # nor their DimensionKey digests, presented as one of journal entries)
    assert len(lines) == 3, lines
    assert lines[1].startswith(f"  s4hana journal_entry: {'rows' if kind == 'list' else kind}"), lines
    assert lines[1].endswith(("= (none)", ":")), lines
    assert lines[2].startswith("    note: s4hana stream 'A_JournalEntryItemBasic' is aggregated (balances per company")
    assert lines[2].endswith(f"its rows are not one per journal_entry, so their {kind} is not computed here")


def test_balances_are_still_summed(s4: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Sums over balances are sums over the posted lines: the answer stays, equal to the company's own lines."""
    code, out, err = _gather(s4, "Total amount of journal entries by company in S/4HANA", tmp_path, monkeypatch)
    assert code == 0, err
    want: dict[str, Decimal] = {}
    for entry in s4.ctx.company.journals():
        for line in entry.lines:
            signed = line.debit if line.debit > 0 else -line.credit
            want[entry.legal_entity] = want.get(entry.legal_entity, Decimal(0)) + signed
    answer = out.partition("\n\n")[0]
    assert "note:" not in answer, answer
    got = {key.strip(): Decimal(value) for key, _, value in (line.partition(":") for line in answer.splitlines()[2:])}
    assert got, answer
    assert got == {k: v.quantize(Decimal("0.001")) for k, v in sorted(want.items())}, answer
