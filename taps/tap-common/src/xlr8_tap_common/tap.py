"""tap-common: Common's purchase orders, amendments, companies, business relationships and ERP-sync updates."""

from __future__ import annotations

import typing as t
from functools import cached_property

from xlr8_kit.rest import KitRuntime, KitTap, kit_config_schema
from xlr8_tap_common.auth import build_authenticator
from xlr8_tap_common.settings import PRODUCT_SETTINGS, CommonSettings
from xlr8_tap_common.streams import STREAMS, WebhookEventsStream

if t.TYPE_CHECKING:
    from singer_sdk.streams import Stream


class TapCommon(KitTap):
    """Common (purchase-order collaboration between buyers and suppliers) as Singer streams."""

    name = "tap-common"
    product_id = "common"
    config_jsonschema = kit_config_schema(PRODUCT_SETTINGS)

    @cached_property
    def settings(self) -> CommonSettings:
        return CommonSettings.from_config(self.resolved_config)

    def build_authenticator(self, runtime: KitRuntime) -> t.Any:
        return build_authenticator(self.settings, runtime.session, runtime.redactor)

    def discover_streams(self) -> list[Stream]:
        self.settings  # noqa: B018 - bad settings fail before any request, naming the setting
        streams: list[Stream] = [cls(self) for cls in STREAMS]
        if self.settings.webhook_store_path:
            streams.append(WebhookEventsStream(self))
        return streams


if __name__ == "__main__":
    TapCommon.cli()
