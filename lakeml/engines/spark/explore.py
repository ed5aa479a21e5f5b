"""Profile and chart aggregations on Spark: the numbers ``lake.profile`` and ``lake.chart`` need, computed
by Spark's aggregations and returned as plain values or small Arrow tables.

``lakeml.explore.distributed`` decides what to compute (the same statistics, bins and top values as
the Polars profiler) and builds the report's frames; this module only says it in Spark. Statistics
come back under the Polars profiler's names (``nulls``, ``approx_distinct``, ``min`` ... keyed by
column position, see :func:`first_pass`), so both engines feed one report builder.

Numeric statistics skip NaN and infinities (counted apart), as on Polars. Temporal columns are
binned by their physical value in Polars' units: days for dates, microseconds for timestamps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from lakeml.engines.spark.engine import first_line
from lakeml.errors import EngineError, LakeMLError

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

__all__ = ["QUANTILE_ACCURACY", "ColumnSpec", "GroupSlot", "TargetSpec", "bin_counts", "count_by", "count_rows",
           "distinct_count", "first_pass", "first_rows", "grouped_counts", "quantiles_and_correlations",
           "sample_fraction", "value_counts", "value_range"]

#: ``percentile_approx`` accuracy: a quantile's rank is within ``rows / QUANTILE_ACCURACY`` of the exact rank.
QUANTILE_ACCURACY = 10_000
_SEP = "\x1f"


@dataclass(frozen=True)
class ColumnSpec:
    """One column to profile: its position (the key of its statistics), name and lakeml column kind."""

    index: int
    name: str
    kind: str


@dataclass(frozen=True)
class TargetSpec:
    """The target's per-group aggregations: for regression its count, sum and sum of squares
    (``t_n``, ``t_sum``, ``t_ss``); for classification its count and the rows of each class (``t_0``...)."""

    name: str
    regression: bool
    classes: Sequence[Any] = field(default_factory=tuple)


def _arrow(frame: DataFrame) -> pa.Table:
    """Run ``frame``; a Spark failure becomes an :class:`EngineError` with Spark's first line."""
    try:
        return frame.toArrow()
    except LakeMLError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("pyspark", "py4j")):
            raise EngineError(f"Spark failed while aggregating: {first_line(exc)}",
                              hint="Check that the table or query reads correctly, e.g. with "
                                   "[[lake.sql(query).limit(5).toArrow()|lakeml sql 'QUERY LIMIT 5']].") from exc
        raise


def _row(frame: DataFrame) -> dict[str, Any]:
    table = _arrow(frame)
    return {name: table.column(name)[0].as_py() for name in table.column_names}


def _c(name: str) -> Any:
    """A column by its exact name (dots and spaces are part of the name, not a path)."""
    from pyspark.sql import functions as F

    return F.col("`" + name.replace("`", "``") + "`")


def _type(frame: DataFrame, name: str) -> Any:
    return frame.schema[name].dataType


def numeric_input(frame: DataFrame, name: str) -> Any:
    """The column as its numeric statistics see it: doubles, NaN and infinities as null."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DecimalType, DoubleType, FloatType

    col, dtype = _c(name), _type(frame, name)
    if isinstance(dtype, (DoubleType, FloatType)):
        x = col.cast("double")
        return F.when(~F.isnan(x) & (F.abs(x) != F.lit(float("inf"))), x)
    if isinstance(dtype, DecimalType):
        return col.cast("double")
    return col.cast("double")


def physical(frame: DataFrame, name: str) -> Any:
    """The column as the doubles it is binned by (dates: days since 1970; timestamps: microseconds)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    dtype = _type(frame, name)
    col = _c(name)
    if isinstance(dtype, DateType):
        return F.unix_date(col).cast("double")
    if isinstance(dtype, TimestampType):
        return F.unix_micros(col).cast("double")
    if isinstance(dtype, TimestampNTZType):
        # the wall-clock time read as UTC, like Polars' physical value of a naive datetime
        return F.unix_micros(F.from_utc_timestamp(col.cast("timestamp"), F.current_timezone())).cast("double")
    return numeric_input(frame, name)


