"""Stored pipelines: ``_lakeml/pipelines/<name>.json`` in the lake, written atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lakeml.errors import LakePathNotFoundError, PipelineNotFoundError, choices_hint
from lakeml.pipeline.definition import Pipeline
from lakeml.storage.lakefs import LakeStorage

PIPELINES_DIR = "_lakeml/pipelines"
SOURCE_KEY = "lakemlSource"  # where the definition came from (for Python scripts relative to it)


def pipeline_path(name: str) -> str:
    """Where pipeline ``name`` is stored."""
    return f"{PIPELINES_DIR}/{name}.json"


def save(storage: LakeStorage, pipeline: Pipeline) -> str:
    """Store (or replace) a validated pipeline; returns its path in the lake."""
    document = {k: v for k, v in pipeline.document.items() if k != SOURCE_KEY}
    if pipeline.base_dir:
        document[SOURCE_KEY] = {"baseDir": pipeline.base_dir}
    path = pipeline_path(pipeline.name)
    storage.write_bytes(path, json.dumps(document, indent=1).encode())
    return path


def names(storage: LakeStorage) -> list[str]:
    """Names of the stored pipelines, sorted."""
    return sorted(n[:-5] for n in storage.list(PIPELINES_DIR) if n.endswith(".json"))


def load_document(storage: LakeStorage, name: str) -> tuple[dict[str, Any], str | None]:
    """A stored definition and the folder it was created from.

    Raises:
        PipelineNotFoundError: no pipeline of that name (with a did-you-mean).
    """
    try:
        raw = json.loads(storage.read_bytes(pipeline_path(name)))
    except LakePathNotFoundError:
        raise PipelineNotFoundError(f"No pipeline {name!r} in this lake.",
                                    hint=choices_hint(name, names(storage), kind="pipeline") + " Store one with "
                                    "[[lake.pipelines.create(file)|lakeml pipeline create FILE]].") from None
    source = raw.pop(SOURCE_KEY, None)
    base = source.get("baseDir") if isinstance(source, Mapping) else None
    return raw, base


def delete(storage: LakeStorage, name: str) -> None:
    """Remove a stored pipeline (its runs stay)."""
    load_document(storage, name)
    storage.delete(pipeline_path(name))
