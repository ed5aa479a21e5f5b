"""Target analysis: the target's distribution and each feature's association with it.

Association is computed from the grouped pass-2 results the engine already has (histogram bins
for numeric/temporal features, top values for the others), so it costs no extra pass:
the correlation ratio eta for a numeric target, Cramér's V for a categorical target.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl

from lakeml.errors import ConfigError
from lakeml.explore.columns import format_physical, numeric_input

if TYPE_CHECKING:
    from lakeml.explore.engine import _Col

_KEY = "\x1fkey"
_TN = "\x1ft_n"
_TSUM = "\x1ft_sum"
_TSS = "\x1ft_ss"


@dataclass
class TargetPlan:
    """What is known about the target before pass 2: its task and (for classification) classes."""

    name: str
    dtype: pl.DataType
    task: Literal["classification", "regression"]
    classes: list[Any]
    class_counts: pl.DataFrame | None
    class_names: list[str] = field(default_factory=list)

    def aggregations(self) -> list[pl.Expr]:
        """Per-group aggregations added to every grouped pass-2 query."""
        if self.task == "regression":
            t = numeric_input(self.name, self.dtype).cast(pl.Float64)
            return [t.count().cast(pl.Int64).alias(_TN), t.sum().alias(_TSUM), (t * t).sum().alias(_TSS)]
        col = pl.col(self.name)
        return [col.is_not_null().sum().cast(pl.Int64).alias(_TN)] + [
            (col == pl.lit(k)).sum().cast(pl.Int64).alias(f"\x1ft_{j}") for j, k in enumerate(self.classes)]


def plan_target(lf: pl.LazyFrame | None, col: _Col, *, rows: int, max_classes: int,
                value_counts: Callable[[], pl.DataFrame] | None = None) -> TargetPlan:
    """Decide classification vs regression for the target and list its classes.

    The classes are counted over ``lf``, or by ``value_counts`` (another engine's count: ``value`` and
    ``count`` of every non-null value, most frequent first, ties by value).

    Raises:
        ConfigError: the target is temporal or nested.
    """
    if col.kind in ("datetime", "other"):
        raise ConfigError(
            f"Target column '{col.name}' has type {col.dtype}, which cannot be a learning target.",
            hint="Pick a numeric, boolean or text column as the target, or CAST it in a SQL query.")
    approx = col.stats.get("approx_distinct") or 0
    if col.kind == "numeric" and not (col.dtype.is_integer() and approx <= max_classes):
        return TargetPlan(col.name, col.dtype, "regression", [], None)
    if value_counts is not None:
        counts = value_counts()
    else:
        assert lf is not None
        counts = (lf.group_by(pl.col(col.name).alias("value")).agg(pl.len().cast(pl.Int64).alias("count"))
                  .drop_nulls("value").sort(["count", "value"], descending=[True, False])
                  .collect(engine="streaming"))
    total = int(counts["count"].sum()) if counts.height else 0
    classes = counts["value"].head(max_classes).to_list()
    shown = counts.with_columns(
        pl.col("value").cast(pl.String), (pl.col("count") / max(total, 1)).alias("share"))
    names = shown["value"].head(max_classes).to_list()
    return TargetPlan(col.name, col.dtype, "classification", classes, shown, names)


def _eta(n: np.ndarray, sums: np.ndarray, squares: np.ndarray) -> float | None:
    """Correlation ratio from per-group target counts, sums and sums of squares."""
    total = n.sum()
    if total < 2:
        return None
    mean = sums.sum() / total
    sst = squares.sum() - total * mean * mean
    if sst <= 1e-12 * max(1.0, abs(squares.sum())):
        return None
    group_means = np.divide(sums, n, out=np.full(len(n), mean), where=n > 0)
    ssb = float((n * (group_means - mean) ** 2).sum())
    return math.sqrt(min(1.0, max(0.0, ssb / sst)))


def _class_matrix(frame: pl.DataFrame, n_classes: int) -> np.ndarray:
    if not n_classes:
        return np.zeros((frame.height, 0))
    return np.column_stack([frame[f"\x1ft_{j}"].to_numpy().astype(float) for j in range(n_classes)])


def _with_other(plan: TargetPlan, target: _Col, frame: pl.DataFrame, truncated: bool) -> dict[str, np.ndarray]:
    """Per-group arrays; when only the top values were kept, one more "(other)" group holds the rest."""
    arrays = {"rows": frame["n"].to_numpy().astype(float), "t_n": frame[_TN].to_numpy().astype(float)}
    if plan.task == "regression":
        arrays["sum"] = frame[_TSUM].fill_null(0.0).to_numpy()
        arrays["ss"] = frame[_TSS].fill_null(0.0).to_numpy()
    else:
        arrays["classes"] = _class_matrix(frame, len(plan.classes))
    if not truncated:
        return arrays
    st = target.stats
    n_t = float(st["count"] - int(st.get("nan") or 0))
    totals: dict[str, Any] = {"rows": float(st["rows"]), "t_n": n_t}
    if plan.task == "regression":
        mean, std = st.get("mean") or 0.0, st.get("std") or 0.0
        totals["sum"] = mean * n_t
        totals["ss"] = (n_t - 1) * std * std + n_t * mean * mean
    else:
        counts = dict(zip(*(plan.class_counts[c].to_list() for c in ("value", "count")), strict=True)) \
            if plan.class_counts is not None else {}
        totals["t_n"] = float(sum(counts.values()))
        totals["classes"] = np.array([counts.get(k, 0) for k in plan.class_names], dtype=float)
    out: dict[str, np.ndarray] = {}
    for key, values in arrays.items():
        rest = np.maximum(np.asarray(totals[key]) - values.sum(axis=0), 0)
        out[key] = np.vstack([values, rest]) if values.ndim == 2 else np.append(values, rest)
    return out


def cramers_v(table: np.ndarray) -> float | None:
    """Cramér's V of a contingency table (rows and columns with zero totals are dropped)."""
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if table.size == 0 or min(table.shape) < 2:
        return None
    total = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / total
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return math.sqrt(min(1.0, chi2 / (total * (min(table.shape) - 1))))


