"""The Polars engine behind the boundary Protocol: each operation on real frames and files."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest

import lakeml
from lakeml.engines import load_engine
from lakeml.engines.base import Engine, ScanRequest, unsupported
from lakeml.engines.polars import PolarsEngine
from lakeml.errors import ConfigError, UnsupportedOperationError
from lakeml.storage.lakefs import open_storage


@pytest.fixture
def engine() -> Engine[pl.LazyFrame]:
    return load_engine("polars")


def test_load_engine_by_name(engine: Engine[pl.LazyFrame]) -> None:
    assert isinstance(engine, PolarsEngine)
    assert (engine.name, engine.sql_dialect) == ("polars", "polars")
    assert engine.capabilities.map_batches and not engine.capabilities.distributed
    with pytest.raises(ConfigError, match="Unknown backend 'duckdb'"):
        load_engine("duckdb")
    with pytest.raises(ConfigError, match="Unknown backend"):
        lakeml.connect("unused", backend="duckdb")


def test_unsupported_names_the_operation_and_engine() -> None:
    with pytest.raises(UnsupportedOperationError, match="write_delta is not supported on the spark engine") as info:
        unsupported("spark", "write_delta", hint="Write Parquet.")
    assert info.value.hint_source == "Write Parquet."


def test_sql_schema_limit_collect_and_sample(engine: Engine[pl.LazyFrame]) -> None:
    t = engine.from_data(pl.DataFrame({"a": [1, 2, 3, 4], "b": ["w", "x", "y", "z"]}))
    out = engine.sql("SELECT a * 2 AS a2, b FROM t WHERE a > 1", frames={"t": t})
    assert engine.schema(out) == pa.schema([("a2", pa.int64()), ("b", pa.large_string())])
    assert engine.collect(engine.limit(out, 2)).to_pydict() == {"a2": [4, 6], "b": ["x", "y"]}
    first = engine.sample(t, n=2, seed=7)
    assert first.num_rows == 2 and first.equals(engine.sample(t, n=2, seed=7))
    assert engine.sample(t, n=10, seed=7).num_rows == 4
    with pytest.raises(pl.exceptions.ColumnNotFoundError):  # resolved at planning time, not at collect
        engine.sql("SELECT nope FROM t", frames={"t": t})


def test_map_batches_and_iter_batches(engine: Engine[pl.LazyFrame]) -> None:
    t = engine.from_arrow(pa.table({"x": list(range(10))}))
    schema = pa.schema([("y", pa.int64())])

    def double(batch: pa.RecordBatch) -> pa.RecordBatch:
        return pa.RecordBatch.from_arrays([pa.compute.multiply(batch.column("x"), 2)], schema=schema)

    mapped = engine.map_batches(t, double, schema=schema)
    assert engine.collect(mapped).column("y").to_pylist() == [2 * i for i in range(10)]
    batches = list(engine.iter_batches(t, batch_size=4))
    assert all(b.num_rows <= 4 for b in batches) and sum(b.num_rows for b in batches) == 10


def test_write_parquet_returns_files_with_row_counts(engine: Engine[pl.LazyFrame], tmp_path: Path) -> None:
    storage = open_storage(tmp_path)
    frame = engine.from_data(pl.DataFrame({"k": ["a", "b", "a"], "v": [1, 2, 3]}))
    written = engine.write_parquet(frame, "out", storage=storage, partition_by=["k"])
    assert sorted(rows for _, rows in written) == [1, 2]
    assert all(path.startswith("k=") for path, _ in written)
    back = engine.scan(ScanRequest(tuple(storage.uri("out", p) for p, _ in written), "parquet", storage,
                                   hive_partitioning=True))
    assert engine.collect(back).num_rows == 3


def test_from_data_refuses_what_is_not_a_table(engine: Engine[pl.LazyFrame]) -> None:
    with pytest.raises(ConfigError, match="Cannot use a list as table data"):
        engine.from_data([1, 2])
    assert engine.is_frame(pl.DataFrame()) and not engine.is_frame({"a": [1]})


def test_resolve_reads_the_footer_and_fails_on_missing_files(engine: Engine[pl.LazyFrame], tmp_path: Path) -> None:
    storage = open_storage(tmp_path)
    pl.DataFrame({"a": [1]}).write_parquet(tmp_path / "t.parquet")
    engine.resolve(engine.scan(ScanRequest((str(tmp_path / "t.parquet"),), "parquet", storage)))
    with pytest.raises(FileNotFoundError):
        engine.resolve(engine.scan(ScanRequest((str(tmp_path / "gone.parquet"),), "parquet", storage)))
