"""Which property of an entity type says when a row last changed (its replication key), and the ``$filter`` that
reads rows changed since a bookmark.

SuccessFactors names it ``lastModifiedDateTime`` (and variants); S/4HANA uses ``LastChangeDateTime``
(Edm.DateTimeOffset), ``LastChangeDate`` (an Edm.DateTime holding a day, usually paired with an Edm.Time
``LastChangeTime``) or ``ChangedOn``. A creation stamp is never a replication key: rows change after they are
created (suppliers, customers), and a set with nothing else is read in full. Day-precision keys
are filtered with ``ge`` on the bookmark's day, so rows changed later that same day are read again rather than
lost (the target upserts by key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from xlr8_kit.odata.edmx import EntityType
from xlr8_kit.odata.filters import Filter, compare

#: SuccessFactors entities and MDF objects, most specific first.
SUCCESSFACTORS_CHANGE_KEYS = ("lastModifiedDateTime", "lastModifiedOn", "lastModified", "lastModifiedDate")
#: S/4HANA (and most SAP Gateway / RAP services), most specific first. No creation stamp: ``A_Supplier`` and
#: ``A_Customer`` have only ``CreationDate``, and keyed on it a changed supplier would never be read again.
S4_CHANGE_KEYS = (
    "LastChangeDateTime",
    "LastChangedDateTime",
    "ChangedDateTime",
    "LastChangeDate",
    "ChangedOn",
)
#: Edm types a change timestamp can have (v2 and v4).
TIMESTAMP_TYPES = frozenset({"Edm.DateTimeOffset", "Edm.DateTime", "Edm.Date"})
#: Time-of-day companions of a day-precision key (``LastChangeDate`` + ``LastChangeTime``).
_COMPANIONS = {"LastChangeDate": "LastChangeTime", "ChangedOn": "ChangedAt", "CreationDate": "CreationTime"}
#: Creation stamps of a change key: SAP leaves the change stamp initial (``null`` in OData) until a row's first
#: change (BUT000's ``LastChangeDate``), so rows created since the bookmark are found by their creation stamp.
_CREATED = {
    "LastChangeDate": "CreationDate",
    "ChangedOn": "CreationDate",
    "LastChangeDateTime": "CreationDateTime",
    "LastChangedDateTime": "CreationDateTime",
    "ChangedDateTime": "CreationDateTime",
}
#: A creation day paired with a full change timestamp (``A_PurchaseOrder``: ``LastChangeDateTime`` but only
#: ``CreationDate``): a row whose stamp stays initial after creation is found by the day it was created (s4aud28 F4).
_CREATED_DAY = {
    "LastChangeDateTime": "CreationDate",
    "LastChangedDateTime": "CreationDate",
    "ChangedDateTime": "CreationDate",
}


@dataclass(frozen=True)
class ChangeKey:
    """The replication key of an entity type."""

    name: str
    edm_type: str
    #: True when the key holds a day (Edm.Date, or an Edm.DateTime annotated ``sap:display-format="Date"``).
    day_precision: bool
    #: The Edm.Time / Edm.TimeOfDay property that completes a day-precision key, if the type has one.
    time_companion: str | None = None
    #: The creation stamp of the same type (``CreationDate`` for ``LastChangeDate``), if the type has one: rows whose
    #: change stamp is still null are read by it, and it stands in for it in the bookmark.
    created: str | None = None
    #: A day-precision creation stamp paired with a full timestamp key (``CreationDate`` beside
    #: ``LastChangeDateTime``) and its Edm type: rows never changed are read by it too, but it moves no bookmark.
    created_day: str | None = None
    created_day_type: str | None = None

    def since(self, bookmark: Any, *, version: int = 2) -> Filter:
        """Rows changed at or after ``bookmark`` (an ISO 8601 string or a datetime), as a typed ``$filter``; with
        a creation stamp, also rows created at or after it, so never-changed rows (null change stamp) are read.

        No ``eq null`` term: whether Gateway matches an initial DATS with it is unverified, and without it the rows
        are the same (a row created since the bookmark cannot have been changed before it)."""
        value = bookmark
        if self.day_precision:
            moment = bookmark if isinstance(bookmark, datetime) else datetime.fromisoformat(
                str(bookmark).replace("Z", "+00:00")
            )  # fmt: skip
            value = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        changed = compare(self.name, "ge", value, self.edm_type, version=version)
        if self.created is not None:
            return changed | compare(self.created, "ge", value, self.edm_type, version=version)
        if self.created_day is not None:
            # the bookmark's UTC day less one: a creation day is in the system's own calendar, east or west of UTC
            moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC)
            day = moment.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None) - timedelta(days=1)
            return changed | compare(self.created_day, "ge", day, self.created_day_type, version=version)
        return changed

    def stamp(self, row: dict[str, Any]) -> Any:
        """The row's change stamp, or its creation stamp while it was never changed (what the bookmark follows)."""
        value = row.get(self.name)
        return row.get(self.created) if value is None and self.created is not None else value


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
        created = _CREATED.get(name)
        pair = entity.properties.get(created) if created is not None else None
        has_created = (
            pair is not None
            and pair.filterable
            and pair.edm_type == prop.edm_type
            and pair.sap.get("display-format", "") == prop.sap.get("display-format", "")
        )
        day_name = _CREATED_DAY.get(name) if not has_created and not day else None
        day_pair = entity.properties.get(day_name) if day_name is not None else None
        has_day = (
            day_pair is not None
            and day_pair.filterable
            and (
                day_pair.edm_type == "Edm.Date"
                or (day_pair.edm_type == "Edm.DateTime" and day_pair.sap.get("display-format", "").lower() == "date")
            )
        )
        return ChangeKey(
            name,
            prop.edm_type,
            day,
            companion if has_companion else None,
            created if has_created else None,
            day_name if has_day else None,
            day_pair.edm_type if has_day and day_pair is not None else None,
        )
    return None
