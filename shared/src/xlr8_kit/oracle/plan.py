"""From a describe document and a tap's declarations to stream plans: the parent resource (its attributes, the
columns its flatten rules add, embedded children) and one stream per declared child (the child's attributes plus
every ancestor's key), with keys, replication key and the request parameters each needs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xlr8_kit.oracle.describe import (
    EFFECTIVE_END,
    EFFECTIVE_LATEST,
    EFFECTIVE_SEQUENCE,
    EFFECTIVE_START,
    DescribeError,
    Resource,
)
from xlr8_kit.oracle.protocol import LAST_UPDATE_DATE, Flatten


@dataclass(frozen=True)
class ResourceDeclaration:
    """What a tap says about a resource: its canonical entity, the children offered, the flatten rules."""

    entity: str | None = None
    truth_type: str = "reality"
    references: dict[str, str] = field(default_factory=dict)
    #: Child paths offered as streams (``child_mode=streams``) or nested (``embed``).
    children: tuple[str, ...] = ()
    #: Children whose rows get canonical entities of their own: ``{"emails": ("employee", {...refs})}``.
    child_entities: dict[str, str] = field(default_factory=dict)
    flatten: tuple[Flatten, ...] = ()


@dataclass(frozen=True)
class StreamPlan:
    name: str
    resource: Resource  # the top-level resource requested
    child_path: str | None
    schema: dict[str, Any]
    primary_keys: tuple[str, ...]
    replication_key: str | None
    expand: tuple[str, ...]
    #: ``fields=`` per child path for the request ("" key: top level); None: every attribute of that level.
    fields: dict[str, list[str] | None]
    #: For child streams: ancestor attribute path -> column carried into each child row.
    parent_keys: dict[str, str]
    flatten: tuple[Flatten, ...]
    effective_dated: bool
    entity: str | None
    truth_type: str
    references: dict[str, str]
    #: A leading part of ``primary_keys`` naming sets of rows each read holds whole (the annotation's
    #: ``replace_by``): an effective-dated row's logical id, read as of one date (audit25a F1).
    replace_by: tuple[str, ...] = ()

    @property
    def resource_name(self) -> str:
        return self.resource.name

    def child_fields(self, under: str = "") -> dict[str, list[str]]:
        """Every level expanded below ``under`` (paths relative to it), ancestors first, with its attributes named:
        Oracle's ``fields`` "cannot be combined with expand ... If both are provided, only fields will be
        considered", so a child left out of ``fields`` comes back absent, read as "no rows" (audit25a F3). A whole
        child (None) lists every described attribute; a level named by no rule, every one (what ``expand`` gave);
        a level asked for nothing (an ancestor a ``where`` does not read), its keys."""
        below = f"{under}." if under else ""
        levels: dict[str, None] = {}
        for path in self.expand:
            if below and not path.startswith(below):
                continue
            parts = path[len(below) :].split(".")
            levels.update(dict.fromkeys(".".join(parts[: i + 1]) for i in range(len(parts))))
        named: dict[str, list[str]] = {}
        for level in levels:
            node = self.resource.child(below + level)
            wanted = self.fields.get(below + level)
            if wanted is None:
                named[level] = list(node.attributes)
            else:
                named[level] = list(wanted) or list(node.keys) or list(node.attributes)
        return named


def child_stream_name(resource: str, child_path: str) -> str:
    return f"{resource}_{child_path.replace('.', '_')}"


def plan_streams(
    resource: Resource, declaration: ResourceDeclaration | None, child_mode: str, *, cuts_seen: bool = True
) -> list[StreamPlan]:
    """The parent stream's plan, then one per declared child when children are streams of their own.
    ``cuts_seen``: the framework marks a cut child (3 and later, ``hasMore``), so every parent's children are read
    whole (``_child_plan``)."""
    declared = declaration or ResourceDeclaration()
    for path in declared.children:
        resource.child(path)  # unknown child: a clear error naming it
    embed = declared.children if child_mode == "embed" else ()
    schema = resource.jsonschema(embed=embed)
    for rule in declared.flatten:
        child = resource.child(rule.child)
        for source, target in rule.columns.items():
            if source not in child.attributes:
                raise DescribeError(f"{resource.name}: flatten rule reads {rule.child}.{source}, not in describe")
            schema["properties"].setdefault(target, child.attributes[source].jsonschema())
    replication_key = (
        LAST_UPDATE_DATE
        if LAST_UPDATE_DATE in resource.attributes and resource.attributes[LAST_UPDATE_DATE].queryable
        else None
    )
    fields: dict[str, list[str] | None] = {"": None}
    for rule in declared.flatten:
        for path, names in rule.needed_attributes().items():
            if path in embed:
                continue
            fields[path] = list(dict.fromkeys([*(fields.get(path) or []), *names]))
    for path in embed:  # every attribute of an embedded child
        fields[path] = None
    expand = tuple(dict.fromkeys([*(r.child for r in declared.flatten), *embed]))
    for path, wanted in fields.items():  # a level's key names its children's URL, where a cut child is read whole
        keys = resource.child(path).keys if path else ()
        if wanted is not None and len(keys) == 1 and any(p.startswith(f"{path}.") for p in expand):
            wanted[:0] = [k for k in keys if k not in wanted]
    effective = resource.effective_dated or any(resource.child(p).effective_dated for p in expand)
    plans = [
        StreamPlan(
            name=resource.name,
            resource=resource,
            child_path=None,
            schema=schema,
            primary_keys=_keys(resource),
            replace_by=_versions_of(resource),
            replication_key=replication_key,
            expand=expand,
            fields=fields,
            parent_keys={},
            flatten=declared.flatten,
            effective_dated=effective,
            entity=declared.entity,
            truth_type=declared.truth_type,
            references=dict(declared.references),
        )
    ]
    if child_mode == "streams":
        plans.extend(_child_plan(resource, path, declared, cuts_seen) for path in declared.children)
    return plans


#: Attributes of a date-effective key that pick a physical record (a version) of a logical one.
VERSION_KEYS = (EFFECTIVE_START, EFFECTIVE_SEQUENCE)
#: Attributes a pod's describe may list in a date-effective ``PrimaryKey`` (Oracle documents assignments'
#: "AssignmentId, EffectiveStartDate, EffectiveEndDate, EffectiveSequence and EffectiveLatestChange") that change
#: when the version is superseded (end-dated) or a same-day change is added: never in a landed key, where the old
#: and the new state of one version would land side by side (audit25a F1). Still read as attributes.
MUTABLE_KEYS = (EFFECTIVE_END, EFFECTIVE_LATEST)


def logical_keys(resource: Resource) -> tuple[str, ...]:
    """The key without its date-effective attributes: the logical record every version of it shares."""
    return tuple(k for k in resource.keys if k not in VERSION_KEYS and k not in MUTABLE_KEYS)


def _keys(resource: Resource) -> tuple[str, ...]:
    """The landed key: the logical id first (so it can be ``replace_by``), then what picks the version
    (``EffectiveStartDate`` always on an effective-dated resource, ``EffectiveSequence`` when describe keys it)."""
    if not resource.effective_dated:
        return resource.keys
    versions = [EFFECTIVE_START, *(k for k in resource.keys if k == EFFECTIVE_SEQUENCE)]
    return (*logical_keys(resource), *versions)


def _versions_of(resource: Resource) -> tuple[str, ...]:
    """An effective-dated resource read as of one date answers one version per logical id: the run's version
    replaces the ones landed before (marked deleted), else a superseded version stays a second current row
    (audit25a F1). Nothing without a logical id to group by."""
    return logical_keys(resource) if resource.effective_dated else ()


def _child_plan(resource: Resource, path: str, declared: ResourceDeclaration, cuts_seen: bool) -> StreamPlan:
    """A child's rows with the keys of every ancestor: one collection query naming it in ``fields``, not one per
    parent.

    Its ``replace_by`` is the top-level parent's logical id (audit25a F7): each run reads every parent's children
    whole (a cut collection from its own URL, checked against its count, or the run fails; a cut under a parent
    with no single key fails too), so a child deleted in Fusion (an email, an invoice line, a superseded
    assignment version) is marked deleted when its parent's rows land. Not when a cut cannot be seen (framework
    1 and 2 send bare arrays, their completeness unverified): then only an effective-dated child's versions
    replace each other (F1). A parent left with no children sends no row: its read announces the parents it read
    (``FusionStream._parents_read``), so their old children are marked deleted too."""
    child = resource.child(path)
    parent_keys: dict[str, str] = {}
    fields: dict[str, list[str] | None] = {"": list(resource.keys)}
    parts = path.split(".")
    node = resource
    for depth, part in enumerate(parts):
        level = ".".join(parts[:depth])
        for key in carried_keys(node):
            column = key if key not in parent_keys.values() else f"{node.name}{key}"
            parent_keys[f"{level}.{key}".lstrip(".")] = column
        node = node.children[part]
        here = ".".join(parts[: depth + 1])
        fields[here] = None if here == path else list(node.keys)
    schema = child.jsonschema()
    for attr_path, column in parent_keys.items():
        head, _, name = attr_path.rpartition(".")
        owner = resource.child(head) if head else resource
        schema["properties"].setdefault(column, owner.attributes[name].jsonschema())
    keys = tuple(dict.fromkeys([*parent_keys.values(), *_keys(child)]))
    sets: tuple[str, ...] = ()
    if cuts_seen and logical_keys(resource):
        sets = logical_keys(resource)  # depth 0: the columns are the attribute names
    elif child.effective_dated:
        sets = (*parent_keys.values(), *_versions_of(child))
    return StreamPlan(
        name=child_stream_name(resource.name, path),
        resource=resource,
        child_path=path,
        schema=schema,
        primary_keys=keys,
        replication_key=None,  # a child's change does not always move the parent's LastUpdateDate: full table
        expand=(path,),
        fields=fields,
        parent_keys=parent_keys,
        flatten=(),
        effective_dated=child.effective_dated,
        entity=declared.child_entities.get(path),
        truth_type=declared.truth_type,
        references={},
        replace_by=sets if keys[: len(sets)] == sets else (),
    )


def carried_keys(node: Resource) -> tuple[str, ...]:
    """An ancestor's key as its children's rows carry it: never an attribute that changes as its versions are
    superseded (``MUTABLE_KEYS``), the logical id first."""
    return (*logical_keys(node), *(k for k in node.keys if k in VERSION_KEYS))
