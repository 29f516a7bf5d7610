"""Names the engine looks for: the project prefix, snake-case table and column names."""

from __future__ import annotations

import re
import uuid

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_WORD = re.compile(r"[^0-9a-zA-Z]+")
MAX_IDENTIFIER = 63  # PostgreSQL truncates longer names silently; refuse to rely on that


class ProjectIdError(ValueError):
    """The project_id setting is not a UUID."""


def normalise_project(project_id: str) -> str:
    """The lowercase canonical UUID the engine filters on (``LOWER(project) = LOWER(uuid)``)."""
    try:
        return str(uuid.UUID(str(project_id).strip()))
    except ValueError as exc:
        raise ProjectIdError(
            f"setting 'project_id' must be the engine project's UUID (e.g. 1b4e28ba-2fa1-11d2-883f-0016d3cca427), "
            f"got {len(str(project_id))} characters that are not a UUID"
        ) from exc


def project_prefix(project_id: str) -> str:
    """The engine lists a project's tables by the first 8 hex characters of its UUID, hyphens removed."""
    return normalise_project(project_id).replace("-", "")[:8].lower()


def snake_case(name: str) -> str:
    """``AccountId`` -> ``account_id``; ``Pay Group/Code`` -> ``pay_group_code``; keeps a leading ``_sdc``."""
    leading = "_" if name.startswith("_") else ""
    spaced = _CAMEL_BOUNDARY.sub("_", name)
    snake = _NON_WORD.sub("_", spaced).strip("_").lower()
    snake = re.sub(r"_+", "_", snake)
    if not snake:
        snake = "column"
    if snake[0].isdigit():
        snake = f"c_{snake}"
    return f"{leading}{snake}"


def table_name(project_id: str, product: str, stream: str) -> str:
    """``{p8}_{product}_{stream}`` in snake case."""
    name = f"{project_prefix(project_id)}_{snake_case(product)}_{snake_case(stream)}"
    return name[:MAX_IDENTIFIER]


def column_names(properties: list[str]) -> dict[str, str]:
    """Map each property to a unique snake-case column, suffixing collisions (``Name`` and ``name``) in order."""
    taken: set[str] = set()
    mapping: dict[str, str] = {}
    for prop in properties:
        base = snake_case(prop)[:MAX_IDENTIFIER]
        candidate, n = base, 2
        while candidate in taken:
            candidate = f"{base[: MAX_IDENTIFIER - 4]}_{n}"
            n += 1
        taken.add(candidate)
        mapping[prop] = candidate
    return mapping


def quote(identifier: str) -> str:
    """Double-quoted identifier, safe in DuckDB and PostgreSQL."""
    return '"' + identifier.replace('"', '""') + '"'
