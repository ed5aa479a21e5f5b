"""The profiling engine: a few wide, streaming Polars passes over a LazyFrame.

Pass 1 is one ``select`` with every streaming per-column aggregate (counts, nulls, approximate
distinct, moments, string lengths, ranges) plus the row count and a row-hash duplicate count.
Pass 2 is a ``collect_all`` of small grouped queries that need pass-1 results: histogram bins
(from min/max), exact distinct counts with top values (only where cheap), correlations and the
target cross-tabulations. With a classification target, one tiny query lists its classes first.
Quantiles need a column's values in memory, so they run a few columns at a time (bounded memory);
above ``exact_quantile_rows`` rows they come from a deterministic row sample of that size.

Memory and time stay bounded whatever the width: after pass 1, pass 2, quantiles and the duplicate
check run per *column group* (at most ``_GROUP_COLUMNS`` columns). In tables wider than one group,
a group whose estimated size fits a quarter of ``memory_budget`` is read once into memory and
queried there (each query then plans over that group's schema only); larger columns, and narrow
tables, are streamed from the source as before. What is quadratic in the width (the correlation
matrix) is capped by ``max_corr_columns``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import polars as pl

from lakeml.config import DEFAULT_MEMORY_BUDGET
from lakeml.errors import ColumnNotFoundError, choices_hint
from lakeml.explore.columns import (
    QUANTILE_NAMES,
    column_kind,
    first_pass_exprs,
    fixed_width_bytes,
    format_physical,
    numeric_input,
    physical,
    quantile_expr,
)
from lakeml.explore.target import TargetPlan, plan_target, target_frames

_ROWS = "\x1frows"
_KEY = "\x1fkey"
_EXPR_CHUNK = 600
_QUERY_BATCH = 32
# Columns per group of pass 2: bounds each query's schema (planning a query costs time in proportion
# to its input's width: 9 ms on a 10,000-column scan, so one query per column was quadratic).
_GROUP_COLUMNS = 200
_QUANTILE_COLUMNS = 64
_Engine = Literal["in-memory", "streaming"]


@dataclass(frozen=True)
class ProfileOptions:
    """Knobs of the profiling engine (defaults suit tables from a few rows to billions).

    Attributes:
        bins: histogram bins per numeric/temporal column.
        top_k: most frequent values kept per column.
        exact_rows: tables up to this many rows get exact distinct counts for every column.
        exact_distinct_max: on bigger tables, columns whose approximate distinct count is at most
            this get an exact count and top values; the rest keep the HyperLogLog estimate.
        max_corr_columns: numeric columns in the correlation matrix (the first ones in order).
        max_target_classes: classes of a classification target tracked individually.
        target_groups: categories per feature kept for target relations.
        exact_quantile_rows: quantiles are exact up to this many rows (and at most
            ``memory_budget / 16``), above it they are computed on a deterministic sample of that
            many rows (memory: 8 bytes x this per column; one query holds at most half the budget).
        memory_budget: bytes of working memory the profiler may use, whatever the table's width:
            column groups held in memory take at most a quarter of it, quantile inputs at most half.
    """

    bins: int = 20
    top_k: int = 10
    exact_rows: int = 200_000
    exact_distinct_max: int = 100_000
    max_corr_columns: int = 40
    max_target_classes: int = 20
    target_groups: int = 30
    exact_quantile_rows: int = 50_000_000
    memory_budget: int = DEFAULT_MEMORY_BUDGET


@dataclass
class ProfileData:
    """Everything the engine computed, as plain values and Polars frames."""

    overview: dict[str, Any]
    columns: pl.DataFrame
    histograms: pl.DataFrame
    top_values: pl.DataFrame
    correlations: pl.DataFrame
    target: dict[str, Any] | None = None
    target_distribution: pl.DataFrame | None = None
    target_relations: pl.DataFrame | None = None
    target_by_feature: pl.DataFrame | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class _Col:
    index: int
    name: str
    dtype: pl.DataType
    kind: str
    stats: dict[str, Any]
    bin_edges: list[float] | None = None
    exact: bool = False


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def _first_pass(lf: pl.LazyFrame, schema: pl.Schema) -> tuple[dict[str, Any], list[_Col]]:
    exprs: list[pl.Expr] = [pl.len().cast(pl.Int64).alias(_ROWS)]
    for i, (name, dtype) in enumerate(schema.items()):
        exprs += first_pass_exprs(i, name, dtype)
    row: dict[str, Any] = {}
    # One select per chunk: the streaming engine's planning cost grows faster than linearly with
    # the expression count (6000 expressions: 3.3 s vs 0.4 s in chunks). Chunks split by column,
    # so on columnar sources no column is read twice.
    for start in range(0, len(exprs), _EXPR_CHUNK):
        row.update(lf.select(exprs[start:start + _EXPR_CHUNK]).collect(engine="streaming").row(0, named=True))
    per_column: dict[int, dict[str, Any]] = {}
    for key, value in row.items():
        index, sep, stat = key.partition("\x1f")
        if sep and index:
            per_column.setdefault(int(index), {})[stat] = value
    cols: list[_Col] = []
    for i, (name, dtype) in enumerate(schema.items()):
        stats = per_column.get(i, {})
        cols.append(_Col(i, name, dtype, column_kind(dtype), {k: _clean(v) for k, v in stats.items()}))
    return row, cols


def _bin_edges(col: _Col, bins: int) -> list[float] | None:
    lo, hi = col.stats.get("min"), col.stats.get("max")
    if lo is None or hi is None:
        return None
    integral = col.kind == "datetime" or col.dtype.is_integer()
    if hi == lo:
        return [lo, lo + 1.0] if integral else [lo - 0.5, lo + 0.5]
    if integral:
        # Whole-number bin widths: fractional widths give alternating 1- and 2-value bins.
        width = math.ceil((hi - lo + 1) / bins)
        return [lo + k * width for k in range(math.ceil((hi - lo + 1) / width) + 1)]
    width = (hi - lo) / bins
    return [lo + k * width for k in range(bins)] + [hi]


def _prepare_columns(cols: list[_Col], rows: int, opts: ProfileOptions) -> None:
    """After pass 1, on every engine: non-null counts, histogram bin edges, and whether a column's
    distinct count is exact (with top values) or the HyperLogLog estimate."""
    for col in cols:
        non_null = rows - int(col.stats.get("nulls") or 0)
        col.stats["count"] = non_null
        col.stats["rows"] = rows
        if col.kind in ("numeric", "datetime") and non_null > 0:
            col.bin_edges = _bin_edges(col, opts.bins)
        approx = col.stats.get("approx_distinct")
        if approx is not None:
            col.stats["approx_distinct"] = approx = min(approx, non_null)  # HLL can overshoot
        col.exact = col.kind != "other" and approx is not None and (
            rows <= opts.exact_rows or approx <= opts.exact_distinct_max)


def _bin_key(col: _Col) -> pl.Expr:
    edges = col.bin_edges or [0.0, 1.0]
    lo, n = edges[0], len(edges) - 1
    width = (edges[-1] - edges[0]) / n
    idx = ((physical(col.name, col.dtype) - lo) / width).floor()
    return idx.clip(0, n - 1).cast(pl.Int32).alias(_KEY)


def compute_profile(lf: pl.LazyFrame, *, target: str | None = None, options: ProfileOptions | None = None,
                    on_stage: Callable[[str], None] | None = None) -> ProfileData:
    """Profile a LazyFrame; see :func:`lakeml.explore.api.profile` for the user-facing call.

    Raises:
        ColumnNotFoundError: ``target`` is not a column.
        ConfigError: the target has a type that cannot be a learning target.
    """
    opts = options or ProfileOptions()
    schema = lf.collect_schema()
    if target is not None and target not in schema:
        raise ColumnNotFoundError(f"Target column '{target}' is not in the data.",
                                  hint=choices_hint(target, schema.names(), kind="column"))
    stage = on_stage or (lambda _msg: None)
    stage(f"pass 1/2: statistics of {len(schema)} columns")
    row, cols = _first_pass(lf, schema)
    rows = int(row[_ROWS])
    by_name = {c.name: c for c in cols}

    plan: TargetPlan | None = None
    if target is not None:
        plan = plan_target(lf, by_name[target], rows=rows, max_classes=opts.max_target_classes)

    _prepare_columns(cols, rows, opts)

    corr_cols = [c for c in cols if c.kind == "numeric" and (c.stats.get("std") or 0) > 0]
    matrix_cols = corr_cols[: opts.max_corr_columns]
    in_matrix = {c.name for c in matrix_cols}
    target_pairs: set[str] = set()
    if plan is not None and plan.task == "regression":
        target_pairs = {c.name for c in corr_cols
                        if c.name != target and not (c.name in in_matrix and target in in_matrix)}
    corr_values: dict[tuple[int, int], float | None] = {}
    pairs = [(a, b) for i, a in enumerate(matrix_cols) for b in matrix_cols[i + 1:]]
    if pairs:
        _store_corr(lf.select([_corr_expr(a, b) for a, b in pairs]).collect(engine="streaming"), corr_values)

    target_col = by_name[target] if target is not None else None
    groups = _column_groups(cols, rows, opts.memory_budget // 4, target_col)
    hashing = _Hashing(lf, cols, rows, opts.memory_budget // 4)
    quantile_limit = min(opts.exact_quantile_rows, opts.memory_budget // 16)
    # Rows of the histogram and top-value frames, built once at the end (a frame per column cost
    # more than the queries on wide tables).
    hist_rows: dict[str, list[Any]] = {k: [] for k in _HIST_SCHEMA}
    top_rows: dict[str, list[Any]] = {k: [] for k in _TOP_SCHEMA}
    grouped: list[tuple[_Col, str, pl.DataFrame]] = []
    quantile_note = None
    for number, (group, in_memory) in enumerate(groups, start=1):
        names = [c.name for c in group]
        stage(f"pass 2/2: histograms, top values, quantiles of column group {number}/{len(groups)} "
              f"({len(group)} columns)")
        held: pl.DataFrame | None = None
        engine: _Engine
        src, engine = lf, "streaming"
        if in_memory:
            # Read once, query many times: each query then plans over this group's columns only,
            # and the in-memory engine runs queries on held data 2-3x faster than streaming.
            extra = [target] if target is not None and target not in names else []
            held = lf.select(names + extra).collect(engine="streaming")
            src, engine = held.lazy(), "in-memory"
        queries, slots = _group_queries(src, group, opts, plan, target, target_col, target_pairs)
        results: list[pl.DataFrame] = []
        # Batches: collect_all's cross-query optimisation gets slow past a few dozen queries.
        for start in range(0, len(queries), _QUERY_BATCH):
            results += pl.collect_all(queries[start:start + _QUERY_BATCH], engine=engine)
        for (what, slot_col), frame in zip(slots, results, strict=True):
            if what == "hist" and slot_col is not None:
                _histogram_rows(slot_col, frame, hist_rows)
                if plan is not None:  # only target relations need the grouped frames later
                    grouped.append((slot_col, "bins", frame))
            elif what == "top" and slot_col is not None:
                slot_col.stats["distinct"] = int(frame["\x1fdistinct"][0]) if frame.height else 0
                _top_rows(slot_col, frame.head(opts.top_k), rows, top_rows)
                if plan is not None:
                    grouped.append((slot_col, "values", frame))
            elif what == "corr":
                _store_corr(frame, corr_values)
        quantile_note = _quantiles(src, group, rows, quantile_limit, opts.memory_budget, engine) or quantile_note
        hashing.add(held, names)
        del held, src, queries, results

    stage("duplicate rows")
    unique_rows = hashing.unique_rows()
    data = ProfileData(
        overview=_overview(rows, unique_rows, cols, schema),
        columns=_columns_frame(cols, rows),
        histograms=pl.DataFrame(hist_rows, schema=_HIST_SCHEMA),
        top_values=pl.DataFrame(top_rows, schema=_TOP_SCHEMA),
        correlations=_corr_frame(matrix_cols, corr_values),
    )
    if quantile_note:
        data.notes.append(quantile_note)
    if len(corr_cols) > len(matrix_cols):
        data.notes.append(f"Correlations cover the first {len(matrix_cols)} of {len(corr_cols)} "
                          "non-constant numeric columns.")
    if hashing.note:
        data.notes.append(hashing.note)
    if plan is not None:
        labels = {c.name: _value_strings(frame[_KEY]) for c, how, frame in grouped if how == "values"}
        data.target, data.target_distribution, data.target_relations, data.target_by_feature = (
            target_frames(plan, grouped, labels, corr_values, by_name, data.histograms))
    return data


def _corr_expr(a: _Col, b: _Col) -> pl.Expr:
    return pl.corr(numeric_input(a.name, a.dtype), numeric_input(b.name, b.dtype)).alias(f"{a.index}\x1f{b.index}")


def _store_corr(frame: pl.DataFrame, values: dict[tuple[int, int], float | None]) -> None:
    for key, value in frame.row(0, named=True).items():
        a, b = (int(p) for p in key.split("\x1f"))
        values[(a, b)] = _clean(value)


def _estimated_bytes(col: _Col, rows: int) -> int:
    """Arrow bytes of a column as pass 1 measured it (nested columns: unknown, so never held)."""
    if col.kind == "other":
        return 2**62
    return rows * fixed_width_bytes(col.dtype) + int(col.stats.get("bytes") or 0) + (rows + 7) // 8


def _column_groups(cols: list[_Col], rows: int, group_bytes: int,
                   target: _Col | None) -> list[tuple[list[_Col], bool]]:
    """Consecutive columns in groups of at most ``_GROUP_COLUMNS``; a group of a wide table is held in
    memory (True) when it fits ``group_bytes`` (with the target column, which every group's queries
    need). Tables of one group are streamed as they are: planning over their schema is cheap."""
    room = group_bytes - (_estimated_bytes(target, rows) if target is not None else 0)
    if len(cols) <= _GROUP_COLUMNS:
        room = -1
    groups: list[tuple[list[_Col], bool]] = []
    current: list[_Col] = []
    size, held = 0, False
    for col in cols:
        est = _estimated_bytes(col, rows)
        fits = est <= room
        if current and (fits != held or len(current) >= _GROUP_COLUMNS or (fits and size + est > room)):
            groups.append((current, held))
            current, size = [], 0
        current.append(col)
        size, held = size + est, fits
    if current:
        groups.append((current, held))
    return groups


def _group_queries(src: pl.LazyFrame, group: list[_Col], opts: ProfileOptions, plan: TargetPlan | None,
                   target: str | None, target_col: _Col | None,
                   target_pairs: set[str]) -> tuple[list[pl.LazyFrame], list[tuple[str, _Col | None]]]:
    """Pass-2 queries of one column group: histogram bins, exact distincts with top values, and
    (regression target) each feature's correlation with the target."""
    queries: list[pl.LazyFrame] = []
    slots: list[tuple[str, _Col | None]] = []
    taggs = plan.aggregations() if plan else []
    for col in group:
        if col.bin_edges is not None:
            queries.append(src.group_by(_bin_key(col)).agg(pl.len().cast(pl.Int64).alias("n"), *taggs)
                           .drop_nulls(_KEY).sort(_KEY))
            slots.append(("hist", col))
        if col.exact:
            keep = opts.top_k if plan is None or col.name == target else max(opts.top_k, opts.target_groups)
            queries.append(
                src.group_by(pl.col(col.name).alias(_KEY)).agg(pl.len().cast(pl.Int64).alias("n"), *taggs)
                .drop_nulls(_KEY).with_columns(pl.len().cast(pl.Int64).alias("\x1fdistinct"))
                .sort(["n", _KEY], descending=[True, False]).head(keep))
            slots.append(("top", col))
    pairs = [(c, target_col) for c in group if c.name in target_pairs and target_col is not None]
    if pairs:
        queries.append(src.select([_corr_expr(a, b) for a, b in pairs]))
        slots.append(("corr", None))
    return queries, slots


