"""``ConnectorFactory``: find a product's connector by product id through the ``xlr8.connectors`` entry points, so
installing one tap makes its product available. Each tap's pyproject declares::

    [project.entry-points."xlr8.connectors"]
    successfactors = "xlr8_tap_sap_successfactors.connector:SuccessFactorsConnector"

Entry point names may be registry ids or aliases (``sap_sf``); lookups resolve both sides through the vocabulary.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

from xlr8_kit.connectors.base import BaseConnector, ConnectorError, ConnectorNotFoundError
from xlr8_kit.credentials.model import ProductCredential
from xlr8_kit.redaction import Redactor
from xlr8_kit.vocabulary import UnknownProductError, resolve_product

ENTRY_POINT_GROUP = "xlr8.connectors"


def _registry_id(name: str) -> str:
    try:
        return resolve_product(name).id
    except UnknownProductError:
        return name


class ConnectorFactory:
    """Class-level registry: entry points of installed distributions plus in-process registrations."""

    _registered: ClassVar[dict[str, str | type[Any]]] = {}

    @classmethod
    def register(cls, product_id: str, target: str | type[Any]) -> None:
        """Make a connector available without an installed distribution (``module:Class`` or the class)."""
        cls._registered[resolve_product(product_id).id] = target

    @classmethod
    def unregister(cls, product_id: str) -> None:
        cls._registered.pop(_registry_id(product_id), None)

    @classmethod
    def _entry_points(cls) -> list[EntryPoint]:
        return list(entry_points(group=ENTRY_POINT_GROUP))

    @classmethod
    def installed(cls) -> dict[str, str]:
        """Registry product id -> ``module:Class`` of every available connector."""
        found = {_registry_id(ep.name): ep.value for ep in cls._entry_points()}
        for product, target in cls._registered.items():
            found[product] = target if isinstance(target, str) else f"{target.__module__}:{target.__qualname__}"
        return dict(sorted(found.items()))

    @classmethod
    def connector_class(cls, product_id: str, *, check: bool = True) -> type[Any]:
        """The connector class; ``check=False`` skips the contract check (callers that only need its tap)."""
        installed = cls.installed()
        listing = ", ".join(installed) or "none (install a tap, e.g. xlr8-tap-salesforce)"
        try:
            product = resolve_product(product_id).id
        except UnknownProductError as exc:
            raise ConnectorNotFoundError(f"{exc}; installed connectors: {listing}") from None
        if product in cls._registered and not isinstance(cls._registered[product], str):
            return cls._registered[product]  # type: ignore[return-value]
        target = installed.get(product)
        if target is None:
            raise ConnectorNotFoundError(f"no connector installed for product {product!r}; installed: {listing}")
        module_name, _, attr = target.partition(":")
        try:
            found = importlib.import_module(module_name)
            for part in attr.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError) as exc:
            raise ConnectorError(f"connector for {product!r} ({target}) cannot be loaded: {exc}") from None
        if not isinstance(found, type) or (
            check and not all(callable(getattr(found, op, None)) for op in ("test_connection", "get_entity"))
        ):
            raise ConnectorError(f"{target} is not a connector class (needs test_connection and get_entity)")
        return found

    @classmethod
    def create(
        cls,
        product_id: str,
        credential: ProductCredential | str | Mapping[str, Any] | None,
        schema: Mapping[str, Any] | None = None,
        *,
        settings: Mapping[str, Any] | None = None,
        store: str | None = None,
    ) -> BaseConnector:
        """A connector for one product connection (the plan's ``create(product_id, credential, schema)``).

        ``schema``: the plan passes the product's schema; connectors read theirs from the product (discovery), so
        a mapping given here is taken as extra settings, like ``settings``.

        ``credential``: a ``ProductCredential`` (its secrets become the tap's settings), a credential id (the tap
        reads the encrypted ``store`` itself, so rotated refresh tokens are persisted), or plain tap settings.
        ``settings`` adds non-secret tap settings (object lists, start dates).
        """
        connector_class = cls.connector_class(product_id)
        product = resolve_product(product_id).id
        config = {**dict(schema or {}), **dict(settings or {})}
        if isinstance(credential, ProductCredential):
            from xlr8_kit.credentials.resolve import merge_secret_fields

            if _registry_id(credential.product_id) != product:
                raise ConnectorError(
                    f"credential {credential.credential_id!r} is for product {credential.product_id!r}, not {product!r}"
                )
            if store is not None:
                config.update(credential_id=credential.credential_id, credential_store=store)
            else:
                redactor = Redactor.default()
                for value in credential.credentials.values():
                    redactor.add(value)
                config = merge_secret_fields(config, credential.credentials)  # "auth.password" nests
                if credential.instance_url and not config.get("instance_url"):
                    config["instance_url"] = credential.instance_url
        elif isinstance(credential, str):
            config["credential_id"] = credential
            if store is not None:
                config["credential_store"] = store
        elif credential is not None:
            config.update(credential)
        return connector_class(config)
