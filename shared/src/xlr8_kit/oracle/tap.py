"""``FusionTap``: the tap base of every Oracle Fusion product. A product tap names its API (``hcmRestApi``,
``fscmRestApi``), its default resources and its declarations; streams come from each resource's describe."""

from __future__ import annotations

import typing as t
from functools import cached_property

from singer_sdk.exceptions import ConfigValidationError

from xlr8_kit.oracle.bulk import BulkSpec, BulkStream, bulk_stream_class
from xlr8_kit.oracle.client import FusionClient
from xlr8_kit.oracle.plan import ResourceDeclaration, plan_streams
from xlr8_kit.oracle.protocol import CUT_FRAMEWORK
from xlr8_kit.oracle.settings import FUSION_CONCURRENT_REQUESTS, FusionSettings, build_authenticator
from xlr8_kit.oracle.stream import FusionStream, stream_class
from xlr8_kit.rest import KitRuntime, KitTap

if t.TYPE_CHECKING:
    import requests
    from singer_sdk.streams import Stream


class FusionTap(KitTap):
    #: Offset pages check ``totalResults`` on every page of a window (``HasMorePaginator.page_count``); keyset
    #: pages read that many ranges at once (``FUSION_CONCURRENT_REQUESTS``).
    default_concurrent_requests = FUSION_CONCURRENT_REQUESTS
    #: ``hcmRestApi`` or ``fscmRestApi``.
    fusion_api: t.ClassVar[str] = ""
    default_resources: t.ClassVar[tuple[str, ...]] = ()
    declarations: t.ClassVar[dict[str, ResourceDeclaration]] = {}
    #: The product's base stream (its ``client.py``).
    stream_base: t.ClassVar[type[FusionStream]] = FusionStream
    #: The setting listing bulk outputs offered as streams, and the stream class that fetches them.
    bulk_setting: t.ClassVar[str | None] = None
    bulk_stream_base: t.ClassVar[type[BulkStream] | None] = None

    @cached_property
    def settings(self) -> FusionSettings:
        return FusionSettings.from_config(
            self.resolved_config, tap_name=self.name, default_resources=self.default_resources
        )

    def build_authenticator(self, runtime: KitRuntime) -> requests.auth.AuthBase:
        return build_authenticator(self.settings, runtime)

    @cached_property
    def client(self) -> FusionClient:
        settings = self.settings
        return FusionClient(
            session=self.kit.session,
            authenticator=self.kit.authenticator,
            base_url=settings.base_url,
            api=self.fusion_api,
            api_version=settings.api_version,
            framework_version=settings.framework_version,
            redactor=self.kit.redactor,
            product=self.product_id,
        )

    @cached_property
    def bulk_specs(self) -> list[BulkSpec]:
        if self.bulk_setting is None:
            return []
        raw = self.resolved_config.get(self.bulk_setting) or []
        try:
            return [BulkSpec.parse(entry, f"setting '{self.bulk_setting}[{i}]'") for i, entry in enumerate(raw)]
        except ValueError as exc:
            raise ConfigValidationError(f"{self.name}: invalid configuration: {exc}", errors=[str(exc)]) from None

    def discover_streams(self) -> list[Stream]:
        """One stream per resource (and declared child) from describe, then the configured bulk outputs."""
        streams: list[Stream] = []
        for name in self.settings.resources:
            resource = self.client.describe(name)
            cuts_seen = int(self.settings.framework_version) >= CUT_FRAMEWORK
            for plan in plan_streams(
                resource, self.declarations.get(name), self.settings.child_mode, cuts_seen=cuts_seen
            ):
                streams.append(stream_class(plan, self.stream_base)(self))
        if self.bulk_stream_base is not None:
            streams.extend(bulk_stream_class(spec, self.bulk_stream_base)(self) for spec in self.bulk_specs)
        return streams
