"""target-common: purchase orders and amendments into Common (see ``target_common.sinks`` for the rules)."""

from __future__ import annotations

import typing as t
from collections import Counter
from functools import cached_property

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from target_common.client import CommonClient
from target_common.sinks import CommonSink, DeadLetters
from xlr8_kit.load_method import UPSERT, load_method_property, refuse_other_load_methods
from xlr8_kit.redaction import Redactor
from xlr8_kit.rest import http_policy_from_config
from xlr8_kit.vocabulary.annotations import SETS_READ_STREAM
from xlr8_tap_common.settings import PRODUCT_SETTINGS, CommonSettings

_AUTH = {"api_base_url", "auth_flow", "email", "password", "client_id", "client_secret", "company_id"}

TARGET_SETTINGS = th.PropertiesList(
    *(p for p in PRODUCT_SETTINGS.wrapped.values() if p.name in _AUTH),
    th.Property(
        "dead_letter_path",
        th.StringType,
        default=".xlr8/common-dead-letters.jsonl",
        description="JSON-lines file for records Common refused (error code, detail, request_id, record).",
    ),
    th.Property("dead_letter_ceiling", th.IntegerType, default=100, description="Most dead letters before failing."),
    th.Property("http", th.ObjectType(additional_properties=True), description="Resilient HTTP policy overrides."),
    th.Property("audit_log_path", th.StringType, description="JSON-lines audit log, one line per HTTP attempt."),
    load_method_property(
        UPSERT,
        "a purchase order is looked up by po_number, created when absent, else only its changed fields are sent, "
        "commercial ones as a proposal once confirmed; Common's other orders are left as they are",
    ),
)


class TargetCommon(Target):
    """Writes ``purchase_orders`` and ``amendments`` (Common's shape) into Common."""

    name = "target-common"
    config_jsonschema = TARGET_SETTINGS.to_dict()
    default_sink_class = CommonSink

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        refuse_other_load_methods(
            self.config, UPSERT,
            "a purchase order replaces Common's order of its po_number; Common keeps one order per number and "
            "never has its orders deleted by a load",
        )  # fmt: skip

    @cached_property
    def settings(self) -> CommonSettings:
        return CommonSettings.from_config(dict(self.config))

    @cached_property
    def redactor(self) -> Redactor:
        redactor = Redactor.default()
        redactor.install_logging_filter()
        for name in ("password", "client_secret"):
            if self.config.get(name):
                redactor.add(str(self.config[name]))
        return redactor

    @cached_property
    def client(self) -> CommonClient:
        try:
            policy = http_policy_from_config(dict(self.config))
        except ValueError as exc:
            message = f"target-common: {exc}"
            raise ConfigValidationError(message, errors=[message]) from None  # the SDK's CLI logs only ``errors``
        return CommonClient(self.settings, policy, self.redactor)

    @cached_property
    def dead_letters(self) -> DeadLetters:
        return DeadLetters(
            str(self.config.get("dead_letter_path") or ".xlr8/common-dead-letters.jsonl"),
            100 if self.config.get("dead_letter_ceiling") is None else int(self.config["dead_letter_ceiling"]),
            self.redactor,
        )

    @cached_property
    def counts(self) -> Counter[str]:
        return Counter()

    def _process_schema_message(self, message_dict: dict) -> None:
        """A tap's announcement of sets read whole (``SETS_READ_STREAM``) is not a PO: ignored, not refused
        (review26c L5: a direct tap -> target-common pipeline failed on it)."""
        if message_dict.get("stream") == SETS_READ_STREAM:
            return
        super()._process_schema_message(message_dict)

    def _process_record_message(self, message_dict: dict) -> None:
        """As ``_process_schema_message``: the announcement's records are ignored; Common has no rows to delete."""
        if message_dict.get("stream") == SETS_READ_STREAM:
            return
        super()._process_record_message(message_dict)

    def get_sink_class(self, stream_name: str) -> type[CommonSink]:
        """Common's two streams; any other data stream is refused by name (the SDK's CLI logs only ``errors``:
        without them the run stopped saying just "Config validation failed"). The kit's control stream never gets
        here (``_process_schema_message``)."""
        if stream_name not in ("purchase_orders", "amendments"):
            message = (
                f"target-common writes purchase_orders and amendments (Common's shape); got stream {stream_name!r} "
                "(map it with mapper-common first, with drop_other_streams: true for the tap's other streams)"
            )
            raise ConfigValidationError(message, errors=[message])
        return CommonSink

    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        letters = self.dead_letters
        if letters.count:  # under the ceiling the run succeeds, but never without saying so
            self.logger.warning(
                "target-common: %s; %d record(s) dead-lettered to %s (fails the run above dead_letter_ceiling=%d)",
                dict(self.counts), letters.count, letters.path, letters.ceiling,
            )  # fmt: skip
        else:
            self.logger.info("target-common: %s; dead letters: 0", dict(self.counts))

    def __del__(self) -> None:  # pragma: no cover - best effort
        if "client" in self.__dict__:
            t.cast("CommonClient", self.__dict__["client"]).close()


if __name__ == "__main__":
    TargetCommon.cli()
