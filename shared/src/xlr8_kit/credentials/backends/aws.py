"""AWS Secrets Manager backend: one secret per credential (``<prefix>/<credential_id>``), encrypted at rest by
AWS with the account's KMS key. Reads always take the ``AWSCURRENT`` stage, so a rotation (a rotation Lambda or
another worker moving ``AWSCURRENT``) is seen by the next read; ``AWSPREVIOUS`` is used as last-known-good only
when the store URL says ``allow_previous=1`` (B7).

Compare-and-swap: a new version is written under a private stage, then ``AWSCURRENT`` is moved to it with
``RemoveFromVersionId`` = the version this writer read. If another writer moved ``AWSCURRENT`` first, AWS refuses the
move and the loser gets ``CredentialConflictError`` (B6). Unreachable, throttled or denied calls fail fast after
botocore's bounded standard retries, with a non-secret error and no fallback (B8). Key rotation is KMS's job:
``rotate-key`` has nothing to re-encrypt here.

Store URL: ``aws-sm://<region>/<prefix>[?endpoint_url=http://127.0.0.1:PORT&allow_previous=1]``; AWS credentials come
from the standard chain (environment, profile, instance role).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.config
import botocore.exceptions

from xlr8_kit.credentials.backends import SealedCredential
from xlr8_kit.credentials.crypto import AadContext
from xlr8_kit.credentials.errors import (
    BackendUnavailableError,
    CredentialAlreadyExistsError,
    CredentialConflictError,
    CredentialError,
    CredentialValidationError,
)
from xlr8_kit.credentials.manager import CredentialManager

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
PENDING_STAGE = "XLR8PENDING"
LAST_USED_TAG = "xlr8:last_used"
KMS_KID = "aws-kms"
DENIED = {"AccessDeniedException", "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException"}


class KmsManagedCipher:
    """Secrets Manager encrypts every secret with KMS; fields pass through as-is inside the (encrypted) secret."""

    primary_kid = KMS_KID

    def encrypt(self, plaintext: str, context: AadContext) -> str:
        return plaintext

    def decrypt(self, blob: str, context: AadContext) -> str:
        return blob

    def kid_of(self, blob: str, context: AadContext) -> str:
        return KMS_KID

    def rewrap(self, blob: str, context: AadContext) -> str:
        return blob

    def take_encryption_counts(self) -> dict[str, int]:
        return {}


class AwsSecretsManagerStore:
    def __init__(self, client: Any, *, prefix: str, region: str, allow_previous: bool = False) -> None:
        self._client = client
        self.prefix = prefix.strip("/")
        self.allow_previous = allow_previous
        self.location = f"aws-sm://{region}/{self.prefix}"
        #: (credential id, xlr8 version) -> the AWS VersionId it was read from: the CAS anchor for the next write.
        self._seen: dict[tuple[str, int], str] = {}
        self._lock = threading.Lock()

    def _name(self, credential_id: str) -> str:
        return f"{self.prefix}/{credential_id}"

    def _call(self, what: str, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except botocore.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in DENIED:
                raise BackendUnavailableError(
                    f"AWS Secrets Manager denied {what} ({code}); check the IAM policy for {self.location}"
                ) from None
            if code in {"ThrottlingException", "InternalServiceError", "ServiceUnavailable"}:
                raise BackendUnavailableError(
                    f"AWS Secrets Manager unavailable for {what} ({code}) after bounded retries"
                ) from None
            raise
        except (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectTimeoutError,
                botocore.exceptions.ReadTimeoutError) as exc:  # fmt: skip
            raise BackendUnavailableError(
                f"AWS Secrets Manager unreachable for {what} ({type(exc).__name__}) after bounded retries"
            ) from None

    def insert(self, sealed: SealedCredential, *, encryptions: Mapping[str, int]) -> None:
        del encryptions
        name = self._name(sealed.credential_id)
        try:
            response = self._call(
                f"creating {name}",
                "create_secret",
                Name=name,
                SecretString=_document(sealed),
                Tags=[{"Key": "xlr8:project", "Value": sealed.project_id}],
            )
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceExistsException":
                raise CredentialAlreadyExistsError(
                    f"credential {sealed.credential_id!r} already exists in {self.location}"
                ) from None
            raise BackendUnavailableError(f"AWS Secrets Manager rejected creating {name}: {_code(exc)}") from None
        self._remember(sealed.credential_id, sealed.version, response["VersionId"])

    def swap(self, sealed: SealedCredential, *, expected_version: int, encryptions: Mapping[str, int]) -> None:
        del encryptions
        cid = sealed.credential_id
        name = self._name(cid)
        with self._lock:
            anchor = self._seen.get((cid, expected_version))
        if anchor is None:
            current = self._read(cid, "AWSCURRENT")
            if current is None or current[0].version != expected_version:
                raise CredentialConflictError(cid, expected_version, current[0].version if current else None)
            anchor = current[1]
        try:
            pending = self._call(
                f"writing {name}",
                "put_secret_value",
                SecretId=name,
                SecretString=_document(sealed),
                VersionStages=[PENDING_STAGE],
            )
            self._call(
                f"promoting {name}",
                "update_secret_version_stage",
                SecretId=name,
                VersionStage="AWSCURRENT",
                MoveToVersionId=pending["VersionId"],
                RemoveFromVersionId=anchor,
            )
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in {"InvalidParameterException", "ResourceNotFoundException"}:
                current = self._read(cid, "AWSCURRENT")
                raise CredentialConflictError(cid, expected_version, current[0].version if current else None) from None
            raise BackendUnavailableError(f"AWS Secrets Manager rejected writing {name}: {_code(exc)}") from None
        self._remember(cid, sealed.version, pending["VersionId"])

    def load(self, credential_id: str) -> SealedCredential | None:
        try:
            found = self._read(credential_id, "AWSCURRENT")
        except CredentialError as exc:
            if not self.allow_previous or isinstance(exc, BackendUnavailableError):
                raise
            log.warning("credential %s: AWSCURRENT unusable (%s); using AWSPREVIOUS as allowed", credential_id, exc)
            return self.load_previous(credential_id)
        return found[0] if found else None

    def load_previous(self, credential_id: str) -> SealedCredential | None:
        """The last-known-good version (``AWSPREVIOUS``), only when the store allows it."""
        if not self.allow_previous:
            raise CredentialError(
                f"credential {credential_id!r}: AWSPREVIOUS is not allowed for {self.location} (add allow_previous=1)"
            )
        found = self._read(credential_id, "AWSPREVIOUS")
        return found[0] if found else None

    def _read(self, credential_id: str, stage: str) -> tuple[SealedCredential, str] | None:
        name = self._name(credential_id)
        try:
            response = self._call(f"reading {name}", "get_secret_value", SecretId=name, VersionStage=stage)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "ResourceNotFoundException":
                return None
            raise BackendUnavailableError(f"AWS Secrets Manager rejected reading {name}: {_code(exc)}") from None
        sealed = _parse(credential_id, response.get("SecretString") or "", stage)
        tags = self._call(f"describing {name}", "describe_secret", SecretId=name).get("Tags") or []
        last_used = next((t["Value"] for t in tags if t.get("Key") == LAST_USED_TAG), None)
        if last_used:
            sealed = _replace_last_used(sealed, datetime.fromisoformat(last_used))
        self._remember(credential_id, sealed.version, response["VersionId"])
        return sealed, response["VersionId"]

    def list(self, project_id: str | None = None) -> list[SealedCredential]:
        paginator = self._client.get_paginator("list_secrets")
        names: list[str] = []
        try:
            for page in paginator.paginate(Filters=[{"Key": "name", "Values": [self.prefix + "/"]}]):
                names.extend(s["Name"] for s in page["SecretList"] if s["Name"].startswith(self.prefix + "/"))
        except botocore.exceptions.ClientError as exc:
            raise BackendUnavailableError(
                f"AWS Secrets Manager rejected listing {self.location}: {_code(exc)}"
            ) from None
        except botocore.exceptions.EndpointConnectionError:
            raise BackendUnavailableError(f"AWS Secrets Manager unreachable listing {self.location}") from None
        found = []
        for name in sorted(names):
            sealed = self.load(name[len(self.prefix) + 1 :])
            if sealed is not None and (project_id is None or sealed.project_id == project_id):
                found.append(sealed)
        return found

    def touch(self, credential_id: str, last_used: datetime) -> None:
        """A tag, not a new secret version: bookkeeping must not make a refresh lose its CAS."""
        name = self._name(credential_id)
        self._call(
            f"tagging {name}",
            "tag_resource",
            SecretId=name,
            Tags=[{"Key": LAST_USED_TAG, "Value": last_used.isoformat()}],
        )

    def key_usage(self) -> dict[str, int]:
        return {}

    def close(self) -> None:
        self._client.close()

    def _remember(self, credential_id: str, version: int, version_id: str) -> None:
        with self._lock:
            self._seen[(credential_id, version)] = version_id


def open_aws_manager(url: str, *, environ: Mapping[str, str]) -> CredentialManager:
    del environ  # boto3 reads its standard credential chain itself
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    region = parts.hostname or ""
    prefix = parts.path.strip("/")
    if not region or not prefix:
        raise CredentialValidationError(f"credential_store {url!r}: expected aws-sm://<region>/<prefix>")
    endpoint = query.get("endpoint_url")
    if endpoint:
        ep = urlsplit(endpoint)
        if ep.scheme != "https" and not (ep.scheme == "http" and ep.hostname in LOOPBACK):
            raise CredentialValidationError(
                f"credential_store {url!r}: endpoint_url must be https (http only for loopback hosts)"
            )
    config = botocore.config.Config(
        connect_timeout=5, read_timeout=10, retries={"mode": "standard", "total_max_attempts": 3}
    )
    client = boto3.session.Session().client(
        "secretsmanager", region_name=region, endpoint_url=endpoint or None, config=config
    )
    store = AwsSecretsManagerStore(
        client, prefix=prefix, region=region, allow_previous=query.get("allow_previous") in ("1", "true")
    )
    return CredentialManager(store, KmsManagedCipher())


def _document(sealed: SealedCredential) -> str:
    return json.dumps({
        "schema": 1,
        "xlr8_version": sealed.version,
        "credential_id": sealed.credential_id,
        "project_id": sealed.project_id,
        "product_id": sealed.product_id,
        "auth_type": sealed.auth_type,
        "instance_url": sealed.instance_url,
        "created_at": sealed.created_at.isoformat(),
        "expires_at": sealed.expires_at.isoformat() if sealed.expires_at else None,
        "status": sealed.status,
        "refresh_started_at": sealed.refresh_started_at.isoformat() if sealed.refresh_started_at else None,
        "credentials": dict(sealed.blobs),
    })  # fmt: skip


def _parse(credential_id: str, text: str, stage: str) -> SealedCredential:
    try:
        data = json.loads(text)
        return SealedCredential(
            credential_id=data["credential_id"],
            project_id=data["project_id"],
            product_id=data["product_id"],
            auth_type=data["auth_type"],
            instance_url=data.get("instance_url"),
            created_at=datetime.fromisoformat(data["created_at"]),
            expires_at=datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None,
            last_used=None,
            status=data.get("status", "active"),
            version=int(data["xlr8_version"]),
            refresh_started_at=(
                datetime.fromisoformat(data["refresh_started_at"]) if data.get("refresh_started_at") else None
            ),
            blobs={str(k): str(v) for k, v in data["credentials"].items()},
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        # Never echo the document: it holds the secret values.
        raise CredentialError(
            f"credential {credential_id!r}: the {stage} version in AWS Secrets Manager is not an xlr8 credential "
            "document (expected JSON with credential_id, project_id, product_id, auth_type, credentials, ...)"
        ) from None


def _replace_last_used(sealed: SealedCredential, last_used: datetime) -> SealedCredential:
    return replace(sealed, last_used=last_used)


def _code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "ClientError"))
