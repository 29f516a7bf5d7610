"""``xlr8-credentials``: add, list, show, test, revoke, rotate-key and reseal over the encrypted store.

Secrets come in through a prompt (getpass), stdin or a JSON file and never go out: every command prints only
redacted values, and errors name credentials and key ids, not secrets. Exit codes: 0 ok, 1 refused or failed,
2 bad usage.
"""

from __future__ import annotations

import argparse
import getpass
import importlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xlr8_kit.credentials.crypto import KEY_FILE_ENV, write_key_file
from xlr8_kit.credentials.errors import CredentialError, CredentialValidationError
from xlr8_kit.credentials.manager import CredentialManager
from xlr8_kit.credentials.model import AuthType, ProductCredential, parse_datetime
from xlr8_kit.credentials.resolve import STORE_ENV, default_store_location, merge_secret_fields, open_manager
from xlr8_kit.redaction import Redactor

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
    store_help = f"SQLite path, vault:// or aws-sm:// URL (default ${STORE_ENV} or .xlr8/credentials.db)"
    key_help = f"mode-600 key file (default $XLR8_CREDENTIALS_KEY, then ${KEY_FILE_ENV})"
    parser = argparse.ArgumentParser(prog="xlr8-credentials", description=__doc__.splitlines()[0])
    parser.add_argument("--store", help=store_help)
    parser.add_argument("--key-file", help=key_help)
    # The same options after the command name (``xlr8-credentials add --store ...``) too.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--store", default=argparse.SUPPRESS, help=store_help)
    common.add_argument("--key-file", default=argparse.SUPPRESS, help=key_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, parents=[common], help=help_text)

    gen = command("generate-key", "create a key file (mode 600), or add a new primary key to it")
    gen.add_argument("--kid", default="k1", help="key id written into every blob's header")
    gen.add_argument("--add", action="store_true", help="prepend a new primary key to an existing key file")

    add = command("add", "encrypt and store a credential")
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

    lst = command("list", "list credentials (redacted)")
    lst.add_argument("--project")
    lst.add_argument("--json", action="store_true")

    show = command("show", "show one credential; secret values are always redacted")
    show.add_argument("credential_id")
    show.add_argument("--redacted", action="store_true", default=True, help="the only mode: secrets never print")

    test = command("test", "connect to the product with the credential")
    test.add_argument("credential_id")

    revoke = command("revoke", "mark a credential revoked; runs refuse it from then on")
    revoke.add_argument("credential_id")

    command("rotate-key", "re-encrypt every credential under the primary key (resumable)")
    command("key-usage", "encryptions performed per key id (AES-GCM nonce budget)")
    reseal = command(
        "reseal",
        "seal the metadata of credentials stored before the metadata seal, once the key is proven and confirmed",
    )
    reseal.add_argument(
        "--confirm-kid",
        help="the primary key id, confirming the key without the prompt (for scripts); any other value refuses",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate-key":
            return _generate_key(args)
        manager = open_manager(args.store, key_file=args.key_file, create=args.command == "add")
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
            f"already current {len(report.already_current)}, in refresh {len(report.in_refresh)}, "
            f"failed {len(report.failed)}"
        )
        for credential_id in report.in_refresh:
            print(
                f"  {credential_id}: a run is refreshing its token (lease held); left as it is: run rotate-key again "
                "when that run ends, and keep the old key until then",
                file=sys.stderr,
            )
        for credential_id, kid, reason in report.failed:
            print(f"  {credential_id} (kid={kid or '?'}): {reason}", file=sys.stderr)
        return EXIT_FAILED if report.failed or report.in_refresh else EXIT_OK
    if args.command == "key-usage":
        _print_json(manager.key_usage())
        return EXIT_OK
    if args.command == "test":
        return _test(manager, args)
    if args.command == "reseal":
        return _reseal(manager, args)
    raise AssertionError(args.command)  # argparse rejects unknown commands before this


