"""Bulk outputs offered as streams (HCM extracts, BI Publisher reports): each configured entry names the job or
report, the stream, its key and its columns, so discovery never runs a job. Every column is a string, as the
delimited output delivers it. A product tap subclasses ``BulkStream`` with how to fetch the rows."""

from __future__ import annotations

import typing as t
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from singer_sdk import typing as th

from xlr8_kit.rest import KitRESTStream

if t.TYPE_CHECKING:
    from xlr8_kit.oracle.tap import FusionTap


def bulk_outputs_setting(name: str, what: str) -> th.Property:
    """The tap setting listing bulk outputs: ``[{name, stream, key_properties, columns, entity, parameters}]``."""
    return th.Property(
        name,
        th.ArrayType(th.ObjectType(additional_properties=True)),
        description=f"{what} offered as streams: [{{name, stream, key_properties, columns, entity, parameters}}].",
    )


@dataclass(frozen=True)
class BulkSpec:
    name: str
    stream: str
    key_properties: tuple[str, ...]
    columns: tuple[str, ...]
    entity: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: t.Any, where: str) -> BulkSpec:
        """One entry of the setting; errors name it (``setting 'hcm_extracts[0]'``)."""
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where} must be an object with name, stream, key_properties and columns")
        missing = [k for k in ("name", "stream", "key_properties", "columns") if not raw.get(k)]
        if missing:
            raise ValueError(f"{where} needs {', '.join(missing)}")
        columns = tuple(str(c) for c in raw["columns"])
        keys = tuple(str(k) for k in raw["key_properties"])
        unknown = [k for k in keys if k not in columns]
        if unknown:
            raise ValueError(f"{where}: key_properties {', '.join(unknown)} not among its columns")
        return cls(
            name=str(raw["name"]),
            stream=str(raw["stream"]),
            key_properties=keys,
            columns=columns,
            entity=raw.get("entity"),
            parameters={str(k): str(v) for k, v in (raw.get("parameters") or {}).items()},
        )


class BulkStream(KitRESTStream):
    """Rows of one bulk output, fetched once per sync (full table)."""

    spec: t.ClassVar[BulkSpec]

    def __init__(self, tap: t.Any) -> None:
        schema = {"type": "object", "properties": {c: {"type": ["string", "null"]} for c in self.spec.columns}}
        super().__init__(tap, name=self.spec.stream, schema=schema, path="/")
        self.primary_keys = list(self.spec.key_properties)

    @property
    def fusion_tap(self) -> FusionTap:
        return t.cast("FusionTap", self._tap)

    @property
    def url_base(self) -> str:
        return self.fusion_tap.client.resources_url

    def bulk_rows(self) -> Iterable[Mapping[str, t.Any]]:
        """The output's rows (the product's job or report run)."""
        raise NotImplementedError

    def get_records(self, context: t.Any) -> t.Iterable[dict[str, t.Any]]:
        for row in self.bulk_rows():
            yield {c: row.get(c) for c in self.spec.columns}


def bulk_stream_class(spec: BulkSpec, base: type[BulkStream]) -> type[BulkStream]:
    attrs = {"spec": spec, "xlr8_entity": spec.entity, "__doc__": f"Bulk output {spec.name}."}
    return type(f"{spec.stream}Stream", (base,), attrs)
