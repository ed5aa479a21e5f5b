"""The Polars implementation of :class:`lakeml.engines.base.Engine`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.engines.base import BatchFunction, Capabilities, ScanRequest, WriteMode
from lakeml.engines.polars.convert import to_lazy

if TYPE_CHECKING:
    import pyarrow as pa

    from lakeml.storage.lakefs import LakeStorage

__all__ = ["PolarsEngine"]

_CAPABILITIES = Capabilities(lazy=True, streaming_writes=True, delta_writes=True, map_batches=True,
                             sql_functions=True, azure=True, distributed=False)


class PolarsEngine:
    """Polars on this machine: lazy plans, streaming execution, Polars SQL."""

    @property
    def name(self) -> str:
        """``"polars"``."""
        return "polars"

    @property
    def capabilities(self) -> Capabilities:
        """Everything lakeml does, on one machine."""
        return _CAPABILITIES

    @property
    def sql_dialect(self) -> str:
        """Polars SQL."""
        return "polars"

    def __repr__(self) -> str:
        return "PolarsEngine()"

    # -- reading --------------------------------------------------------------------------------
    def scan(self, request: ScanRequest) -> pl.LazyFrame:
        """A lazy Polars scan of ``request`` (``scan_parquet`` / ``scan_csv`` / ``scan_ndjson`` / ``scan_delta``)."""
        options: dict[str, Any] = dict(request.options)
        credentials = request.storage.polars_options()
        if request.format == "delta":
            return pl.scan_delta(request.sources[0], **credentials, **options)
        if not request.sources:
            schema = request.schema
            return pl.LazyFrame(schema=pl.DataFrame(schema.empty_table()).schema if schema is not None else None)
        target: str | list[str] = request.sources[0] if len(request.sources) == 1 else list(request.sources)
        if request.format == "parquet":
            if request.hive_partitioning is not None:
                options["hive_partitioning"] = request.hive_partitioning
            if request.partition_columns and request.schema is not None:
                full = pl.DataFrame(request.schema.empty_table()).schema
                options["hive_schema"] = {c: full[c] for c in request.partition_columns if c in full}
            return pl.scan_parquet(target, **credentials, **options)
        if request.format == "csv":
            return pl.scan_csv(target, **credentials, **options)
        return pl.scan_ndjson(target, **credentials, **options)

    def from_arrow(self, table: pa.Table) -> pl.LazyFrame:
        """``table`` as a LazyFrame."""
        return to_lazy(table)

    def from_data(self, data: object) -> pl.LazyFrame:
        """Polars LazyFrames/DataFrames, pandas DataFrames, Arrow tables/batches/readers as a LazyFrame."""
        return to_lazy(data)

    def is_frame(self, data: object) -> bool:
        """Whether ``data`` is a Polars LazyFrame or DataFrame."""
        return isinstance(data, pl.LazyFrame | pl.DataFrame)

    # -- planning ---------------------------------------------------------------------------------
    def sql(self, query: str, *, frames: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
        """Plan ``query`` (Polars SQL) over ``frames`` and resolve its schema now."""
        context = pl.SQLContext(frames=dict(frames), register_globals=False)
        frame = context.execute(query, eager=False)
        frame.collect_schema()  # resolve now: unknown columns fail at planning time
        return frame

    def schema(self, frame: pl.LazyFrame) -> pa.Schema:
        """The Arrow schema of ``frame`` (no rows read)."""
        return pl.DataFrame(schema=frame.collect_schema()).to_arrow().schema

    def resolve(self, frame: pl.LazyFrame) -> None:
        """``frame.collect_schema()`` (reads the files' footers; importing pyarrow would cost more than that)."""
        frame.collect_schema()

    def limit(self, frame: pl.LazyFrame, n: int) -> pl.LazyFrame:
        """``frame.head(n)``."""
        return frame.head(n)

    def map_batches(self, frame: pl.LazyFrame, function: BatchFunction, *, schema: pa.Schema) -> pl.LazyFrame:
        """Stream ``frame`` through ``function`` one Arrow batch at a time (Polars' streaming engine)."""
        out = pl.DataFrame(schema.empty_table()).schema

        def run(df: pl.DataFrame) -> pl.DataFrame:
            batches = df.to_arrow().to_batches()
            results = [function(batch) for batch in batches]
            if not results:
                return pl.DataFrame(schema=out)
            import pyarrow as pa

            result = pl.from_arrow(pa.Table.from_batches(results, schema=schema))
            return result if isinstance(result, pl.DataFrame) else result.to_frame()

        return frame.map_batches(run, schema=out, streamable=True)

    # -- running ------------------------------------------------------------------------------------
    def collect(self, frame: pl.LazyFrame) -> pa.Table:
        """Run ``frame``; every row as Arrow."""
        return frame.collect().to_arrow()

    def iter_batches(self, frame: pl.LazyFrame, *, batch_size: int) -> Iterator[pa.RecordBatch]:
        """Run ``frame`` with the streaming engine, yielding Arrow batches of at most ``batch_size`` rows."""
        for chunk in frame.collect_batches(chunk_size=batch_size):
            yield from chunk.to_arrow().to_batches(max_chunksize=batch_size)

    def sample(self, frame: pl.LazyFrame, *, n: int, seed: int) -> pa.Table:
        """A seeded uniform sample of at most ``n`` rows."""
        df = frame.collect()
        return (df.sample(n, seed=seed) if df.height > n else df).to_arrow()

    # -- writing --------------------------------------------------------------------------------
    def write_parquet(self, frame: pl.LazyFrame, folder: str, *, storage: LakeStorage,
                      partition_by: Sequence[str] = ()) -> list[tuple[str, int]]:
        """Stream ``frame`` into ``part-00000.parquet`` (or hive partition folders) under ``folder``."""
        options = storage.polars_options()
        uri = storage.uri(folder)
        if partition_by:
            frame.sink_parquet(pl.PartitionBy(uri, key=list(partition_by)), mkdir=True, **options)
        else:
            frame.sink_parquet(f"{uri}/part-00000.parquet", mkdir=True, **options)
        written = []
        for path in storage.list_files(folder):
            rows = pl.scan_parquet(storage.uri(folder, path), hive_partitioning=False, **options).select(pl.len())
            written.append((path, int(rows.collect().item())))
        return written

    def write_delta(self, frame: pl.LazyFrame, uri: str, *, storage: LakeStorage, mode: WriteMode,
                    partition_by: Sequence[str] = (), options: Mapping[str, object] | None = None,
                    snapshot: object | None = None) -> None:
        """``sink_delta`` with the lake's storage options; ``options`` are deltalake write options;
        with ``snapshot`` (a ``DeltaTable``) the commit builds on that version."""
        from deltalake import DeltaTable

        write_options: dict[str, object] = dict(options or {})
        if partition_by:
            write_options["partition_by"] = list(partition_by)
        target: str | DeltaTable = snapshot if isinstance(snapshot, DeltaTable) else uri
        frame.sink_delta(target, mode=mode, storage_options=storage.storage_options or None, credential_provider=None,
                         delta_write_options=write_options)
