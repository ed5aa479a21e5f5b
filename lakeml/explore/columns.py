"""Column kinds and the per-kind aggregation expressions of the first profiling pass."""

from __future__ import annotations

import datetime as dt
from typing import Literal

import polars as pl

ColumnKind = Literal["numeric", "boolean", "text", "datetime", "other"]

QUANTILES: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
QUANTILE_NAMES: tuple[str, ...] = ("p5", "p25", "median", "p75", "p95")

_TEXT_TYPES = (pl.String, pl.Categorical, pl.Enum)
_TEMPORAL_TYPES = (pl.Date, pl.Datetime, pl.Duration, pl.Time)


def column_kind(dtype: pl.DataType) -> ColumnKind:
    """Classify a Polars dtype into the kind of statistics lakeml computes for it."""
    if dtype == pl.Boolean:
        return "boolean"
    if dtype.is_numeric():
        return "numeric"
    if isinstance(dtype, _TEXT_TYPES) or dtype == pl.String:
        return "text"
    if isinstance(dtype, _TEMPORAL_TYPES) or dtype in (pl.Date, pl.Time):
        return "datetime"
    return "other"


def alias(index: int, stat: str) -> str:
    """Collision-free output name for statistic ``stat`` of column number ``index``.

    Column names can be anything (unicode, spaces, names equal to statistic names), so the
    expressions of one wide ``select`` are keyed by position instead.
    """
    return f"{index}\x1f{stat}"


def numeric_input(name: str, dtype: pl.DataType) -> pl.Expr:
    """The column as the values its numeric statistics are computed on (finite values only)."""
    expr = pl.col(name)
    if dtype.is_float():
        # NaN and +-inf are counted separately (alerts) and kept out of min/max/moments/bins.
        return pl.when(expr.is_finite()).then(expr)
    if dtype.is_decimal():
        return expr.cast(pl.Float64)
    return expr


def physical(name: str, dtype: pl.DataType) -> pl.Expr:
    """A numeric view of the column used for histogram binning (temporal types by their integer)."""
    if column_kind(dtype) == "datetime":
        return pl.col(name).to_physical().cast(pl.Float64)
    return numeric_input(name, dtype).cast(pl.Float64)


def first_pass_exprs(index: int, name: str, dtype: pl.DataType) -> list[pl.Expr]:
    """Aggregations of the single wide first pass for one column."""
    kind = column_kind(dtype)
    col = pl.col(name)
    exprs = [col.null_count().cast(pl.Int64).alias(alias(index, "nulls"))]
    if kind != "other":
        exprs.append(col.drop_nulls().approx_n_unique().cast(pl.Int64).alias(alias(index, "approx_distinct")))
    if kind == "numeric":
        x = numeric_input(name, dtype)
        exprs += [
            x.min().cast(pl.Float64).alias(alias(index, "min")),
            x.max().cast(pl.Float64).alias(alias(index, "max")),
            x.mean().alias(alias(index, "mean")),
            x.std().alias(alias(index, "std")),
            x.skew().alias(alias(index, "skew")),
            (x == 0).sum().cast(pl.Int64).alias(alias(index, "zeros")),
            (x < 0).sum().cast(pl.Int64).alias(alias(index, "negatives")),
        ]
        if dtype.is_float():
            exprs += [
                col.is_nan().sum().cast(pl.Int64).alias(alias(index, "nan")),
                col.is_infinite().sum().cast(pl.Int64).alias(alias(index, "infinite")),
            ]
    elif kind == "boolean":
        exprs.append(col.sum().cast(pl.Int64).alias(alias(index, "true")))
    elif kind == "text":
        text = col.cast(pl.String)
        chars = text.str.len_chars()
        exprs += [
            chars.min().cast(pl.Float64).alias(alias(index, "len_min")),
            chars.mean().alias(alias(index, "len_mean")),
            chars.max().cast(pl.Float64).alias(alias(index, "len_max")),
            (chars == 0).sum().cast(pl.Int64).alias(alias(index, "empty")),
            text.str.len_bytes().cast(pl.UInt64).sum().cast(pl.Int64).alias(alias(index, "bytes")),
            text.min().alias(alias(index, "text_min")),
            text.max().alias(alias(index, "text_max")),
        ]
    elif kind == "datetime":
        phys = col.to_physical()
        exprs += [
            col.min().alias(alias(index, "tmin")),  # formatted in Python: Duration has no cast to String
            col.max().alias(alias(index, "tmax")),
            phys.min().cast(pl.Float64).alias(alias(index, "min")),
            phys.max().cast(pl.Float64).alias(alias(index, "max")),
        ]
    return exprs


_WIDTHS: dict[type[pl.DataType], int] = {
    pl.Int8: 1, pl.UInt8: 1, pl.Int16: 2, pl.UInt16: 2, pl.Int32: 4, pl.UInt32: 4, pl.Float32: 4,
    pl.Date: 4, pl.Int64: 8, pl.UInt64: 8, pl.Float64: 8, pl.Datetime: 8, pl.Duration: 8, pl.Time: 8,
    pl.Int128: 16, pl.Decimal: 16, pl.Boolean: 1, pl.Categorical: 4, pl.Enum: 4,
}


def quantile_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """The quantiles of one column as a list (it holds the column in memory: run few at a time)."""
    return numeric_input(name, dtype).cast(pl.Float64).quantile(list(QUANTILES), "linear").alias("q")


def fixed_width_bytes(dtype: pl.DataType) -> int:
    """Approximate bytes per value of a column in Arrow memory (strings/nested: the 8-byte offset)."""
    return _WIDTHS.get(dtype.base_type(), 8)


_PER_SECOND = {"ns": 1e9, "us": 1e6, "ms": 1e3}


def format_physical(value: float, dtype: pl.DataType, width: float | None = None) -> str:
    """Human label of a bin edge: temporal edges back in their own type, at a resolution that
    suits the bin ``width`` (physical units), so 20 bins over a year read as dates."""
    if column_kind(dtype) != "datetime":
        if dtype.is_integer() and float(value).is_integer():
            return str(int(value))
        return f"{value:.4g}"
    if dtype == pl.Date:
        return str(pl.Series([round(value)], dtype=pl.Int32).cast(pl.Date).to_list()[0])
    unit = getattr(dtype, "time_unit", None) or "ns"
    seconds = None if width is None else width / _PER_SECOND[unit]
    converted = pl.Series([round(value)], dtype=pl.Int64).cast(dtype).to_list()[0]
    if dtype == pl.Time or isinstance(dtype, pl.Datetime):
        fmt = "%H:%M:%S" if dtype == pl.Time else "%Y-%m-%d %H:%M:%S"
        if seconds is not None and seconds >= 60:
            fmt = fmt.replace(":%S", "")
        if seconds is not None and seconds >= 86400 and isinstance(dtype, pl.Datetime):
            fmt = "%Y-%m-%d"
        return converted.strftime(fmt) if seconds is not None else str(converted)
    if seconds is not None and seconds >= 1:
        return str(dt.timedelta(seconds=round(converted.total_seconds())))
    return str(converted)
