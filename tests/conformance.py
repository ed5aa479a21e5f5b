"""Helpers for tests that run on every engine: results as Polars DataFrames, compared through one type map."""

from __future__ import annotations

from typing import Any

import polars as pl


def collect(frame: Any) -> pl.DataFrame:
    """A result of either engine as a Polars DataFrame (a Spark DataFrame crosses as Arrow).

    A lakeml error a Spark worker raised comes back as itself, as it does from the engine's own collect.
    """
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pl.DataFrame):
        return frame
    from lakeml.engines.spark.engine import worker_error

    try:
        arrow = frame.toArrow()
    except Exception as exc:
        found = worker_error(exc)
        if found is None:
            raise
        raise found from exc
    data = pl.from_arrow(arrow)
    assert isinstance(data, pl.DataFrame)
    return data


def dtype(frame: Any, column: str) -> pl.DataType:
    """The type of ``column`` in a result of either engine, as both engines give it (see :func:`comparable`)."""
    return comparable(collect(frame).head(0)).schema[column]


def portable(data_type: pl.DataType) -> pl.DataType:
    """``data_type`` as both engines give it (a fixed-size array is a list on Spark, and so on)."""
    return comparable(pl.DataFrame(schema={"c": data_type})).schema["c"]


def comparable(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with each column in the type both engines give it (lakeml.engines.spark.types maps them)."""
    from lakeml.engines.spark.types import comparable as arrow_comparable

    arrow = df.to_arrow()
    data = pl.from_arrow(arrow.cast(arrow_comparable(arrow.schema)))
    assert isinstance(data, pl.DataFrame)
    return data


def same(left: Any, right: Any, *, ordered: bool = True) -> bool:
    """Same rows, column names and (mapped) types; without ``ordered`` the row order does not count."""
    a, b = comparable(collect(left)), comparable(collect(right))
    if not ordered:
        a, b = a.sort(a.columns, nulls_last=True), b.sort(b.columns, nulls_last=True)
    return a.equals(b) and a.schema == b.schema
