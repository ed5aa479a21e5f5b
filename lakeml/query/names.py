"""Validation of table and model names (they become folder names in the lake)."""

from __future__ import annotations

import re

from lakeml.errors import InvalidNameError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,127}$")

TABLES_DIR = "tables"
"""The folder under the lake root that holds managed tables, one folder per table name."""


def table_label(relpath: str) -> str:
    """How a table at ``relpath`` is named to the user: ``tables/flights`` is ``flights``."""
    prefix = f"{TABLES_DIR}/"
    return relpath[len(prefix):] if relpath.startswith(prefix) else relpath


def validate_name(name: str, *, kind: str = "table") -> str:
    """Return ``name`` if it is a safe single-segment name, else raise :class:`InvalidNameError`.

    Allowed: letters, digits, ``_`` and ``-`` (not first), at most 128 characters. Refused: empty
    names, ``..``, absolute paths and any path separator, so a name can never leave its folder; and
    names starting with ``_``, which the catalog keeps for lakeml (``_lakeml``) and never lists.
    lakeml writes its own tables with ``Lake.write_path``, not through a table name.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidNameError(f"A {kind} name must be a non-empty string, got {name!r}.",
                               hint="Use a name like 'flights' or 'flights_2013'.")
    if "/" in name or "\\" in name or name.startswith(".") or ".." in name or ":" in name:
        raise InvalidNameError(
            f"The {kind} name {name!r} looks like a path; {kind} names cannot contain '/', '\\', ':' or '..'.",
            hint="Use a plain name such as 'flights'; to read files at a path, register them with "
                 "[[lake.register_table(name, uri)|lakeml register NAME URI]].",
        )
    if name.startswith("_"):
        raise InvalidNameError(
            f"The {kind} name {name!r} starts with '_'; such names are reserved for lakeml and never listed.",
            hint=f"Use a name starting with a letter or digit, such as {name.lstrip('_') or 'flights'!r}.",
        )
    if not _NAME.fullmatch(name):
        raise InvalidNameError(
            f"The {kind} name {name!r} has characters that are not allowed.",
            hint="Use letters, digits, '_' and '-' (up to 128 characters), starting with a letter or digit.",
        )
    return name
