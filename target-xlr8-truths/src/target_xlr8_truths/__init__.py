"""target-xlr8-truths: Singer target landing records as XLR8 Reality and Configuration truths."""

from target_xlr8_truths.ledger import Truth, read_truths

__all__ = ["Truth", "read_truths"]
