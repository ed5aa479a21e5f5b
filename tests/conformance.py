"""Helpers for tests that run on every engine: results as Polars DataFrames, compared through one type map."""

from __future__ import annotations

from typing import Any

import polars as pl


def collect(frame: Any) -> pl.DataFrame:
    """A result of either engine as a Polars DataFrame (a Spark DataFrame crosses as Arrow)."""
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if isinstance(frame, pl.DataFrame):
        return frame
    data = pl.from_arrow(frame.toArrow())
    assert isinstance(data, pl.DataFrame)
    return data


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
