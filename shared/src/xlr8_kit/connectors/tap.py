"""``TapConnector``: a product's connector built on its own ``KitTap``, so ``get_entity`` sends the requests a sync
sends (same authenticator, resilient session, retries, paging) and returns the rows a sync emits (the stream's
``post_process``, property selection and type conformance).

A tap's connector is usually four lines::

    class SuccessFactorsConnector(TapConnector):
        product_id = "successfactors"
        tap_class = TapSapSuccessFactors

Filters: the universal filter is translated for the chosen stream. A stream that pushes filters down exposes
``universal_filter`` (a ``cached_property`` returning ``xlr8_kit.query.Translation | None``, as its ``filters``
setting produces); the connector sets it for the call and re-applies the post-fetch part. A stream without that
hook is filtered entirely after fetching. Either way the rows are those of the filter.
"""

from __future__ import annotations

import dataclasses
import logging
import typing
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar

import requests
from singer_sdk.helpers._catalog import pop_deselected_record_properties
from singer_sdk.streams import Stream

from xlr8_kit.conform import Conformer
from xlr8_kit.connectors.base import BaseConnector, Check, ConnectionStatus, ConnectorError, EntityFilters
from xlr8_kit.http.errors import (
    AuthenticationError,
    CircuitOpenError,
    InsecureTransportError,
    KitHTTPError,
    QuotaExhaustedError,
    RateLimitedError,
    ServerUnavailableError,
    TLSVerificationError,
)
from xlr8_kit.query import Translation, as_filter, parse_query, translate_filters
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import KitTap, _secret_values
from xlr8_kit.vocabulary import UnknownFieldError, VocabularyError, find_entity, stream_mappings

log = logging.getLogger(__name__)


def sync_records(stream: Stream) -> Iterator[dict[str, Any]]:
    """The records a sync of ``stream`` emits, lazily, without writing messages or touching state."""
    conform = Conformer(stream.name, stream.effective_schema, stream.TYPE_CONFORMANCE_LEVEL, stream.logger)
    contexts: list[Any] = list(stream.partitions or ())
    if not contexts:
        contexts = [None]
    for context in contexts:
        for raw in stream.get_records(context):
            record = raw[0] if isinstance(raw, tuple) else raw
            processed = stream.post_process(record, context)
            if processed is None:
                continue
            pop_deselected_record_properties(processed, stream.schema, stream.mask)
            yield conform(processed)


def _describe(exc: BaseException) -> str:
    """Exception type and text, with the SDK's per-setting config errors spelled out."""
    text = f"{type(exc).__name__}: {exc}"
    details = getattr(exc, "errors", None)
    if isinstance(details, list) and details:
        text += " (" + "; ".join(str(d) for d in details) + ")"
    return text


def _supports_pushdown(stream: Stream) -> bool:
    return hasattr(type(stream), "universal_filter")


class DeferredDiscovery:
    """Mixin for a tap whose streams come from vendor metadata while the SDK constructs it (OData ``$metadata``):
    a refused or unreachable tenant is remembered as ``deferred_error`` and raised by the connector's first
    operation, so ``test_connection`` reports it under the right check instead of failing to build the tap."""

    deferred_error: BaseException | None = None

    def discover_streams(self) -> list[Any]:
        try:
            return super().discover_streams()  # type: ignore[misc]
        except (KitHTTPError, requests.RequestException, OSError) as exc:
            self.deferred_error = exc
            return []


