"""What the layers above the registry need from a lake: its tables and its model registry."""

from __future__ import annotations

from typing import Protocol

import polars as pl

from lakeml.context import LakeContext
from lakeml.registry.registry import ModelRegistry

__all__ = ["ModelsContext"]


class ModelsContext(LakeContext[pl.LazyFrame], Protocol):
    """A lake's tables and SQL (:class:`~lakeml.context.LakeContext`) plus its model registry."""

    @property
    def models(self) -> ModelRegistry:
        """The lake's model registry."""
        ...
