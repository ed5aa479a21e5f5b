"""The built-in read-only ``models`` SQL view of the registry (with the ONNX bytes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl


def models_frame(lake: Any) -> pl.LazyFrame:
    """name, version, aliases, created, description, sha256, model (binary ONNX bytes)."""
    from lakeml.registry.registry import ModelRegistry

    reg = ModelRegistry(lake)
    listing = reg.list().select("name", "version", "aliases", "created", "description", "sha256")
    blobs = [reg.get(f"{n}:{v}").onnx_bytes() for n, v in zip(listing["name"], listing["version"], strict=True)]
    return listing.with_columns(pl.Series("model", blobs, dtype=pl.Binary)).lazy()


def views(lake: Any) -> dict[str, Callable[[], pl.LazyFrame]]:
    """Views for the SQL engine: ``{"models": <builds the LazyFrame on use>}``."""
    return {"models": lambda: models_frame(lake)}