def target_frames(
    plan: TargetPlan,
    grouped: list[tuple[_Col, str, pl.DataFrame]],
    labels: dict[str, list[str | None]],
    corr_values: dict[tuple[int, int], float | None],
    by_name: dict[str, _Col],
    histograms: pl.DataFrame,
) -> tuple[dict[str, Any], pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Build the target summary, distribution, relations and target-by-feature frames."""
    target = by_name[plan.name]
    chosen: dict[str, tuple[_Col, str, pl.DataFrame]] = {}
    for col, how, frame in grouped:
        if col.name == plan.name:
            continue
        prefer = "bins" if col.kind in ("numeric", "datetime") else "values"
        if col.name not in chosen or how == prefer:
            chosen[col.name] = (col, how, frame)
    rel: dict[str, list[Any]] = {k: [] for k in ("feature", "kind", "measure", "association", "pearson",
                                                 "groups")}
    feat: dict[str, list[Any]] = {k: [] for k in ("feature", "group", "order", "count", "class", "value")}
    class_names = plan.class_names
    for name, (col, how, frame) in chosen.items():
        distinct = col.stats.get("distinct") or 0
        if how == "values" and col.kind == "text" and col.stats["count"] and distinct / col.stats["count"] > 0.5:
            continue  # identifier-like: per-value target rates would be noise
        truncated = how == "values" and distinct > frame.height
        arrays = _with_other(plan, target, frame, truncated)
        group_labels = (labels[name] if how == "values" else _bin_labels(col, frame)) + \
            (["(other)"] if truncated else [])
        rows_per_group = arrays["rows"].astype(int).tolist()
        if plan.task == "regression":
            score = _eta(arrays["t_n"], arrays["sum"], arrays["ss"])
            means = np.divide(arrays["sum"], arrays["t_n"], out=np.full(len(group_labels), np.nan),
                              where=arrays["t_n"] > 0)
            for order, (label, cnt, m) in enumerate(zip(group_labels, rows_per_group, means, strict=True)):
                _add(feat, name, label, order, cnt, None, None if np.isnan(m) else float(m))
            measure = "correlation ratio (eta)"
        else:
            table = arrays["classes"]
            other = arrays["t_n"] - table.sum(axis=1)
            score = cramers_v(np.column_stack([table, other]) if (other > 0).any() else table)
            for order, (label, cnt, tot) in enumerate(zip(group_labels, rows_per_group, arrays["t_n"],
                                                          strict=True)):
                for j, cls in enumerate(class_names):
                    _add(feat, name, label, order, cnt, cls, float(table[order, j]) / tot if tot else None)
            measure = "Cramér's V"
        pearson = None
        if plan.task == "regression" and col.kind == "numeric":
            pearson = corr_values.get((min(col.index, target.index), max(col.index, target.index)))
        rel["feature"].append(name)
        rel["kind"].append(col.kind)
        rel["measure"].append(measure)
        rel["association"].append(score)
        rel["pearson"].append(pearson)
        rel["groups"].append(len(group_labels))
    relations = pl.DataFrame(rel, schema={
        "feature": pl.String, "kind": pl.String, "measure": pl.String, "association": pl.Float64,
        "pearson": pl.Float64, "groups": pl.Int64}).sort("association", descending=True, nulls_last=True)
    by_feature = pl.DataFrame(feat, schema={
        "feature": pl.String, "group": pl.String, "order": pl.Int32, "count": pl.Int64, "class": pl.String,
        "value": pl.Float64})
    if plan.task == "classification" and plan.class_counts is not None:
        distribution = plan.class_counts
    else:
        part = histograms.filter(pl.col("column") == plan.name)
        total = max(int(part["count"].sum()), 1) if part.height else 1
        distribution = part.select(pl.col("label").alias("value"), "count",
                                   (pl.col("count") / total).alias("share"))
    summary = {"column": plan.name, "dtype": str(plan.dtype), "task": plan.task, "classes": class_names,
               "nulls": int(target.stats.get("nulls") or 0)}
    return summary, distribution, relations, by_feature


def _bin_labels(col: _Col, frame: pl.DataFrame) -> list[str]:
    edges = col.bin_edges or []
    width = (edges[-1] - edges[0]) / max(len(edges) - 1, 1)
    return [format_physical(edges[k], col.dtype, width) for k in frame[_KEY].to_list()]


def _add(feat: dict[str, list[Any]], name: str, label: str | None, order: int, count: int,
         cls: str | None, value: float | None) -> None:
    feat["feature"].append(name)
    feat["group"].append(label)
    feat["order"].append(order)
    feat["count"].append(count)
    feat["class"].append(cls)
    feat["value"].append(value)
