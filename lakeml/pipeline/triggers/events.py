"""Storage events by polling: the files of a watched lake folder that a trigger has not seen yet.

When a storage event trigger is first served, the files already there are written to a baseline
(``_lakeml/trigger_state/<trigger>/baseline.json``, create-only) and never fire: like the cloud's
event triggers, only files that arrive afterwards do. Each later file fires once; which ones fired
is kept in the trigger's fire logs (see :mod:`.state`).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from lakeml.errors import CorruptMetadataError, LakePathNotFoundError
from lakeml.pipeline.triggers.definition import StorageEvent
from lakeml.pipeline.triggers.state import trigger_root
from lakeml.storage.lakefs import LakeStorage


def baseline_path(trigger: str) -> str:
    """Where the files present at a trigger's first poll are listed."""
    return f"{trigger_root(trigger)}/baseline.json"


def matching_files(storage: LakeStorage, event: StorageEvent) -> list[str]:
    """Lake paths of the files under the watched folder that match the trigger's path filters, sorted.

    Hidden files and lakeml's temporary files (names starting with ``.`` or ``_``) are skipped.
    """
    folder = event.folder
    out = []
    for rel in storage.list_files(folder):
        path = f"{folder}/{rel}" if folder else rel
        name = path.rsplit("/", 1)[-1]
        if name.startswith((".", "_")) or any(part.startswith(".") for part in path.split("/")):
            continue
        if not path.startswith(event.begins_with) or not path.endswith(event.ends_with):
            continue
        if not folder and path.startswith("_lakeml/"):
            continue
        out.append(path)
    return out


def _baseline(storage: LakeStorage, trigger: str, event: StorageEvent) -> set[str]:
    path = baseline_path(trigger)
    try:
        return set(json.loads(storage.read_bytes(path))["files"])
    except LakePathNotFoundError:
        pass
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptMetadataError(f"The storage event baseline {path!r} is unreadable ({exc}).",
                                   hint="Delete it: the trigger then treats the files present now as seen.") from None
    files = matching_files(storage, event)
    if not storage.write_bytes(path, json.dumps({"files": files}).encode(), overwrite=False):
        return set(json.loads(storage.read_bytes(path))["files"])  # another process wrote it first
    return set(files)


def new_files(storage: LakeStorage, trigger: str, event: StorageEvent,
              skip: Callable[[str], bool] = lambda path: False) -> list[str]:
    """Matching files not in the trigger's baseline (empty files left out when ``ignoreEmptyBlobs``).

    ``skip(path)`` leaves out files the caller knows already fired (the fire logs); an empty file is left
    out until it has data, so it fires once it is written.
    """
    seen = _baseline(storage, trigger, event)
    out = []
    for path in matching_files(storage, event):
        if path in seen or skip(path):
            continue
        if event.ignore_empty:
            try:
                if storage.size(path) == 0:
                    continue
            except (LakePathNotFoundError, FileNotFoundError):
                continue
        out.append(path)
    return out
