"""Which streams carry ``x-xlr8``: the one rule every tap inherits from KitRESTStream.

A tenant's custom object with no declared entity (Salesforce ``Widget__c``, a SuccessFactors MDF object, a RaaS
report nobody mapped) goes out without the annotation and still lands; a declared entity the vocabulary does not
know is a programming error and stops the run.
"""

from __future__ import annotations

import typing as t

import pytest
from singer_sdk import typing as th
from singer_sdk.singerlib import SchemaMessage

from xlr8_kit.rest import KIT_SETTINGS, KitRESTStream, KitTap
from xlr8_kit.vocabulary import VocabularyError
from xlr8_kit.vocabulary.annotations import ANNOTATION_KEY

SCHEMA = th.PropertiesList(th.Property("Id", th.StringType), th.Property("Name", th.StringType)).to_dict()


def _stream(
    name: str, entity: str | None, product: str | None = None, truth_type: str = "reality"
) -> type[KitRESTStream]:
    return type(
        f"S_{name}",
        (KitRESTStream,),
        {
            "name": name,
            "path": "/x",
            "url_base": "https://example.invalid",
            "primary_keys": ["Id"],
            "schema": SCHEMA,
            "xlr8_entity": entity,
            "xlr8_product": product,
            "xlr8_truth_type": truth_type,
        },
    )


class _Tap(KitTap):
    name = "tap-annotation-rule"
    product_id = "salesforce"
    config_jsonschema = th.PropertiesList(*KIT_SETTINGS.wrapped.values()).to_dict()
    stream_types: t.ClassVar[list[type[KitRESTStream]]] = []

    def build_authenticator(self, runtime: t.Any) -> None:
        return None

    def discover_streams(self) -> list[KitRESTStream]:
        return [cls(self) for cls in self.stream_types]


def _schema_messages(*streams: type[KitRESTStream]) -> dict[str, dict[str, t.Any]]:
    _Tap.stream_types = list(streams)
    tap = _Tap(config={}, validate_config=False)
    out: dict[str, dict[str, t.Any]] = {}
    for stream in tap.streams.values():
        for message in stream._generate_schema_messages():
            assert isinstance(message, SchemaMessage)
            out[message.stream] = message.schema
    return out


def test_custom_object_without_entity_goes_out_unannotated() -> None:
    schemas = _schema_messages(_stream("Widget__c", None), _stream("Account", None), _stream("Task", "case"))
    assert ANNOTATION_KEY not in schemas["Widget__c"]
    assert schemas["Widget__c"]["properties"].keys() == {"Id", "Name"}
    assert schemas["Account"][ANNOTATION_KEY]["entity"] == "crm_account"  # mapped by the vocabulary
    assert schemas["Task"][ANNOTATION_KEY]["entity"] == "case"  # declared


def test_stream_level_product_overrides_the_taps() -> None:
    schemas = _schema_messages(_stream("journals", "journal_entry", product="workday_fins"))
    assert schemas["journals"][ANNOTATION_KEY]["product"] == "workday_fins"


def test_declared_unknown_entity_is_refused() -> None:
    with pytest.raises(VocabularyError, match="gizmo"):
        _schema_messages(_stream("Gizmo__c", "gizmo"))


def test_configuration_stream_without_entity_is_refused() -> None:
    """Unannotated, it would land as Reality under the tap's name although it was declared Configuration."""
    with pytest.raises(VocabularyError, match="'Gizmo_Text__c' is declared configuration but has no entity"):
        _schema_messages(_stream("Gizmo_Text__c", None, truth_type="configuration"))