class _Hashing:
    """Distinct rows. When a null-free column looks unique, one exact check of that column settles it
    (no duplicate rows, and the column's distinct count becomes exact); else rows are hashed: in one
    streaming query when the table has at most ``_GROUP_COLUMNS`` columns or fits the budget, else
    group by group, chaining each group's row hash into one in-memory hash per row (skipped, with a
    note, when that array would not fit the budget). Chaining assumes that every read of the source
    returns its rows in the same order, as tables and ordered queries do."""

    def __init__(self, lf: pl.LazyFrame, cols: list[_Col], rows: int, budget: int) -> None:
        self.lf, self.cols, self.rows = lf, cols, rows
        self.note: str | None = None
        self.settled: _Col | None = None
        self.hashes: pl.Series | None = None
        self.chained = False
        if not cols or rows == 0:
            return
        candidates = [c for c in cols if c.kind != "other" and not c.stats.get("nulls")
                      and not c.stats.get("nan") and (c.stats.get("approx_distinct") or 0) >= 0.9 * rows]
        if candidates:
            best = max(candidates, key=lambda c: c.stats.get("approx_distinct") or 0)
            distinct = int(lf.select(pl.col(best.name).n_unique()).collect(engine="streaming").item())
            if distinct == rows:
                self.settled = best
                return
        if len(cols) > _GROUP_COLUMNS and sum(_estimated_bytes(c, rows) for c in cols) > budget:
            self.chained = rows * 16 <= budget
            if not self.chained:
                self.note = (f"Duplicate rows were not counted: hashing {rows:,} rows of {len(cols):,} columns "
                             "needs more than the memory budget.")

    def add(self, held: pl.DataFrame | None, names: list[str]) -> None:
        """Fold one column group into the row hashes (wide tables only)."""
        if not self.chained:
            return
        source = held.lazy() if held is not None else self.lf
        # 64-bit row hashes: a collision (a false duplicate) has probability about rows^2 / 2^65.
        part = source.select(pl.struct(names).hash(seed=7).alias("h")).collect(engine="streaming")["h"]
        if self.hashes is None:
            self.hashes = part
        else:
            self.hashes = pl.DataFrame({"a": self.hashes, "b": part}).select(
                pl.struct("a", "b").hash(seed=7).alias("h"))["h"]

    def unique_rows(self) -> int | None:
        """The number of distinct rows (None when not counted)."""
        if not self.cols or self.rows == 0:
            return self.rows
        if self.settled is not None:
            self.settled.exact, self.settled.stats["distinct"] = True, self.rows
            return self.rows
        if self.chained:
            return int(self.hashes.n_unique()) if self.hashes is not None else self.rows
        if self.note:
            return None
        names = [c.name for c in self.cols]
        return int(self.lf.select(pl.struct(names).hash(seed=7).n_unique()).collect(engine="streaming").item())


