"""Data-quality alerts derived from a profile's numbers (no extra pass over the data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class AlertRules:
    """Thresholds of the alerts (shares are fractions of rows)."""

    high_null_share: float = 0.2
    high_cardinality_share: float = 0.5
    high_cardinality_min: int = 50
    skew: float = 2.0
    zeros_share: float = 0.5
    correlation: float = 0.95
    imbalance_share: float = 0.1


_SCHEMA = {"column": pl.String, "kind": pl.String, "severity": pl.String, "message": pl.String}


def _pct(share: float) -> str:
    return f"{share:.1%}" if share >= 0.001 else f"{share:.2%}"


def find_alerts(overview: dict[str, Any], columns: pl.DataFrame, correlations: pl.DataFrame,
                target: dict[str, Any] | None, target_distribution: pl.DataFrame | None,
                rules: AlertRules | None = None) -> pl.DataFrame:
    """One row per alert: column (null for table-level), kind, severity, message."""
    r = rules or AlertRules()
    out: list[tuple[str | None, str, str, str]] = []
    rows = overview["rows"]
    if rows == 0:
        out.append((None, "empty", "warning", "The table has no rows."))
    if overview["duplicate_rows"]:
        share = overview["duplicate_rows"] / rows
        out.append((None, "duplicates", "warning",
                    f"{overview['duplicate_rows']:,} duplicate rows ({_pct(share)})."))
    for c in columns.iter_rows(named=True):
        name, count = c["column"], c["count"]
        if rows and count == 0:
            out.append((name, "all_null", "warning", "Every value is missing."))
            continue
        if rows and c["null_share"] >= r.high_null_share:
            out.append((name, "high_nulls", "warning", f"{_pct(c['null_share'])} of values are missing."))
        distinct = c["distinct"]
        if distinct == 1:
            out.append((name, "constant", "warning", "Only one distinct value: the column is constant."))
        elif (c["kind"] == "text" and distinct is not None and count and distinct >= r.high_cardinality_min
              and distinct / count >= r.high_cardinality_share):
            kind = "unique" if distinct == count and c["distinct_exact"] else "high_cardinality"
            text = "Every value is distinct (an identifier?)." if kind == "unique" else \
                f"High cardinality: {distinct:,} distinct values ({_pct(distinct / count)} of values)."
            out.append((name, kind, "info", text))
        if c["skew"] is not None and abs(c["skew"]) >= r.skew:
            out.append((name, "skewed", "info", f"Highly skewed (skewness {c['skew']:.2f})."))
        if c["zeros"] and count and c["zeros"] / count >= r.zeros_share:
            out.append((name, "zeros", "info", f"{_pct(c['zeros'] / count)} of values are zero."))
        if c["infinite"]:
            out.append((name, "infinite", "warning", f"{c['infinite']:,} infinite values."))
        if c["nan"]:
            out.append((name, "nan", "info", f"{c['nan']:,} NaN values (counted as missing)."))
    seen: set[tuple[str, str]] = set()
    for x, y, value in correlations.iter_rows():
        if x != y and value is not None and abs(value) >= r.correlation and (y, x) not in seen:
            seen.add((x, y))
            out.append((x, "correlated", "info", f"Highly correlated with '{y}' (r = {value:.3f})."))
    if target and target["task"] == "classification" and target_distribution is not None \
            and target_distribution.height > 1:
        smallest = target_distribution.sort("share").row(0, named=True)
        if smallest["share"] < r.imbalance_share:
            out.append((target["column"], "imbalanced", "warning",
                        f"Imbalanced target: class '{smallest['value']}' is {_pct(smallest['share'])} of rows."))
    out.sort(key=lambda alert: alert[2] != "warning")  # stable: warnings first, then in column order
    return pl.DataFrame(out, schema=_SCHEMA, orient="row")
