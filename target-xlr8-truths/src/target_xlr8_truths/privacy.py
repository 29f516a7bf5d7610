"""PII columns of one stream, protected before any row, dead letter or profile sees them.

Decisions come from the project's policy (``xlr8_kit.privacy``) over each column's name and the canonical field
the tap's ``x-xlr8`` annotation maps it to. ``encrypt`` writes the engine's ``ENC256:`` format (listed in
``_schema_metadata.encrypted_columns`` so the engine decrypts it on display), ``hash`` a keyed HMAC (stable, for
join keys), ``drop`` leaves the column out, ``keep`` lands it in clear (an explicit opt-in, logged).
"""

from __future__ import annotations

import datetime as dt
import logging
import typing as t
from dataclasses import dataclass, field
from decimal import Decimal

from target_xlr8_truths.columns import Column
from target_xlr8_truths.records import Rejected
from xlr8_kit.privacy import ColumnDecision, FieldCipher, PiiPolicy, PolicyError, load_key
from xlr8_kit.privacy.cipher import PrivacyKeyError, ensure_key_file

LOGGER = logging.getLogger("target_xlr8_truths.privacy")


#: What a key's check value hashes (``PrivacySettings.key_check``).
KEY_CHECK_TEXT = "xlr8-key-check"


class PrivacyError(ValueError):
    """PII would land in clear or the key/policy cannot be used; names the columns and the setting."""


@dataclass
class PrivacySettings:
    """The target's PII key and policy, read once per run."""

    policy: PiiPolicy
    cipher: FieldCipher | None
    key_setting: str = "pii_key_file"

    @classmethod
    def from_config(cls, config: t.Mapping[str, t.Any]) -> PrivacySettings:
        try:
            policy = PiiPolicy.from_setting(config.get("pii_policy"), setting="pii_policy")
            if config.get("pii_policy_file"):
                if config.get("pii_policy"):
                    raise PolicyError("set either 'pii_policy' or 'pii_policy_file', not both")
                policy = PiiPolicy.from_setting(str(config["pii_policy_file"]), setting="pii_policy_file")
            cipher = None
            if config.get("pii_key_file"):
                if config.get("pii_key_create"):
                    ensure_key_file(str(config["pii_key_file"]))
                cipher = FieldCipher(load_key(key_file=str(config["pii_key_file"]), setting="pii_key_file"))
            elif config.get("pii_key_credential_id"):
                cipher = FieldCipher(_key_from_store(config))
        except (PolicyError, PrivacyKeyError) as exc:
            raise PrivacyError(str(exc)) from None
        setting = "pii_key_file" if config.get("pii_key_file") else "pii_key_credential_id"
        return cls(policy=policy, cipher=cipher, key_setting=setting)

    def key_check(self) -> str:
        """The key's check value: a keyed hash of a constant (it tells keys apart and reveals nothing of them)."""
        assert self.cipher is not None
        return self.cipher.hash(KEY_CHECK_TEXT)


def _key_from_store(config: t.Mapping[str, t.Any]) -> bytes:
    """The key kept as field ``pii_key`` of a credential in the xlr8 credential store (never in meltano.yml)."""
    from xlr8_kit.credentials.resolve import open_manager

    credential_id = str(config["pii_key_credential_id"])
    manager = None
    try:
        manager = open_manager(config.get("credential_store"), create=False)
        value = manager.get(credential_id).credentials.get("pii_key")
    except Exception as exc:  # noqa: BLE001 - any store failure is a setting problem for the user
        raise PrivacyKeyError(f"setting 'pii_key_credential_id': {type(exc).__name__}: {exc}") from None
    finally:
        if manager is not None:
            manager.close()
    if not value:
        raise PrivacyKeyError(f"setting 'pii_key_credential_id': credential {credential_id!r} has no 'pii_key' field")
    return load_key(key_value=value, setting="pii_key_credential_id")


def _text(value: t.Any) -> str:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


@dataclass
class StreamProtection:
    """Per column of one stream: the decision, and the columns as they will be stored."""

    decisions: dict[str, ColumnDecision] = field(default_factory=dict)  # by source property name
    cipher: FieldCipher | None = None

    @classmethod
    def build(
        cls,
        stream: str,
        columns: list[Column],
        canonical: t.Mapping[str, str],
        key_sources: list[str],
        settings: PrivacySettings,
    ) -> StreamProtection:
        decisions: dict[str, ColumnDecision] = {}
        for column in columns:
            if column.source.startswith("_sdc_"):
                continue
            decision = settings.policy.decide(column.source, canonical.get(column.source))
            if decision is None:
                continue
            if column.source in key_sources and decision.action in {"encrypt", "drop"}:
                # A random nonce would make every run a new key; a dropped key cannot upsert: hash keeps both.
                decision = ColumnDecision(decision.column, "hash", f"{decision.reason}; key column")
            decisions[column.source] = decision
        needs_key = sorted(d.column for d in decisions.values() if d.action in {"encrypt", "hash"})
        if needs_key and settings.cipher is None:
            raise PrivacyError(
                f"stream {stream!r}: column(s) {', '.join(needs_key)} hold personal data and no PII key is configured; "
                "set 'pii_key_file' (the engine's AES-256 key file) or 'pii_key_credential_id', or choose another "
                "action for them in 'pii_policy' (hash, drop, keep). Nothing was written for this stream."
            )
        for decision in decisions.values():
            if decision.action == "keep":
                LOGGER.warning(
                    "stream %s: PII column %s lands in clear (policy 'keep', %s)",
                    stream,
                    decision.column,
                    decision.reason,
                )
        return cls(decisions=decisions, cipher=settings.cipher)

    def stored_columns(self, columns: list[Column]) -> list[Column]:
        """Dropped columns leave; encrypted and hashed ones become text."""
        out = []
        for column in columns:
            decision = self.decisions.get(column.source)
            if decision is None or decision.action == "keep":
                out.append(column)
            elif decision.action != "drop":
                out.append(Column(column.name, column.source, "text", column.scale))
        return out

    @property
    def encrypted_sources(self) -> list[str]:
        return [s for s, d in self.decisions.items() if d.action == "encrypt"]

    @property
    def protected_sources(self) -> set[str]:
        return {s for s, d in self.decisions.items() if d.action != "keep"}

    def protect(self, source: str, value: t.Any) -> t.Any:
        """One value as it may be stored (the column's decision applied); None stays None."""
        decision = self.decisions.get(source)
        if value is None or decision is None or decision.action == "keep":
            return value
        assert self.cipher is not None  # build() refused a stream needing a key without one
        try:
            if decision.action == "encrypt":
                return self.cipher.encrypt(_text(value))
            if decision.action == "hash":
                return self.cipher.hash(_text(value))
        except UnicodeEncodeError as exc:  # a lone surrogate ("\ud800" in the tap's JSON): as an unprotected column
            raise Rejected(f"$.{source}", "invalid UTF-8 (lone surrogate)") from exc
        return None

    def protect_record(self, record: dict[str, t.Any]) -> dict[str, t.Any]:
        """A copy of a raw record safe to keep in a dead letter: protected values protected, dropped ones gone."""
        if not self.decisions:
            return record
        safe = dict(record)
        for source, decision in self.decisions.items():
            if source not in safe:
                continue
            if decision.action == "drop":
                del safe[source]
            elif decision.action != "keep":
                try:
                    safe[source] = self.protect(source, safe[source])
                except Exception:  # noqa: BLE001 - an unprintable value is masked, never kept in clear
                    safe[source] = "[PII]"
        return safe