def _installed_product(name: str) -> str:
    """The canonical id of a product whose connector is installed (aliases such as ``tap-salesforce`` resolve)."""
    from xlr8_kit.connectors.factory import ConnectorFactory
    from xlr8_kit.vocabulary import UnknownProductError, resolve_product

    installed = ConnectorFactory.installed()
    listing = ", ".join(installed) or "none"
    try:
        product = resolve_product(name).id
    except UnknownProductError:
        raise CredentialValidationError(f"--product {name!r} is not a known product; installed: {listing}") from None
    if product not in installed:
        raise CredentialValidationError(
            f"--product {name!r} ({product}) has no installed connector; installed: {listing}"
        )
    return product


def _add(manager: CredentialManager, args: argparse.Namespace) -> int:
    product = _installed_product(args.product_id)
    secrets = _read_secrets(args)
    credential = ProductCredential(
        credential_id=args.credential_id,
        project_id=args.project_id,
        product_id=product,
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


def _test(manager: CredentialManager, args: argparse.Namespace) -> int:
    """Connect through the product's connector, which reads the store itself (so a rotated refresh token is
    persisted, never lost to a test)."""
    credential_id = args.credential_id
    credential = manager.get_for_run(credential_id)
    if args.key_file:
        os.environ[KEY_FILE_ENV] = args.key_file  # the connector's tap resolves the credential in this process
    redactor = Redactor.default()
    for value in credential.credentials.values():
        redactor.add(value)
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
        # Secrets as plain (nested) settings so the tap validates, plus the credential id and store so the tap
        # re-resolves from the store and persists a rotated refresh token there.
        settings = merge_secret_fields(
            {"credential_id": credential_id, "credential_store": args.store or default_store_location()},
            credential.credentials,
        )
        if credential.instance_url and not settings.get("instance_url"):
            settings["instance_url"] = credential.instance_url
        connector = factory.create(credential.product_id, settings)
    except Exception as exc:  # noqa: BLE001  # any connector failure becomes a redacted, non-zero result
        print(
            f"xlr8-credentials: error: no connector installed for product {credential.product_id!r} "
            f"(credential {credential_id!r}): {redactor.redact(str(exc))}",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        result = connector.test_connection()
    except Exception as exc:  # noqa: BLE001  # any connector failure becomes a redacted, non-zero result
        print(f"test {credential_id}: FAILED: {type(exc).__name__}: {redactor.redact(str(exc))}")
        return EXIT_FAILED
    ok = bool(getattr(result, "ok", result))
    detail = redactor.redact(str(getattr(result, "message", "") or ""))
    print(f"test {credential_id}: {'ok' if ok else 'FAILED'}{': ' + detail if detail else ''}")
    return EXIT_OK if ok else EXIT_FAILED


def _reseal(manager: CredentialManager, args: argparse.Namespace) -> int:
    """The manager proves the key (every sealed field decrypts) before showing anything; the operator then checks
    the listed metadata and confirms by naming the primary key id. Secret values are never shown."""
    kid = manager.cipher.primary_kid

    def confirm(unsealed: list[ProductCredential]) -> bool:
        print(f"reseal: the key decrypts every secret field in {manager.backend.location}; primary kid={kid}")
        print(f"credentials with no metadata seal ({len(unsealed)}), to be sealed as they are now:")
        _print_json([c.redacted() for c in unsealed])
        answer = args.confirm_kid
        if answer is None:
            print(f"type the primary key id ({kid}) to seal them: ", end="", file=sys.stderr, flush=True)
            answer = sys.stdin.readline().strip()
        return answer == kid

    report = manager.reseal(confirm)
    if not report.confirmed:
        print(f"reseal: not confirmed (the primary key id is {kid}); nothing changed", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"reseal: sealed {len(report.resealed)} under kid={kid}, already sealed {len(report.already_sealed)}, "
        f"failed {len(report.failed)}"
    )
    for credential_id, reason in report.failed:
        print(f"  {credential_id}: {reason}", file=sys.stderr)
    return EXIT_FAILED if report.failed else EXIT_OK


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
