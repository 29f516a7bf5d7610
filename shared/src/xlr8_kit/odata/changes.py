"""Which property of an entity type says when a row last changed (its replication key), and the ``$filter`` that
reads rows changed since a bookmark.

SuccessFactors names it ``lastModifiedDateTime`` (and variants); S/4HANA uses ``LastChangeDateTime``
(Edm.DateTimeOffset), ``LastChangeDate`` (an Edm.DateTime holding a day, usually paired with an Edm.Time
``LastChangeTime``), ``ChangedOn`` or, for sets that are only ever created, ``CreationDate``. Day-precision keys
are filtered with ``ge`` on the bookmark's day, so rows changed later that same day are read again rather than
lost (the target upserts by key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from xlr8_kit.odata.edmx import EntityType
from xlr8_kit.odata.filters import Filter, compare

#: SuccessFactors entities and MDF objects, most specific first.
SUCCESSFACTORS_CHANGE_KEYS = ("lastModifiedDateTime", "lastModifiedOn", "lastModified", "lastModifiedDate")
#: S/4HANA (and most SAP Gateway / RAP services), most specific first; ``CreationDate`` is the last resort.
S4_CHANGE_KEYS = (
    "LastChangeDateTime",
    "LastChangedDateTime",
    "ChangedDateTime",
    "LastChangeDate",
    "ChangedOn",
    "CreationDateTime",
    "CreationDate",
)
#: Edm types a change timestamp can have (v2 and v4).
TIMESTAMP_TYPES = frozenset({"Edm.DateTimeOffset", "Edm.DateTime", "Edm.Date"})
#: Time-of-day companions of a day-precision key (``LastChangeDate`` + ``LastChangeTime``).
_COMPANIONS = {"LastChangeDate": "LastChangeTime", "ChangedOn": "ChangedAt", "CreationDate": "CreationTime"}


@dataclass(frozen=True)
class ChangeKey:
    """The replication key of an entity type."""

    name: str
    edm_type: str
    #: True when the key holds a day (Edm.Date, or an Edm.DateTime annotated ``sap:display-format="Date"``).
    day_precision: bool
    #: The Edm.Time / Edm.TimeOfDay property that completes a day-precision key, if the type has one.
    time_companion: str | None = None

    def since(self, bookmark: Any, *, version: int = 2) -> Filter:
        """Rows changed at or after ``bookmark`` (an ISO 8601 string or a datetime), as a typed ``$filter``."""
        value = bookmark
        if self.day_precision:
            moment = bookmark if isinstance(bookmark, datetime) else datetime.fromisoformat(
                str(bookmark).replace("Z", "+00:00")
            )  # fmt: skip
            value = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        return compare(self.name, "ge", value, self.edm_type, version=version)


def change_key(entity: EntityType, candidates: tuple[str, ...] = S4_CHANGE_KEYS) -> ChangeKey | None:
    """The first candidate the type has as a filterable timestamp, or None (the set is read in full)."""
    for name in candidates:
        prop = entity.properties.get(name)
        if prop is None or not prop.filterable or prop.edm_type not in TIMESTAMP_TYPES:
            continue
        day = prop.edm_type == "Edm.Date" or (
            prop.edm_type == "Edm.DateTime" and prop.sap.get("display-format", "").lower() == "date"
        )
        companion = _COMPANIONS.get(name)
        has_companion = (
            companion is not None
            and companion in entity.properties
            and entity.properties[companion].edm_type in ("Edm.Time", "Edm.TimeOfDay")
        )
        return ChangeKey(name, prop.edm_type, day, companion if has_companion else None)
    return None