class TapConnector(BaseConnector):
    """Generic connector over a ``KitTap`` subclass. Not thread-safe: one iteration per stream at a time."""

    tap_class: ClassVar[type[KitTap]]
    #: Stream ``test_connection`` reads one record of; default: the first top-level stream of the tap.
    probe_stream: ClassVar[str | None] = None

    def __init__(self, config: Mapping[str, Any]) -> None:
        super().__init__(config)
        self._tap: KitTap | None = None
        self.redactor = Redactor.default()
        for _name, value in _secret_values(self.config, self.tap_class.config_jsonschema):
            self.redactor.add(value)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    def connect(self) -> None:
        if self._tap is None:
            self._tap = self.tap_class(
                config=self.config, parse_env_config=False, validate_config=True, for_connector=True
            )

    def disconnect(self) -> None:
        tap, self._tap = self._tap, None
        if tap is not None and "kit" in tap.__dict__:
            tap.kit.session.close()

    @property
    def tap(self) -> KitTap:
        self.connect()
        assert self._tap is not None
        return self._tap

    # -- streams and filters -------------------------------------------------------------------------------------

    def resolve_stream(
        self,
        entity: str,
        filters: EntityFilters = None,
        *,
        fields: Iterable[str] = (),
        limit: int | None = None,
    ) -> tuple[Stream, Translation | None]:
        """The tap stream for a stream name or canonical entity (the first that carries the filter's fields)."""
        self.raise_deferred()
        filters = as_filter(filters)
        streams = self.tap.streams
        fields = tuple(fields)
        if entity in streams:
            names = [entity]
        else:
            canonical = find_entity(entity)
            if canonical is None:
                raise ConnectorError(
                    f"{self.product_id}: {entity!r} is neither a stream of this tap ({', '.join(streams)}) "
                    "nor a canonical entity"
                )
            names = [m.stream for m in stream_mappings(self.product_id, canonical.name) if m.stream in streams]
            if not names:
                raise ConnectorError(
                    f"{self.product_id}: no stream of this tap carries {canonical.name!r}; "
                    f"streams: {', '.join(streams)}"
                )
        if not filters and not fields and limit is None:
            return streams[names[0]], None
        if len(names) > 1:
            # the vocabulary's choice: the stream carrying the fields whose enumerations know the values compared
            try:
                chosen = translate_filters(filters or None, self.product_id, entity=entity, fields=fields, limit=limit)
            except VocabularyError:
                chosen = None
            if chosen is not None and chosen.stream in names:
                return streams[chosen.stream], chosen
        last_error: VocabularyError | None = None
        for name in names:
            try:
                return streams[name], translate_filters(
                    filters or None, self.product_id, stream=name, fields=fields, limit=limit
                )
            except UnknownFieldError as exc:
                last_error = exc
        assert last_error is not None
        raise last_error

    def get_entity(self, entity: str, filters: EntityFilters = None) -> Iterator[dict[str, Any]]:
        stream, translation = self.resolve_stream(entity, filters)
        return self.read(stream, translation)

    def read(
        self, stream: Stream, translation: Translation | None, *, pushdown: bool = True
    ) -> Iterator[dict[str, Any]]:
        """Rows of ``stream`` satisfying ``translation``; ``pushdown=False`` filters everything after fetching
        (what the contract tests compare the pushed-down read with)."""
        if translation is None:
            yield from sync_records(stream)
            return
        if translation.empty:
            return
        pushed = pushdown and _supports_pushdown(stream)
        if pushed:
            stream.__dict__["universal_filter"] = translation
            post = translation
        else:
            post = dataclasses.replace(translation, residual=translation.filter, limit_pushed=False)
            if _supports_pushdown(stream):
                stream.__dict__["universal_filter"] = None
        try:
            yield from post.apply(sync_records(stream))  # type: ignore[misc]
        finally:
            stream.__dict__.pop("universal_filter", None)

    def get_entity_schema(self, entity: str) -> dict[str, Any]:
        stream, _ = self.resolve_stream(entity)
        message = next(iter(stream._generate_schema_messages()))
        return dict(message.schema)

    def execute_query(self, query: str) -> Iterator[dict[str, Any]]:
        """A universal query (``employee where ... fields ... limit n``); products override for their dialect."""
        parsed = parse_query(query)
        if not parsed.entity:
            raise ConnectorError(f"{self.product_id}: the query must name an entity or stream first: {query!r}")
        stream, translation = self.resolve_stream(parsed.entity, parsed.where, fields=parsed.fields, limit=parsed.limit)
        rows = self.read(stream, translation)
        if not parsed.fields:
            return rows
        columns = translate_filters(None, self.product_id, stream=stream.name, fields=parsed.fields).select
        return ({c: row.get(c) for c in columns} for row in rows)

    # -- connection test -----------------------------------------------------------------------------------------

    def raise_deferred(self) -> None:
        """The tap's discovery failure (``DeferredDiscovery``), raised by the first operation that needs streams."""
        error = getattr(self.tap, "deferred_error", None)
        if error is not None:
            raise error

    def api_version(self) -> str | None:
        """The API version the product reports (override where it says); None when it does not."""
        return None

    def probe(self) -> None:
        """Cheapest authenticated read: one record (or none) of the probe stream. Raises what the read raises."""
        self.raise_deferred()
        streams = self.tap.streams
        name = self.probe_stream or next(
            (n for n, s in streams.items() if s.parent_stream_type is None), next(iter(streams))
        )
        next(iter(sync_records(streams[name])), None)

    def test_connection(self) -> ConnectionStatus:
        checks: list[Check] = []
        pending = ["configuration", "reachability", "authentication", "permissions"]

        def finish(failed: str, exc: BaseException) -> ConnectionStatus:
            error = self.redactor.redact(_describe(exc))
            index = pending.index(failed)
            checks.extend(Check(name, True) for name in pending[:index])
            checks.append(Check(failed, False, error))
            checks.extend(Check(name, None) for name in pending[index + 1 :])
            checks.append(Check("api_version", None))
            return ConnectionStatus(False, self.product_id, tuple(checks), error=error)

        stage = "configuration"
        try:
            self.connect()  # some taps read metadata (authenticated) while they are built
            self.tap.kit  # noqa: B018 - resolves the credential and builds the authenticator
            stage = "probe"
            self.probe()
        except AuthenticationError as exc:
            return finish("authentication", exc)
        except (QuotaExhaustedError, RateLimitedError) as exc:
            return finish("permissions", exc)
        except (TLSVerificationError, InsecureTransportError, ServerUnavailableError, CircuitOpenError) as exc:
            return finish("reachability", exc)
        except KitHTTPError as exc:
            if exc.status == 401:
                return finish("authentication", exc)
            if exc.status is not None and 400 <= exc.status < 500:
                return finish("permissions", exc)
            return finish("reachability", exc)
        except (requests.RequestException, OSError) as exc:
            return finish("reachability", exc)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a redacted status, never a traceback
            return finish("configuration" if stage == "configuration" else "permissions", exc)
        checks.extend(Check(name, True) for name in pending)
        try:
            version = self.api_version()
        except Exception as exc:  # noqa: BLE001
            error = self.redactor.redact(f"{type(exc).__name__}: {exc}")
            checks.append(Check("api_version", False, error))
            return ConnectionStatus(False, self.product_id, tuple(checks), error=error)
        checks.append(Check("api_version", True if version else None, version or "not reported by the product"))
        return ConnectionStatus(True, self.product_id, tuple(checks), api_version=version)


def tap_connector(product_id: str, config: Mapping[str, Any]) -> TapConnector:
    """The product's connector as a ``TapConnector`` (built on the tap its connector class uses if need be)."""
    from xlr8_kit.connectors.factory import ConnectorFactory

    connector_class = ConnectorFactory.connector_class(product_id, check=False)
    if isinstance(connector_class, type) and issubclass(connector_class, TapConnector):
        return connector_class(dict(config))
    tap_class = getattr(connector_class, "tap_class", None)
    if tap_class is None:
        tap_attr = getattr(connector_class, "tap", None)
        getter = getattr(tap_attr, "func", None) or getattr(tap_attr, "fget", None)
        hints = typing.get_type_hints(getter) if getter is not None else {}
        tap_class = hints.get("return")
    if not (isinstance(tap_class, type) and issubclass(tap_class, KitTap)):
        raise ConnectorError(
            f"{product_id}: connector {connector_class.__name__} exposes no KitTap; make it a TapConnector subclass"
        )
    generic = type(
        f"{tap_class.__name__}Connector", (TapConnector,), {"product_id": product_id, "tap_class": tap_class}
    )
    return typing.cast("TapConnector", generic(dict(config)))
