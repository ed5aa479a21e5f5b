"""What the layers above the registry need from a lake: its tables and its model registry."""

from __future__ import annotations

from typing import Protocol

import polars as pl

from lakeml.context import FrameT, LakeContext
from lakeml.registry.registry import ModelRegistry

__all__ = ["EngineModelsContext", "ModelsContext", "RegistryContext"]


class RegistryContext(Protocol):
    """Only a lake's model registry (resolving model references, reading manifests)."""

    @property
    def models(self) -> ModelRegistry:
        """The lake's model registry."""
        ...


class EngineModelsContext(LakeContext[FrameT], RegistryContext, Protocol[FrameT]):
    """A lake's tables and SQL with frames of the engine's type ``FrameT``, plus its model registry.

    What code generic over the engine takes (scoring and PREDICT through ``map_batches``).
    """


class ModelsContext(EngineModelsContext[pl.LazyFrame], Protocol):
    """A lake's tables and SQL (:class:`~lakeml.context.LakeContext`) plus its model registry."""
