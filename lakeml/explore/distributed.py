"""Profiles and charts of a frame of a distributed engine (Spark): aggregated by the engine, drawn here.

The statistics, bins, top values and target cross-tables are the Polars profiler's
(:mod:`lakeml.explore.engine`), computed by Spark's aggregations (:mod:`lakeml.engines.spark.explore`)
and assembled by the same builders, so one :class:`~lakeml.explore.profile.ProfileData` renders the
same report. Pass 1 is one aggregation of every per-column statistic; pass 2 is one grouped job per
histogram and per exact distinct count (with the top values), plus one job for every quantile and
correlation. Only aggregates reach this process.

What differs from Polars, by design: quantiles come from ``percentile_approx`` (a value of the
column whose rank is within ``rows / 10,000`` of the exact rank; Polars interpolates exactly up to
50M rows), and ``sample=`` draws Spark's seeded Bernoulli sample (other rows than Polars' sample).
Durations and times of day are profiled as "other" (nulls only): Spark has no physical value for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from lakeml.engines.base import Engine

from lakeml.errors import ColumnNotFoundError, UnsupportedOperationError, choices_hint
from lakeml.explore.columns import QUANTILE_NAMES, QUANTILES, column_kind
from lakeml.explore.engine import (
    _HIST_SCHEMA,
    _KEY,
    _ROWS,
    _TOP_SCHEMA,
    ProfileData,
    ProfileOptions,
    _clean,
    _Col,
    _columns_frame,
    _corr_frame,
    _histogram_rows,
    _overview,
    _prepare_columns,
    _top_rows,
    _value_strings,
)
from lakeml.explore.target import TargetPlan, plan_target, target_frames

__all__ = ["compute_profile", "frame_schema", "spark_module"]


def spark_module(engine: Engine[Any]) -> Any:
    """The Spark aggregations module for ``engine``.

    Raises:
        UnsupportedOperationError: the engine is neither Polars nor Spark.
    """
    if getattr(engine, "name", None) != "spark":
        raise UnsupportedOperationError(f"Profiles and charts are not supported on the {engine.name} engine.",
                                        hint="Use backend='polars' or backend='spark'.")
    from lakeml.engines.spark import explore

    return explore


def frame_schema(engine: Engine[Any], frame: Any) -> pl.Schema:
    """The frame's columns in Polars types (through the one Arrow mapping of the engine)."""
    return pl.DataFrame(engine.schema(frame).empty_table()).schema


def _kind(sx: Any, frame: Any, name: str, dtype: pl.DataType) -> str:
    kind = column_kind(dtype)
    if kind == "datetime" and not sx.temporal(frame, name):
        return "other"  # durations, times of day: no physical value on Spark (Capabilities.profile_durations)
    return kind


def _target_spec(sx: Any, plan: TargetPlan | None) -> Any:
    if plan is None:
        return None
    return sx.TargetSpec(plan.name, plan.task == "regression", tuple(plan.classes))


_RENAMES = {"key": _KEY, "t_n": "\x1ft_n", "t_sum": "\x1ft_sum", "t_ss": "\x1ft_ss"}


def _polars(table: Any) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame.rename({c: _RENAMES.get(c, "\x1f" + c if c.startswith("t_") else c) for c in frame.columns})


_SLOT_COLUMNS = ("slot", "k_int", "k_dbl", "k_str", "rank")


def _typed_key(part: pl.DataFrame, dtype: pl.DataType) -> pl.Series:
    """The values of a top-values slot back in the column's own type (Spark sent them as integer,
    double or text key fields)."""
    for field in ("k_int", "k_dbl", "k_str"):
        values = part[field] if part.height else pl.Series(field, [], pl.Int64)
        if part.height and values.null_count() == part.height:
            continue
        if dtype == pl.Date:
            return values.cast(pl.Int32).cast(pl.Date)
        if isinstance(dtype, pl.Datetime):
            return values.cast(pl.Int64).cast(dtype)
        return values.cast(dtype)
    return pl.Series(_KEY, [], dtype)


