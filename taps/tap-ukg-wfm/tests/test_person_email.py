"""audit25b F10: ``persons.email`` is the person's work address, by its contact type; a personal (Home) address
never lands as the work e-mail (the vocabulary's ``email`` is not personal data, so the target stores it in clear).
Tap CLI into target CLI, through a server that rewrites the emulator's persons answers."""

from __future__ import annotations

import typing as t
from pathlib import Path

import duckdb

from xlr8_kit.testing.meltano_e2e import truths_table
from xlr8_sandbox.products.ukg_wfm import UkgWfmEmulator

from .conftest import rewriting_proxy
from .test_vendor_shapes import _land, _records, _sync_cli

HOME = "jane.private@gmail.example"


def _home_addresses(work: dict[str, str]) -> t.Callable[[str, t.Any, t.Any], t.Any]:
    """E000001 gets a Home address listed before its Work one; E000002 has only a Home address (its Work one
    removed); ``work`` gets E000001's work address."""

    def rewrite(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/persons/multi_read"):
            for row in answer:
                info = row["personInformation"]
                number = info["person"]["personNumber"]
                home = {"address": HOME, "contactTypeName": "Home", "hasEmailNotificationDelivery": False}
                if number == "E000001":
                    work[number] = info["emailAddresses"][0]["address"]
                    info["emailAddresses"].insert(0, home)
                if number == "E000002":
                    info["emailAddresses"] = [{**home, "address": "e2.home@mail.example"}]
        return answer

    return rewrite


def _landed(truths: Path) -> dict[str, t.Any]:
    with duckdb.connect(str(truths), read_only=True) as conn:
        table = truths_table(conn, "ukg_wfm", "persons")
        return dict(conn.execute(f'SELECT person_number, email FROM "{table}"').fetchall())


def test_a_home_address_never_lands_as_the_work_email(url: str, emulator: UkgWfmEmulator, tmp_path: Path) -> None:
    work: dict[str, str] = {}
    with rewriting_proxy(url, _home_addresses(work)) as proxy:
        out = _sync_cli(proxy.url, tmp_path, {"persons"}).stdout
    assert work["E000001"]
    assert HOME not in out
    assert "e2.home@mail.example" not in out
    truths = tmp_path / "truths.duckdb"
    _land(out, truths, tmp_path)
    landed = _landed(truths)
    assert landed["E000001"] == work["E000001"]  # the Work address, though listed second
    assert landed["E000002"] is None  # only a Home address: no work e-mail
    assert sum(1 for r in _records(out) if r["email"]) == len(landed) - 1  # everyone else keeps theirs


def test_work_email_types_names_the_tenants_work_contact_type(
    url: str, emulator: UkgWfmEmulator, tmp_path: Path
) -> None:
    """A tenant whose work contact type has another name (``Business``) names it in ``work_email_types``."""

    def business(path: str, sent: t.Any, answer: t.Any) -> t.Any:
        if path.endswith("/persons/multi_read"):
            for row in answer:
                for entry in row["personInformation"]["emailAddresses"]:
                    entry["contactTypeName"] = "Business"
        return answer

    with rewriting_proxy(url, business) as proxy:
        default = _records(_sync_cli(proxy.url, tmp_path, {"persons"}).stdout)
        named = _records(_sync_cli(proxy.url, tmp_path, {"persons"}, work_email_types=["business"]).stdout)
    assert {r["email"] for r in default} == {None}
    assert all(r["email"] for r in named)