def temporal(frame: DataFrame, name: str) -> bool:
    """Whether Spark can bin the column by :func:`physical` as a date or a timestamp."""
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    return isinstance(_type(frame, name), (DateType, TimestampType, TimestampNTZType))


def _count_if(condition: Any) -> Any:
    from pyspark.sql import functions as F

    return F.sum(F.when(condition, F.lit(1)).otherwise(F.lit(0))).cast("long")


def first_pass(frame: DataFrame, columns: Sequence[ColumnSpec], *, rows_key: str) -> dict[str, Any]:
    """Every per-column statistic of pass 1 in one Spark aggregation, keyed ``"<index>\\x1f<stat>"``,
    plus the row count under ``rows_key`` (values as Arrow gives them: temporal minima stay typed)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    aggs: list[Any] = [F.count(F.lit(1)).cast("long").alias(rows_key)]
    for spec in columns:
        col = _c(spec.name)

        def name(stat: str, spec: ColumnSpec = spec) -> str:
            return f"{spec.index}{_SEP}{stat}"

        aggs.append(_count_if(col.isNull()).alias(name("nulls")))
        if spec.kind != "other":
            aggs.append(F.approx_count_distinct(col).cast("long").alias(name("approx_distinct")))
        if spec.kind == "numeric":
            x = numeric_input(frame, spec.name)
            aggs += [F.min(x).alias(name("min")), F.max(x).alias(name("max")), F.avg(x).alias(name("mean")),
                     F.stddev_samp(x).alias(name("std")), F.skewness(x).alias(name("skew")),
                     _count_if(x == 0).alias(name("zeros")), _count_if(x < 0).alias(name("negatives"))]
            if isinstance(_type(frame, spec.name), (DoubleType, FloatType)):
                raw = col.cast("double")
                aggs += [_count_if(F.isnan(raw)).alias(name("nan")),
                         _count_if(F.abs(raw) == F.lit(float("inf"))).alias(name("infinite"))]
        elif spec.kind == "boolean":
            aggs.append(_count_if(col).alias(name("true")))
        elif spec.kind == "text":
            text = col.cast("string")
            chars = F.char_length(text)
            aggs += [F.min(chars).cast("double").alias(name("len_min")), F.avg(chars).alias(name("len_mean")),
                     F.max(chars).cast("double").alias(name("len_max")), _count_if(chars == 0).alias(name("empty")),
                     F.coalesce(F.sum(F.octet_length(text)), F.lit(0)).cast("long").alias(name("bytes")),
                     F.min(text).alias(name("text_min")), F.max(text).alias(name("text_max"))]
        elif spec.kind == "datetime":
            phys = physical(frame, spec.name)
            aggs += [F.min(col).alias(name("tmin")), F.max(col).alias(name("tmax")),
                     F.min(phys).alias(name("min")), F.max(phys).alias(name("max"))]
    return _row(frame.agg(*aggs))


def _target_aggs(frame: DataFrame, target: TargetSpec | None) -> list[Any]:
    from pyspark.sql import functions as F

    if target is None:
        return []
    if target.regression:
        t = numeric_input(frame, target.name)
        return [F.count(t).cast("long").alias("t_n"), F.sum(t).alias("t_sum"), F.sum(t * t).alias("t_ss")]
    col = _c(target.name)
    return [F.count(col).cast("long").alias("t_n")] + [
        _count_if(col == F.lit(value)).alias(f"t_{j}") for j, value in enumerate(target.classes)]


@dataclass(frozen=True)
class GroupSlot:
    """One grouped count of :func:`grouped_counts`: a column's histogram bins (``low``, ``width``,
    ``bins`` over its :func:`physical` values) or its ``keep`` most frequent values."""

    slot: int
    name: str
    bins_of: bool
    keep: int = 0
    low: float = 0.0
    width: float = 1.0
    bins: int = 1


def _value_key(frame: DataFrame, name: str) -> tuple[Any, Any, Any]:
    """A value as (integer, double, text) key fields, one of them set: integers, booleans, dates and
    timestamps as their integer (days, microseconds), floats as doubles, the rest as text."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType, DoubleType, FloatType, IntegralType

    dtype, col = _type(frame, name), _c(name)
    none = F.lit(None)
    if isinstance(dtype, (IntegralType, BooleanType)):
        return col.cast("long"), none.cast("double"), none.cast("string")
    if temporal(frame, name):
        return physical(frame, name).cast("long"), none.cast("double"), none.cast("string")
    if isinstance(dtype, (DoubleType, FloatType)):
        return none.cast("long"), col.cast("double"), none.cast("string")
    return none.cast("long"), none.cast("double"), col.cast("string")