def compute_profile(engine: Engine[Any], frame: Any, *, target: str | None = None,
                    options: ProfileOptions | None = None,
                    on_stage: Callable[[str], None] | None = None) -> ProfileData:
    """Profile a Spark DataFrame with Spark aggregations; the result is the Polars profiler's.

    Raises:
        ColumnNotFoundError: ``target`` is not a column.
        ConfigError: the target has a type that cannot be a learning target.
    """
    sx = spark_module(engine)
    opts = options or ProfileOptions()
    schema = frame_schema(engine, frame)
    if target is not None and target not in schema:
        raise ColumnNotFoundError(f"Target column '{target}' is not in the data.",
                                  hint=choices_hint(target, schema.names(), kind="column"))
    stage = on_stage or (lambda _msg: None)
    stage(f"pass 1/2: statistics of {len(schema)} columns")
    specs = [sx.ColumnSpec(i, name, _kind(sx, frame, name, dtype)) for i, (name, dtype) in enumerate(schema.items())]
    row = sx.first_pass(frame, specs, rows_key=_ROWS)
    rows = int(row[_ROWS])
    per_column: dict[int, dict[str, Any]] = {}
    for key, value in row.items():
        index, sep, stat = key.partition("\x1f")
        if sep and index:
            per_column.setdefault(int(index), {})[stat] = _clean(value)
    cols = [_Col(s.index, s.name, schema[s.name], s.kind, per_column.get(s.index, {})) for s in specs]
    by_name = {c.name: c for c in cols}

    plan: TargetPlan | None = None
    if target is not None:
        def class_counts() -> pl.DataFrame:
            counts = _polars(sx.value_counts(frame, target, keep=2**31 - 1))
            return counts.select(pl.col(_KEY).alias("value"), pl.col("n").alias("count"))

        plan = plan_target(None, by_name[target], rows=rows, max_classes=opts.max_target_classes,
                           value_counts=class_counts)

    _prepare_columns(cols, rows, opts)

    stage(f"pass 2/2: histograms, top values, quantiles of {len(cols)} columns")
    spec = _target_spec(sx, plan)
    hist_rows: dict[str, list[Any]] = {k: [] for k in _HIST_SCHEMA}
    top_rows: dict[str, list[Any]] = {k: [] for k in _TOP_SCHEMA}
    grouped: list[tuple[_Col, str, pl.DataFrame]] = []
    slots: list[tuple[Any, _Col]] = []
    for col in cols:
        if col.bin_edges is not None:
            edges = col.bin_edges
            n = len(edges) - 1
            slots.append((sx.GroupSlot(len(slots), col.name, True, low=edges[0], width=(edges[-1] - edges[0]) / n,
                                       bins=n), col))
        if col.exact:
            keep = opts.top_k if plan is None or col.name == target else max(opts.top_k, opts.target_groups)
            slots.append((sx.GroupSlot(len(slots), col.name, False, keep=keep), col))
    counts = _polars(sx.grouped_counts(frame, [s for s, _ in slots], spec)) if slots else None
    for slot, col in slots:
        part = counts.filter(pl.col("slot") == slot.slot) if counts is not None else pl.DataFrame()
        if slot.bins_of:
            found = part.sort("k_int").select(pl.col("k_int").cast(pl.Int32).alias(_KEY), pl.exclude(_SLOT_COLUMNS))
            _histogram_rows(col, found, hist_rows)
            if plan is not None:
                grouped.append((col, "bins", found))
        else:
            found = part.sort("rank").select(_typed_key(part.sort("rank"), col.dtype).alias(_KEY),
                                             pl.exclude(_SLOT_COLUMNS))
            col.stats["distinct"] = int(found["distinct"][0]) if found.height else 0
            _top_rows(col, found.head(opts.top_k), rows, top_rows)
            if plan is not None:
                grouped.append((col, "values", found))

    corr_cols = [c for c in cols if c.kind == "numeric" and (c.stats.get("std") or 0) > 0]
    matrix_cols = corr_cols[: opts.max_corr_columns]
    pairs = [(a, b) for i, a in enumerate(matrix_cols) for b in matrix_cols[i + 1:]]
    if plan is not None and plan.task == "regression":
        in_matrix = {c.name for c in matrix_cols}
        target_col = by_name[plan.name]
        pairs += [(c, target_col) for c in corr_cols
                  if c.name != plan.name and not (c.name in in_matrix and plan.name in in_matrix)]
    numeric = [c for c in cols if c.kind == "numeric" and c.stats["count"] > 0]
    found, correlations = sx.quantiles_and_correlations(frame, [c.name for c in numeric], QUANTILES,
                                                         [(a.name, b.name) for a, b in pairs])
    corr_values: dict[tuple[int, int], float | None] = {}
    for (a, b), value in zip(pairs, correlations, strict=True):
        corr_values[(min(a.index, b.index), max(a.index, b.index))] = _clean(value)
    for col in numeric:
        values = found.get(col.name)
        if values is not None:
            col.stats.update({k: _clean(float(v)) for k, v in zip(QUANTILE_NAMES, values, strict=True)})

    stage("duplicate rows")
    data = ProfileData(
        overview=_overview(rows, _unique_rows(sx, frame, cols, rows), cols, schema),
        columns=_columns_frame(cols, rows),
        histograms=pl.DataFrame(hist_rows, schema=_HIST_SCHEMA),
        top_values=pl.DataFrame(top_rows, schema=_TOP_SCHEMA),
        correlations=_corr_frame(matrix_cols, corr_values),
    )
    if numeric:
        data.notes.append(f"Quantiles are Spark's approximations (percentile_approx: rank error at most "
                          f"{1 / sx.QUANTILE_ACCURACY:.2%} of the rows).")
    if len(corr_cols) > len(matrix_cols):
        data.notes.append(f"Correlations cover the first {len(matrix_cols)} of {len(corr_cols)} "
                          "non-constant numeric columns.")
    if plan is not None:
        labels = {c.name: _value_strings(f[_KEY]) for c, how, f in grouped if how == "values"}
        data.target, data.target_distribution, data.target_relations, data.target_by_feature = (
            target_frames(plan, grouped, labels, corr_values, by_name, data.histograms))
    return data


def _unique_rows(sx: Any, frame: Any, cols: list[_Col], rows: int) -> int:
    """Distinct rows: a null-free column with a distinct value per row settles it, else one exact
    ``distinct`` over every column (Spark spills to disk where Polars hashes rows in memory)."""
    if not cols or rows == 0:
        return rows
    candidates = [c for c in cols if c.kind != "other" and not c.stats.get("nulls") and not c.stats.get("nan")
                  and (c.stats.get("approx_distinct") or 0) >= 0.9 * rows]
    if candidates:
        best = max(candidates, key=lambda c: c.stats.get("approx_distinct") or 0)
        distinct = best.stats["distinct"] if best.exact else sx.distinct_count(frame, [best.name])
        if distinct == rows:
            best.exact, best.stats["distinct"] = True, rows
            return rows
    return int(sx.distinct_count(frame, [c.name for c in cols]))
