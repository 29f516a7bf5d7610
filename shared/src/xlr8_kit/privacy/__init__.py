"""Personal data at rest: which columns are PII, what a project's policy does with them, and the engine's cipher.

The Intelligence Engine encrypts PII columns of uploaded spreadsheets with AES-256-GCM and lists them in
``_schema_metadata.encrypted_columns``; truths landed through the connectors must be at least as private, and
readable by the same engine, so the format here is the engine's own (see ``cipher.py``).
"""

from xlr8_kit.privacy.cipher import ENC_PREFIX, HASH_PREFIX, FieldCipher, PrivacyKeyError, load_key
from xlr8_kit.privacy.policy import (
    ACTIONS,
    ColumnDecision,
    PiiPolicy,
    PolicyError,
    classify_column,
    pii_canonical_fields,
)

__all__ = [
    "ACTIONS",
    "ENC_PREFIX",
    "HASH_PREFIX",
    "ColumnDecision",
    "FieldCipher",
    "PiiPolicy",
    "PolicyError",
    "PrivacyKeyError",
    "classify_column",
    "load_key",
    "pii_canonical_fields",
]