def _quantiles(lf: pl.LazyFrame, group: list[_Col], rows: int, limit: int, budget: int,
               engine: _Engine) -> str | None:
    numeric = [c for c in group if c.kind == "numeric" and c.stats["count"] > 0]
    source, note = lf, None
    if rows > limit and numeric:
        keep = int(limit / rows * 2**32)
        source = (lf.with_row_index("\x1frow").filter(pl.col("\x1frow").hash(11) % 2**32 < keep)
                  .drop("\x1frow"))
        note = f"Quantiles are estimated from a random sample of about {limit:,} rows."
    # A quantile holds its column in memory: group columns so one query holds at most half the budget.
    per_query = min(_QUANTILE_COLUMNS, max(1, (budget // 2) // max(1, min(rows, limit) * 8)))
    for start in range(0, len(numeric), per_query):
        part = numeric[start:start + per_query]
        result = source.select([quantile_expr(c.name, c.dtype).alias(str(i)) for i, c in enumerate(part)])
        row = result.collect(engine=engine).row(0)
        for col, values in zip(part, row, strict=True):
            if values is not None:
                col.stats.update({k: _clean(v) for k, v in zip(QUANTILE_NAMES, values, strict=True)})
    return note


def _overview(rows: int, unique_rows: int | None, cols: list[_Col], schema: pl.Schema) -> dict[str, Any]:
    cells = rows * len(cols)
    missing = sum(int(c.stats.get("nulls") or 0) + int(c.stats.get("nan") or 0) for c in cols)
    memory = 0
    for c in cols:
        memory += rows * fixed_width_bytes(c.dtype) + int(c.stats.get("bytes") or 0) + (rows + 7) // 8
    kinds: dict[str, int] = {}
    for c in cols:
        kinds[c.kind] = kinds.get(c.kind, 0) + 1
    approx = [c.name for c in cols if c.kind != "other" and not c.exact]
    return {
        "rows": rows,
        "columns": len(cols),
        "missing_cells": missing,
        "missing_share": missing / cells if cells else 0.0,
        "duplicate_rows": None if unique_rows is None else rows - unique_rows if cols and rows else 0,
        "memory_bytes": memory,
        "column_kinds": kinds,
        "distinct_method": "exact" if not approx else
        f"approximate (HyperLogLog estimate, can be off by several percent) for {len(approx)} "
        "high-cardinality column(s); exact for the others",
        "approximate_distinct_columns": approx,
    }


_HIST_SCHEMA = {"column": pl.String, "bin": pl.Int32, "lower": pl.Float64, "upper": pl.Float64,
                "label": pl.String, "count": pl.Int64}
_TOP_SCHEMA = {"column": pl.String, "rank": pl.Int32, "value": pl.String, "count": pl.Int64,
               "share": pl.Float64}


def _histogram_rows(col: _Col, frame: pl.DataFrame, out: dict[str, list[Any]]) -> None:
    edges = col.bin_edges or []
    counts = dict(zip(frame[_KEY].to_list(), frame["n"].to_list(), strict=True))
    n = len(edges) - 1
    integral = col.kind == "datetime" or col.dtype.is_integer()
    one_value_bins = integral and all(edges[k + 1] - edges[k] == 1 for k in range(n))
    # Integer and date bins hold whole values, so their labels name the last value they contain.
    last = [edges[k + 1] - 1 if integral else edges[k + 1] for k in range(n)]
    width = (edges[-1] - edges[0]) / max(n, 1)
    labels = [format_physical(edges[k], col.dtype, width) if one_value_bins else
              f"{format_physical(edges[k], col.dtype, width)} – {format_physical(last[k], col.dtype, width)}"
              for k in range(n)]
    out["column"] += [col.name] * n
    out["bin"] += range(n)
    out["lower"] += edges[:-1]
    out["upper"] += edges[1:]
    out["label"] += labels
    out["count"] += [int(counts.get(k, 0)) for k in range(n)]


def _value_strings(series: pl.Series) -> list[str | None]:
    if series.dtype == pl.String:
        return series.to_list()
    try:
        return series.cast(pl.String).to_list()
    except pl.exceptions.InvalidOperationError:  # e.g. Duration: no cast to String
        return [None if v is None else str(v) for v in series.to_list()]


def _top_rows(col: _Col, frame: pl.DataFrame, rows: int, out: dict[str, list[Any]]) -> None:
    counts = frame["n"].to_list()
    out["column"] += [col.name] * frame.height
    out["rank"] += range(1, frame.height + 1)
    out["value"] += _value_strings(frame[_KEY])
    out["count"] += counts
    out["share"] += [c / rows for c in counts]


_STAT_COLUMNS: list[tuple[str, Any]] = [
    ("mean", pl.Float64), ("std", pl.Float64), ("skew", pl.Float64), ("p5", pl.Float64),
    ("p25", pl.Float64), ("median", pl.Float64), ("p75", pl.Float64), ("p95", pl.Float64),
    ("zeros", pl.Int64), ("negatives", pl.Int64), ("nan", pl.Int64), ("infinite", pl.Int64),
    ("true", pl.Int64), ("len_min", pl.Float64), ("len_mean", pl.Float64), ("len_max", pl.Float64),
    ("empty", pl.Int64),
]


def _min_max_text(col: _Col, which: Literal["min", "max"]) -> str | None:
    if col.kind == "datetime":
        value = col.stats.get("t" + which)
        return None if value is None else str(value)
    if col.kind == "text":
        return col.stats.get("text_" + which)
    value = col.stats.get(which)
    if value is None:
        return None
    return format_physical(value, col.dtype) if col.kind == "numeric" else str(value)


def _columns_frame(cols: list[_Col], rows: int) -> pl.DataFrame:
    records: dict[str, list[Any]] = {k: [] for k in (
        "column", "dtype", "kind", "count", "nulls", "null_share", "distinct", "distinct_exact",
        "distinct_share", "min", "max", "min_value", "max_value", "memory_bytes")}
    for name, _ in _STAT_COLUMNS:
        records[name] = []
    for c in cols:
        count = int(c.stats["count"])
        distinct = c.stats.get("distinct") if c.exact else c.stats.get("approx_distinct")
        records["column"].append(c.name)
        records["dtype"].append(str(c.dtype))
        records["kind"].append(c.kind)
        records["count"].append(count)
        records["nulls"].append(int(c.stats.get("nulls") or 0))
        records["null_share"].append(int(c.stats.get("nulls") or 0) / rows if rows else 0.0)
        records["distinct"].append(distinct)
        records["distinct_exact"].append(c.exact if distinct is not None else None)
        records["distinct_share"].append(distinct / count if distinct is not None and count else None)
        numeric = c.kind == "numeric"
        records["min"].append(c.stats.get("min") if numeric else None)
        records["max"].append(c.stats.get("max") if numeric else None)
        records["min_value"].append(_min_max_text(c, "min"))
        records["max_value"].append(_min_max_text(c, "max"))
        records["memory_bytes"].append(rows * fixed_width_bytes(c.dtype) + int(c.stats.get("bytes") or 0))
        for name, _ in _STAT_COLUMNS:
            records[name].append(c.stats.get(name))
    schema: dict[str, Any] = {
        "column": pl.String, "dtype": pl.String, "kind": pl.String, "count": pl.Int64, "nulls": pl.Int64,
        "null_share": pl.Float64, "distinct": pl.Int64, "distinct_exact": pl.Boolean,
        "distinct_share": pl.Float64, "min": pl.Float64, "max": pl.Float64, "min_value": pl.String,
        "max_value": pl.String, "memory_bytes": pl.Int64, **dict(_STAT_COLUMNS)}
    return pl.DataFrame(records, schema=schema)


def _corr_frame(cols: list[_Col], values: dict[tuple[int, int], float | None]) -> pl.DataFrame:
    x: list[str] = []
    y: list[str] = []
    r: list[float | None] = []
    for a in cols:
        for b in cols:
            x.append(a.name)
            y.append(b.name)
            r.append(1.0 if a.index == b.index else values.get((min(a.index, b.index), max(a.index, b.index))))
    return pl.DataFrame({"x": x, "y": y, "pearson": r},
                        schema={"x": pl.String, "y": pl.String, "pearson": pl.Float64})
