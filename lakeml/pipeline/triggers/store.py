"""Trigger definitions stored in the lake: ``_lakeml/triggers/<name>.json``, one file per trigger.

A definition is written whole and atomically (a reader sees the old or the new one). Deleting a
trigger also deletes its fire state, so a new trigger of the same name starts afresh.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lakeml.errors import ConfigError, LakePathNotFoundError, TriggerNotFoundError, TriggerValidationError, choices_hint
from lakeml.pipeline.triggers.definition import Trigger, parse_trigger
from lakeml.pipeline.triggers.state import trigger_root
from lakeml.storage.lakefs import LakeStorage

TRIGGERS_ROOT = "_lakeml/triggers"


def definition_path(name: str) -> str:
    """The lake path of a stored trigger."""
    return f"{TRIGGERS_ROOT}/{name}.json"


class TriggerStore:
    """The triggers of one lake."""

    def __init__(self, storage: LakeStorage) -> None:
        self.storage = storage

    def names(self) -> list[str]:
        """Names of the stored triggers, sorted."""
        return sorted(n[:-5] for n in self.storage.list(TRIGGERS_ROOT) if n.endswith(".json"))

    def get(self, name: str) -> Trigger:
        """A stored trigger.

        Raises:
            TriggerNotFoundError: no such trigger (the hint lists the closest names).
            TriggerValidationError: the stored file was edited into something invalid.
        """
        try:
            raw = self.storage.read_bytes(definition_path(name))
        except LakePathNotFoundError:
            raise TriggerNotFoundError(f"No trigger named {name!r} in this lake.",
                                       hint=choices_hint(name, self.names(), kind="trigger")) from None
        try:
            document = json.loads(raw)
        except ValueError as exc:
            raise TriggerValidationError(f"The stored trigger {definition_path(name)!r} is not valid JSON ({exc}).",
                                         issues=[("$", str(exc))],
                                         hint="Store it again with [[lake.triggers.create(...)|lakeml pipeline "
                                              "trigger create FILE]].") from None
        return parse_trigger(document, name=name)

    def all(self) -> list[Trigger]:
        """Every stored trigger that reads; broken ones are skipped (``lakeml pipeline trigger list`` names them)."""
        out = []
        for name in self.names():
            try:
                out.append(self.get(name))
            except (TriggerValidationError, TriggerNotFoundError):
                continue
        return out

    def create(self, source: str | Path | Mapping[str, Any], *, replace: bool = False,
               check_pipelines: bool = True) -> Trigger:
        """Validate and store a trigger.

        Args:
            source: the definition (a dict, or a JSON/YAML file path or text).
            replace: replace a stored trigger of the same name (its fire state is kept).
            check_pipelines: refuse a trigger whose pipelines are not stored in the lake.

        Raises:
            TriggerValidationError: the definition has problems (every one listed).
            ConfigError: the trigger exists and ``replace`` is off, or a pipeline is missing.
        """
        trigger = parse_trigger(source)
        path = definition_path(trigger.name)
        if check_pipelines:
            from lakeml.pipeline import store as pipeline_store

            stored = set(pipeline_store.names(self.storage))
            missing = [ref.name for ref in trigger.pipelines if ref.name not in stored]
            if missing:
                raise ConfigError(f"Trigger {trigger.name!r} starts pipeline(s) not stored in this lake: "
                                  f"{', '.join(missing)}.",
                                  hint="Store the pipeline first ([[lake.pipelines.create(...)|lakeml pipeline "
                                       "create FILE]]).")
        data = json.dumps(trigger.document, indent=1, default=str).encode()
        if replace:
            self.storage.write_bytes(path, data)
        elif not self.storage.write_bytes(path, data, overwrite=False):
            raise ConfigError(f"A trigger named {trigger.name!r} already exists.",
                              hint="Replace it with [[replace=True|--replace]], or choose another name.")
        return trigger

    def delete(self, name: str) -> None:
        """Remove a trigger and its fire state.

        Raises:
            TriggerNotFoundError: no such trigger.
        """
        if not self.storage.exists(definition_path(name)):
            raise TriggerNotFoundError(f"No trigger named {name!r} in this lake.",
                                       hint=choices_hint(name, self.names(), kind="trigger"))
        self.storage.delete(definition_path(name))
        self.storage.delete(trigger_root(name), recursive=True)
