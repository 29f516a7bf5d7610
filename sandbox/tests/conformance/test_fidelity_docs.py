"""Every emulator that has conformance tests says, beside its code, which vendor documents it follows and what it
does not emulate."""

from __future__ import annotations

from pathlib import Path

import pytest

PRODUCTS = Path(__file__).resolve().parents[2] / "src" / "xlr8_sandbox" / "products"


@pytest.mark.parametrize(
    "document",
    [
        "salesforce/FIDELITY.md",
        "ukg_pro/FIDELITY.md",
        "workday/FIDELITY.md",
        "successfactors.FIDELITY.md",
        "s4hana/FIDELITY.md",
    ],
)
def test_fidelity_document_names_what_it_follows_and_what_it_leaves_out(document: str) -> None:
    text = (PRODUCTS / document).read_text(encoding="utf-8")
    assert "## Follows" in text
    assert "## Does not emulate" in text
