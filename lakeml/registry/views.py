"""The built-in read-only ``models`` SQL view of the registry (with the ONNX bytes)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from lakeml.registry.context import ModelsContext


def models_frame(lake: ModelsContext) -> pl.LazyFrame:
    """name, version, aliases, created, description, sha256, model (binary ONNX bytes)."""
    reg = lake.models
    listing = reg.list().select("name", "version", "aliases", "created", "description", "sha256")
    blobs = [reg.get(f"{n}:{v}").onnx_bytes() for n, v in zip(listing["name"], listing["version"], strict=True)]
    return listing.with_columns(pl.Series("model", blobs, dtype=pl.Binary)).lazy()


def views(lake: ModelsContext) -> dict[str, Callable[[], pl.LazyFrame]]:
    """Views for the SQL engine: ``{"models": <builds the LazyFrame on use>}``."""
    return {"models": lambda: models_frame(lake)}
