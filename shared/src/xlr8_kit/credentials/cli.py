"""``xlr8-credentials``: add, list, show, test, revoke and rotate-key over the encrypted store.

Secrets come in through a prompt (getpass), stdin or a JSON file and never go out: every command prints only
redacted values, and errors name credentials and key ids, not secrets. Exit codes: 0 ok, 1 refused or failed,
2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xlr8_kit.credentials.crypto import KEY_FILE_ENV, write_key_file
from xlr8_kit.credentials.errors import CredentialError, CredentialValidationError
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential, parse_datetime
from xlr8_kit.credentials.resolve import STORE_ENV, open_manager

#: Fields prompted for when ``add`` gets neither --field, --stdin nor --file.
PROMPTED_FIELDS: dict[AuthType, tuple[str, ...]] = {
    AuthType.OAUTH2_CLIENT_CREDENTIALS: ("client_id", "client_secret"),
    AuthType.OAUTH2_REFRESH_TOKEN: ("client_id", "client_secret", "refresh_token"),
    AuthType.JWT_BEARER: ("client_id", "username", "private_key"),
    AuthType.SAML_BEARER: ("client_id", "username", "private_key"),
    AuthType.BASIC: ("username", "password"),
    AuthType.API_KEY: ("api_key",),
    AuthType.CERTIFICATE: ("cert_file", "key_file", "key_passphrase"),
    AuthType.RAAS: ("username", "password"),
    AuthType.SESSION_LOGIN: ("username", "password"),
}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlr8-credentials", description=__doc__.splitlines()[0])
    parser.add_argument("--store", help=f"SQLite path, vault:// or aws-sm:// URL (default ${STORE_ENV} or .xlr8/)")
    parser.add_argument("--key-file", help=f"mode-600 key file (default $XLR8_CREDENTIALS_KEY, then ${KEY_FILE_ENV})")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate-key", help="create a key file (mode 600), or add a new primary key to it")
    gen.add_argument("--kid", default="k1", help="key id written into every blob's header")
    gen.add_argument("--add", action="store_true", help="prepend a new primary key to an existing key file")

    add = sub.add_parser("add", help="encrypt and store a credential")
    add.add_argument("--id", required=True, dest="credential_id")
    add.add_argument("--project", required=True, dest="project_id")
    add.add_argument("--product", required=True, dest="product_id")
    add.add_argument("--auth-type", required=True, choices=[a.value for a in AuthType])
    add.add_argument("--instance-url")
    add.add_argument("--expires-at", help="ISO-8601; the credential counts as expired afterwards")
    source = add.add_mutually_exclusive_group()
    source.add_argument("--stdin", action="store_true", help="read a JSON object of secret fields from stdin")
    source.add_argument("--file", help="read a JSON object of secret fields from this file")
    source.add_argument("--field", action="append", help="prompt for this secret field (repeatable)")

    lst = sub.add_parser("list", help="list credentials (redacted)")
    lst.add_argument("--project")
    lst.add_argument("--json", action="store_true")

    show = sub.add_parser("show", help="show one credential; secret values are always redacted")
    show.add_argument("credential_id")
    show.add_argument("--redacted", action="store_true", default=True, help="the only mode: secrets never print")

    test = sub.add_parser("test", help="connect to the product with the credential")
    test.add_argument("credential_id")

    revoke = sub.add_parser("revoke", help="mark a credential revoked; runs refuse it from then on")
    revoke.add_argument("credential_id")

    sub.add_parser("rotate-key", help="re-encrypt every credential under the primary key (resumable)")
    sub.add_parser("key-usage", help="encryptions performed per key id (AES-GCM nonce budget)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate-key":
            return _generate_key(args)
        manager = open_manager(args.store, key_file=args.key_file)
        try:
            return _run(manager, args)
        finally:
            manager.close()
    except CredentialValidationError as exc:
        print(f"xlr8-credentials: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CredentialError as exc:
        print(f"xlr8-credentials: error: {exc}", file=sys.stderr)
        return EXIT_FAILED


def _run(manager: CredentialManager, args: argparse.Namespace) -> int:
    if args.command == "add":
        return _add(manager, args)
    if args.command == "list":
        rows = manager.describe(args.project)
        if args.json:
            _print_json(rows)
        else:
            for row in rows:
                print(
                    f"{row['credential_id']}\t{row['project_id']}\t{row['product_id']}\t{row['auth_type']}\t"
                    f"{row['status']}\tfields={','.join(row['credentials'])}"  # type: ignore[arg-type]
                )
        return EXIT_OK
    if args.command == "show":
        _print_json(manager.describe_one(args.credential_id))
        return EXIT_OK
    if args.command == "revoke":
        _print_json(manager.revoke(args.credential_id))
        return EXIT_OK
    if args.command == "rotate-key":
        report = manager.rotate_key()
        print(
            f"rotate-key: primary kid={manager.cipher.primary_kid}; re-encrypted {len(report.rewrapped)}, "
            f"already current {len(report.already_current)}, failed {len(report.failed)}"
        )
        for credential_id, kid, reason in report.failed:
            print(f"  {credential_id} (kid={kid or '?'}): {reason}", file=sys.stderr)
        return EXIT_FAILED if report.failed else EXIT_OK
    if args.command == "key-usage":
        _print_json(manager.key_usage())
        return EXIT_OK
    if args.command == "test":
        return _test(manager, args.credential_id)
    raise AssertionError(args.command)  # argparse rejects unknown commands before this


def _add(manager: CredentialManager, args: argparse.Namespace) -> int:
    secrets = _read_secrets(args)
    credential = ProductCredential(
        credential_id=args.credential_id,
        project_id=args.project_id,
        product_id=args.product_id,
        auth_type=AuthType(args.auth_type),
        credentials=secrets,
        instance_url=args.instance_url,
        expires_at=parse_datetime(args.expires_at, field_name="--expires-at"),
    )
    stored = manager.store(credential)
    print(f"stored credential {stored.credential_id} (fields: {', '.join(sorted(secrets))})")
    return EXIT_OK


def _read_secrets(args: argparse.Namespace) -> dict[str, str]:
    if args.stdin or args.file:
        source = "stdin" if args.stdin else f"--file {args.file}"
        try:
            text = sys.stdin.read() if args.stdin else Path(args.file).read_text(encoding="utf-8")
        except OSError as exc:
            raise CredentialValidationError(f"{source}: cannot read ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            # The position only: the message of a JSON error can quote the (secret) input.
            raise CredentialValidationError(
                f"{source}: not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(data, dict):
            raise CredentialValidationError(f"{source}: expected a JSON object of secret fields")
        return data
    fields = args.field or PROMPTED_FIELDS[AuthType(args.auth_type)]
    secrets: dict[str, str] = {}
    for name in fields:
        value = getpass.getpass(f"{name}: ")
        if value:
            secrets[name] = value
    return secrets


def _test(manager: CredentialManager, credential_id: str) -> int:
    credential = manager.get_for_run(credential_id)
    try:
        connectors: Any = importlib.import_module("xlr8_kit.connectors")
        factory = connectors.ConnectorFactory
    except (ImportError, AttributeError):
        print(
            "xlr8-credentials: error: connection tests need xlr8_kit.connectors.ConnectorFactory, which this "
            "installation does not provide",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        connector = factory.create(credential.product_id, credential)
    except (LookupError, ImportError):
        print(
            f"xlr8-credentials: error: no connector installed for product {credential.product_id!r} "
            f"(credential {credential_id!r})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    result = connector.test_connection()
    ok = bool(getattr(result, "ok", result))
    detail = getattr(result, "message", "") or ""
    print(f"test {credential_id}: {'ok' if ok else 'FAILED'}{': ' + str(detail) if detail else ''}")
    return EXIT_OK if ok else EXIT_FAILED


def _generate_key(args: argparse.Namespace) -> int:
    if not args.key_file:
        raise CredentialValidationError("generate-key needs --key-file PATH (the key is written there, never printed)")
    keyring = write_key_file(args.key_file, args.kid, add=args.add)
    print(f"key file {args.key_file}: primary kid={keyring.primary}; keys: {', '.join(keyring.kids)}")
    return EXIT_OK


def _print_json(value: object) -> None:
    print(json.dumps(value, indent=2, sort_keys=True))


if __name__ == "__main__":
    sys.exit(main())