def grouped_counts(frame: DataFrame, slots: Sequence[GroupSlot], target: TargetSpec | None = None) -> pa.Table:
    """Every histogram and top-value count of pass 2 in one Spark job.

    Slots are numbered 0, 1, ... Each row becomes one record per slot (``explode``; Spark combines
    them per partition before the shuffle, so what moves is a count per group), grouped by slot and
    key. Returns ``slot``, the key (``k_int``: a bin number or an integer value; ``k_dbl``; ``k_str``),
    ``n``, the target's aggregations and, per slot, ``distinct`` (its number of non-null groups); a values
    slot keeps its ``keep`` largest groups, ties by value. Null values and values outside every bin are left out.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not slots:
        return pa.table({})
    records = []
    for slot in slots:
        if slot.bins_of:
            x = physical(frame, slot.name)
            index = F.floor((x - F.lit(slot.low)) / F.lit(slot.width))
            # greatest/least skip nulls: a null value must stay out of every bin, not land in bin 0
            key = F.when(x.isNotNull(), F.least(F.greatest(index, F.lit(0)), F.lit(slot.bins - 1))).cast("long")
            fields = (key, F.lit(None).cast("double"), F.lit(None).cast("string"))
        else:
            fields = _value_key(frame, slot.name)
        records.append(F.struct(F.lit(slot.slot).alias("slot"), fields[0].alias("k_int"), fields[1].alias("k_dbl"),
                                fields[2].alias("k_str")))
    keys = ["k_int", "k_dbl", "k_str"]
    carried = [] if target is None else [_c(target.name).alias("target")]
    exploded = (frame.select(F.explode(F.array(*records)).alias("r"), *carried)
                .select("r.slot", *[f"r.{k}" for k in keys], *(["target"] if target is not None else [])))
    exploded = exploded.where(F.col("k_int").isNotNull() | F.col("k_dbl").isNotNull() | F.col("k_str").isNotNull())
    renamed = None if target is None else TargetSpec("target", target.regression, target.classes)
    grouped = exploded.groupBy("slot", *keys).agg(F.count(F.lit(1)).cast("long").alias("n"),
                                                  *_target_aggs(exploded, renamed))
    by_position = sorted(slots, key=lambda s: s.slot)
    keep = F.element_at(F.array(*[F.lit(2**31 - 1 if s.bins_of else s.keep) for s in by_position]), F.col("slot") + 1)
    ranked = Window.partitionBy("slot").orderBy(F.col("n").desc(), *[F.col(k).asc() for k in keys])
    counted = (grouped.withColumn("distinct", F.count(F.lit(1)).over(Window.partitionBy("slot")).cast("long"))
               .withColumn("rank", F.row_number().over(ranked)).where(F.col("rank") <= keep))
    return _arrow(counted)


def value_counts(frame: DataFrame, name: str, *, keep: int) -> pa.Table:
    """The ``keep`` most frequent non-null values of a column (``key``, ``n``; most frequent first, ties by value)."""
    from pyspark.sql import functions as F

    grouped = (frame.where(_c(name).isNotNull()).groupBy(_c(name).alias("key"))
               .agg(F.count(F.lit(1)).cast("long").alias("n")))
    return _arrow(grouped.orderBy(F.col("n").desc(), F.col("key").asc()).limit(int(keep)))


def bin_counts(frame: DataFrame, name: str, *, low: float, width: float, bins: int) -> pa.Table:
    """Rows per histogram bin of the column's :func:`physical` values (``key`` 0 .. bins-1, values outside
    clipped to the end bins; ``n``), for charts."""
    found = _arrow_slots(grouped_counts(frame, [GroupSlot(0, name, True, low=low, width=width, bins=bins)]))
    return pa.table({"key": found.column("k_int"), "n": found.column("n")})


def _arrow_slots(table: pa.Table) -> pa.Table:
    return table if table.num_columns else pa.table({"k_int": pa.array([], pa.int64()), "n": pa.array([], pa.int64())})


def quantiles_and_correlations(frame: DataFrame, names: Sequence[str], probabilities: Sequence[float],
                               pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, list[float] | None],
                                                                          list[float | None]]:
    """In one job: approximate quantiles of numeric columns (``percentile_approx`` with
    :data:`QUANTILE_ACCURACY`) and the Pearson correlations of column pairs (finite values only)."""
    from pyspark.sql import functions as F

    aggs = [F.percentile_approx(numeric_input(frame, n), list(probabilities), QUANTILE_ACCURACY).alias(f"q{i}")
            for i, n in enumerate(names)]
    aggs += [F.corr(numeric_input(frame, a), numeric_input(frame, b)).alias(f"r{i}") for i, (a, b) in enumerate(pairs)]
    if not aggs:
        return {}, []
    row = _row(frame.agg(*aggs))
    return {n: row[f"q{i}"] for i, n in enumerate(names)}, [row[f"r{i}"] for i in range(len(pairs))]


def distinct_count(frame: DataFrame, names: Sequence[str]) -> int:
    """The exact number of distinct rows of ``frame`` over ``names`` (one column: its distinct values)."""
    from pyspark.sql import functions as F

    if len(names) == 1:
        return int(_row(frame.agg(F.count_distinct(_c(names[0])).alias("n")))["n"])
    return int(_row(frame.select(*[_c(n) for n in names]).distinct().agg(F.count(F.lit(1)).alias("n")))["n"])


def count_rows(frame: DataFrame) -> int:
    """The number of rows."""
    from pyspark.sql import functions as F

    return int(_row(frame.agg(F.count(F.lit(1)).alias("n")))["n"])


def sample_fraction(frame: DataFrame, fraction: float, *, seed: int, limit: int | None = None) -> Any:
    """A seeded Bernoulli sample of about ``fraction`` of the rows (at most ``limit``), lazily."""
    out = frame.sample(withReplacement=False, fraction=min(1.0, float(fraction)), seed=int(seed))
    return out.limit(int(limit)) if limit is not None else out


def value_range(frame: DataFrame, name: str) -> tuple[float | None, float | None]:
    """The smallest and largest :func:`physical` value of a column."""
    from pyspark.sql import functions as F

    x = physical(frame, name)
    row = _row(frame.agg(F.min(x).alias("lo"), F.max(x).alias("hi")))
    return row["lo"], row["hi"]


def count_by(frame: DataFrame, name: str, *, limit: int, alias: str) -> pa.Table:
    """Rows per value of a column (nulls included), most rows first, ties by value; at most ``limit`` values."""
    from pyspark.sql import functions as F

    grouped = frame.groupBy(_c(name)).agg(F.count(F.lit(1)).cast("long").alias(alias))
    return _arrow(grouped.orderBy(F.col(alias).desc(), _c(name).asc_nulls_first()).limit(int(limit)))


def first_rows(frame: DataFrame, names: Sequence[str], *, limit: int, sort_by: str | None = None) -> pa.Table:
    """The first ``limit`` rows of ``names`` (sorted by ``sort_by``, nulls last, when given)."""

    out = frame.select(*[_c(n) for n in names])
    if sort_by is not None:
        out = out.orderBy(_c(sort_by).asc_nulls_last())
    return _arrow(out.limit(int(limit)))
