"""What a layer needs from a lake, as typed Protocols (the session's :class:`~lakeml.session.Lake` has it all).

A layer below the session never takes the ``Lake`` itself: it takes the narrowest of these it
needs, so the session can sit above every layer it drives. Layers above the registry extend
:class:`LakeContext` with what they add (``lakeml.registry.context.ModelsContext`` adds the
registry, ``lakeml.scoring.bound.ScoringContext`` the bound models).

``FrameT`` is the engine's lazy frame type: most layers take ``LakeContext[pl.LazyFrame]``; code that
runs on any engine's frames (PREDICT and scoring through ``map_batches``) is generic in ``FrameT``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from lakeml.engines.base import Engine, FrameT

if TYPE_CHECKING:
    from lakeml.config import LakeConfig
    from lakeml.storage.lakefs import LakeStorage
    from lakeml.storage.transactions import Transaction, WriteResult

__all__ = ["FrameT", "LakeContext", "StorageContext"]


class StorageContext(Protocol):
    """A lake's storage and settings: enough for access checks and reading files."""

    @property
    def storage(self) -> LakeStorage:
        """The lake's own storage (root, credentials)."""
        ...

    @property
    def config(self) -> LakeConfig:
        """The lake's settings."""
        ...

    @property
    def root(self) -> str:
        """The lake root URI (or local path)."""
        ...

    def storage_for(self, uri: str) -> LakeStorage:
        """Storage for any location, with the lake's credentials where they apply."""
        ...


class LakeContext(StorageContext, Protocol[FrameT]):
    """Tables, SQL and writes of a lake, with frames of the engine's type ``FrameT``."""

    @property
    def engine(self) -> Engine[FrameT]:
        """The engine the lake runs on."""
        ...

    def tables(self) -> list[str]:
        """Names of every catalog table, sorted."""
        ...

    def table(self, name: str) -> FrameT:
        """A lazy scan of a catalog table (``TableNotFoundError`` with a did-you-mean otherwise)."""
        ...

    def sql(self, query: str, *, params: Mapping[str, object] | None = None) -> FrameT:
        """Run a LakeSQL query lazily."""
        ...

    def frame(self, data: object) -> FrameT:
        """Resolve a table name, SQL text or user frame into a lazy frame."""
        ...

    def builtin_views(self) -> Mapping[str, Callable[[], FrameT]]:
        """The lake's built-in views (model and run listings) by name, each built on demand."""
        ...

    def write(self, table: str, data: object, *, mode: str = "error", format: str = "parquet",
              partition_by: str | list[str] | None = None, keys: Sequence[str] | str | None = None,
              transaction: Transaction | None = None) -> WriteResult:
        """Write data to a managed table atomically (``mode``: error, append, overwrite or merge by
        ``keys``; ``format``: parquet or delta), optionally with a transaction marker in the same commit."""
        ...

    def last_transaction(self, table: str, app_id: str) -> Transaction | None:
        """The committed transaction marker of ``app_id`` on a managed table, or None."""
        ...

    def drop(self, table: str) -> None:
        """Delete a managed table and its files."""
        ...

    def write_path(self, relpath: str, data: object, *, mode: str = "overwrite") -> int:
        """Write a lakeml Parquet table at a path under the root; returns the committed version."""
        ...

    def read_path(self, relpath: str) -> FrameT:
        """Read a table written with :meth:`write_path`."""
        ...
