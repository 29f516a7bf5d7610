"""``quoted_value``: an error text about one field quotes its value no more than the field's dead letter keeps it
(loose24 "left": mapper-common's errors quoted PII values; the Redactor masks only registered secrets)."""

from __future__ import annotations

from decimal import Decimal

from xlr8_kit.dead_letters import quoted_value, redacted_payload
from xlr8_kit.redaction import Redactor


def test_a_value_is_quoted_as_its_letter_keeps_it() -> None:
    redactor = Redactor()
    redactor.add("s3cr3t-registered-value")
    cases = [
        (("status",), "shipped", "'shipped'"),
        (("quantity",), Decimal("1.2345"), "'1.2345'"),
        (("Payee", "BankAccount", "Currency"), "EURO", "[PII]"),  # any step of the path
        (("supplier_tax_id", "SupplierTIN"), "12-3456789", "[PII]"),
        (("requesterBirthDate",), "1980-02-30", "[PII]"),
        (("api_token",), "abc", "***"),
        (("notes",), "see s3cr3t-registered-value", "'see ***'"),
        (("notes",), "x" * 300, repr("x" * 256 + "…(300 chars)")),
    ]
    for names, value, shown in cases:
        assert quoted_value(names, value, redactor) == shown, names
        letter = redacted_payload({names[-1]: value}, redactor, personal=True)[names[-1]]
        if shown in ("[PII]", "***") and len(names) == 1:
            assert letter == shown  # the same mask the letter holds
    assert quoted_value(("supplier_tax_id",), "12-3456789", redactor, personal=False) == "'12-3456789'"
