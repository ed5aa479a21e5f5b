"""The engine boundary: the few operations the layers above storage need from an execution engine.

Every layer above ``storage`` (catalog, SQL, scoring, training, explore, pipelines) reaches an
engine only through :class:`Engine`; everything engine-specific lives in one package per engine
(``lakeml.engines.polars``, ``lakeml.engines.spark``). Operations take canonical keyword-only
arguments: the callers validate and normalise, the engine only executes.

``FrameT`` is the engine's native lazy frame (a Polars ``LazyFrame``, a Spark ``DataFrame``); it is
what users get back from ``Lake.sql`` and ``Lake.table``. Data crosses the boundary as Arrow.

An operation an engine cannot run raises :class:`~lakeml.errors.UnsupportedOperationError` through
:func:`unsupported`, naming the operation, the engine and the alternative; the matching
:class:`Capabilities` flag is False so callers and the conformance suite can ask first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, NoReturn, Protocol, TypeVar

from lakeml.errors import UnsupportedOperationError

if TYPE_CHECKING:  # pyarrow loads only when data crosses the boundary
    import pyarrow as pa

    from lakeml.storage.lakefs import LakeStorage

__all__ = ["BatchFunction", "Capabilities", "Engine", "FrameT", "ScanFormat", "ScanRequest", "WriteMode",
           "unsupported"]

FrameT = TypeVar("FrameT")
#: File formats an engine scans.
ScanFormat = Literal["parquet", "csv", "ndjson", "delta"]
#: How a write meets an existing table.
WriteMode = Literal["error", "append", "overwrite"]
#: A scoring function: one Arrow record batch in, one out (the output schema is declared up front).
BatchFunction = Callable[["pa.RecordBatch"], "pa.RecordBatch"]


@dataclass(frozen=True)
class Capabilities:
    """What an engine can do. A gap is a False flag here plus :func:`unsupported` in the engine.

    Attributes:
        lazy: frames are lazy plans; nothing runs before ``collect`` / a write.
        streaming_writes: writes stream batches to files without holding the frame in memory.
        delta_writes: ``write_delta`` commits Delta tables.
        map_batches: ``map_batches`` runs a Python function over Arrow batches (scoring, ``lake.predict``).
        sql_functions: models bound with ``lake.models.bind`` are callable inside SQL text.
        azure: scans and writes ``abfss://`` lakes with the lake's credentials.
        merge_writes: ``lake.write(..., mode="merge", keys=...)`` upserts frames of this engine.
        sql_writes: ``lake.sql`` runs statements that write (CREATE TABLE AS, INSERT, DROP, MERGE).
        case_sensitive_columns: a frame may hold columns whose names differ only in case (``X`` and ``x``).
        file_targets: ``lake.score`` writes into a single Parquet file as well as into a lake table.
        batch_progress: ``lake.score``'s ``progress`` callback hears of every batch, not only of the end.
        distributed: work runs on a cluster, not only in this process.
        profile_durations: ``lake.profile`` bins durations and times of day (else they are profiled
            as "other": nulls only).
    """

    lazy: bool = True
    streaming_writes: bool = True
    delta_writes: bool = True
    map_batches: bool = True
    sql_functions: bool = True
    azure: bool = True
    merge_writes: bool = True
    sql_writes: bool = True
    case_sensitive_columns: bool = True
    file_targets: bool = True
    batch_progress: bool = True
    distributed: bool = False
    profile_durations: bool = True


@dataclass(frozen=True)
class ScanRequest:
    """One scan in canonical form; built in one place only (:mod:`lakeml.query.scans`).

    Attributes:
        sources: what to read: file URIs (a table's committed file list), globs, or folder globs
            (``<folder>/**/*.parquet``); a Delta scan has exactly one table URI.
        format: the file format.
        storage: the storage whose credentials read the sources (never printed).
        options: reader options by their lakeml names (today the Polars reader keywords, e.g.
            ``separator``, ``has_header``, ``n_rows``); an engine refuses one it cannot honour.
        hive_partitioning: read ``key=value`` folders as columns (None: the engine's default).
        partition_columns: for a committed file list, the partition columns, typed as in ``schema``.
        schema_of: returns a committed table's Arrow schema (the frame's schema when ``sources`` is
            empty); called only by an engine that needs it, as decoding it imports pyarrow.
    """

    sources: tuple[str, ...]
    format: ScanFormat
    storage: LakeStorage
    options: Mapping[str, object] = field(default_factory=dict)
    hive_partitioning: bool | None = None
    partition_columns: tuple[str, ...] = ()
    schema_of: Callable[[], pa.Schema | None] | None = field(default=None, repr=False)

    @property
    def schema(self) -> pa.Schema | None:
        """The committed table's Arrow schema (see ``schema_of``), or None."""
        return None if self.schema_of is None else self.schema_of()


class Engine(Protocol[FrameT]):
    """An execution engine over lake files: the only door from lakeml's layers to Polars or Spark."""

    @property
    def name(self) -> str:
        """The engine's name as users pass it: ``"polars"``, ``"spark"``."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What this engine can do (see :class:`Capabilities`)."""
        ...

    @property
    def sql_dialect(self) -> str:
        """The SQL dialect :meth:`sql` reads: ``"polars"`` (Polars SQL) or ``"spark"`` (Spark SQL).

        The SQL layer parses LakeSQL once and writes the query in this dialect.
        """
        ...

    # -- reading --------------------------------------------------------------------------------
    def scan(self, request: ScanRequest) -> FrameT:
        """A lazy frame over the files of ``request``.

        The engine's exception for unreadable files propagates: the caller wraps it once, with the
        location it was asked for (``lakeml.query.formats.read_error``, the SQL layer's errors).
        """
        ...

    def from_arrow(self, table: pa.Table) -> FrameT:
        """A frame holding ``table`` (training results, run records, small lookups)."""
        ...

    def from_data(self, data: object) -> FrameT:
        """A frame from user data: this engine's own frames, pandas DataFrames, Arrow tables/batches/readers.

        Raises:
            ConfigError: ``data`` is not table data this engine accepts.
        """
        ...

    def is_frame(self, data: object) -> bool:
        """Whether ``data`` is one of this engine's frames (lazy or eager)."""
        ...

    # -- planning ---------------------------------------------------------------------------------
    def sql(self, query: str, *, frames: Mapping[str, FrameT]) -> FrameT:
        """Run ``query`` (written in :attr:`sql_dialect`) over ``frames`` by name, lazily.

        The plan resolves now: unknown tables and columns fail here, not when the result is collected.
        The engine's exception propagates; the SQL layer wraps it with the query's context.
        """
        ...

    def schema(self, frame: FrameT) -> pa.Schema:
        """The column names and Arrow types of ``frame``, without reading its rows."""
        ...

    def resolve(self, frame: FrameT) -> None:
        """Resolve ``frame``'s plan now (its sources' metadata, no rows), so that missing or unreadable
        files fail here; the engine's exception propagates. Cheaper than :meth:`schema`: no Arrow.
        """
        ...

    def limit(self, frame: FrameT, n: int) -> FrameT:
        """The first ``n`` rows of ``frame`` (lazily; in the frame's order)."""
        ...

    def map_batches(self, frame: FrameT, function: BatchFunction, *, schema: pa.Schema) -> FrameT:
        """Run ``function`` over ``frame`` one Arrow record batch at a time, lazily (scoring).

        ``schema`` is the schema of every batch ``function`` returns; the engine may call it from
        several threads or worker processes, so ``function`` must not depend on call order.
        """
        ...

    # -- running ------------------------------------------------------------------------------------
    def collect(self, frame: FrameT) -> pa.Table:
        """Run ``frame`` and return every row as Arrow (training data, charts, small results)."""
        ...

    def iter_batches(self, frame: FrameT, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Run ``frame`` and yield its rows in Arrow record batches of at most ``batch_size`` rows.

        Memory stays bounded by the batch size, not by the frame (streaming scoring, profiles).
        """
        ...

    def sample(self, frame: FrameT, *, n: int, seed: int) -> pa.Table:
        """A uniform random sample of at most ``n`` rows of ``frame`` as Arrow; the same seed, the same rows."""
        ...

    # -- writing --------------------------------------------------------------------------------
    def write_parquet(self, frame: FrameT, folder: str, *, storage: LakeStorage,
                      partition_by: Sequence[str] = ()) -> list[tuple[str, int]]:
        """Write ``frame`` as Parquet files under ``folder`` of ``storage`` (a fresh staging token).

        Partitioned writes make hive ``key=value`` sub-folders. Returns each file written, as a path
        relative to ``folder``, with its row count. The files are not part of any table until the
        caller commits their list to the table's log; a failed write leaves only files under
        ``folder``, which the caller removes.
        """
        ...

    def write_delta(self, frame: FrameT, uri: str, *, storage: LakeStorage, mode: WriteMode,
                    partition_by: Sequence[str] = (), options: Mapping[str, object] | None = None,
                    snapshot: object | None = None) -> None:
        """Write ``frame`` to the Delta table at ``uri`` and commit it (Delta's log is the commit).

        ``options`` are ``deltalake`` write options (e.g. ``commit_properties``). ``snapshot``, a
        ``deltalake.DeltaTable`` of ``uri``, makes the commit build on that version, so Delta's
        conflict check covers every commit since (a transactional write checked its marker on it).
        The engine's exception propagates; the table layer turns it into a lakeml error.
        """
        ...


def unsupported(engine: str, operation: str, *, hint: str) -> NoReturn:
    """Raise the error for an operation ``engine`` does not have, with ``hint`` naming the alternative.

    Raises:
        UnsupportedOperationError: always.
    """
    raise UnsupportedOperationError(f"{operation} is not supported on the {engine} engine.", hint=hint)
