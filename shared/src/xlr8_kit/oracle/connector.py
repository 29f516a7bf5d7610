"""``FusionConnector``: the kit's ``TapConnector`` over a Fusion tap. Streams come from describe while the SDK
builds the tap, so a refused or unreachable pod is remembered and raised by the first operation (``test_connection``
then reports it under the right check). ``execute_query`` also takes Fusion's own form, a resource path with its
query string (``workers?q=PersonNumber='E000001'&expand=names``), paged to the end."""

from __future__ import annotations

import typing as t
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlsplit

import requests

from xlr8_kit.connectors import ConnectorError, TapConnector
from xlr8_kit.http.errors import KitHTTPError
from xlr8_kit.oracle.tap import FusionTap


class DeferredDiscovery:
    """Mixin for a ``FusionTap`` subclass used by a connector: discovery errors are kept for later."""

    deferred_error: BaseException | None = None

    def discover_streams(self) -> list[t.Any]:
        try:
            return super().discover_streams()  # type: ignore[misc]
        except (KitHTTPError, requests.RequestException, OSError) as exc:
            self.deferred_error = exc
            return []


class FusionConnector(TapConnector):
    @property
    def fusion_tap(self) -> FusionTap:
        return t.cast("FusionTap", self.tap)

    def raise_deferred(self) -> None:
        error = getattr(self.tap, "deferred_error", None)
        if error is not None:
            raise error

    def probe(self) -> None:
        """Describe ran while the tap was built (reachability, authentication); then one row of the first
        configured resource."""
        self.raise_deferred()
        super().probe()

    def resolve_stream(self, entity: str, *args: t.Any, **kwargs: t.Any) -> t.Any:
        self.raise_deferred()
        return super().resolve_stream(entity, *args, **kwargs)

    def is_native(self, query: str) -> bool:
        """A resource path has no spaces before ``?``; a universal query has words (``employee where ...``)."""
        head = query.strip().split("?", 1)[0].strip("/")
        return bool(head) and " " not in head and "=" not in head

    def execute_query(self, query: str) -> Iterator[dict[str, t.Any]]:
        self.raise_deferred()
        if not self.is_native(query):
            return super().execute_query(query)
        parts = urlsplit(query.strip())
        if parts.scheme or parts.netloc:
            raise ConnectorError(f"{self.product_id}: give a resource path such as workers?q=..., not a URL")
        resource = parts.path.strip("/")
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        return self.fusion_tap.client.iter_items(resource, params, page_size=self.fusion_tap.settings.page_size)
