"""Data guardrails for training and AutoML, computed lazily by the query engine.

Each guardrail inspects the input table before any model is fitted and reports one of three
statuses, like the cloud workspace does:

* ``Passed``  – nothing to report;
* ``Done``    – a problem was found and lakeml handled it (imputed, dropped, capped);
* ``Alerted`` – a problem was found that the user should look at (imbalance, duplicates, leakage).

All statistics are Polars lazy aggregations, so they run where the data lives and only small
summaries are collected.

>>> import polars as pl
>>> frame = pl.LazyFrame({"x": [1.0, None, 3.0, 4.0], "y": [0, 1, 0, 1]})
>>> [g.status for g in compute_guardrails(frame, target="y", task="classification")][:1]
['Done']
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Literal

import polars as pl

from lakeml.errors import ColumnNotFoundError, TrainingError, choices_hint

Status = Literal["Passed", "Done", "Alerted"]

#: A column whose distinct non-null values cover at least this share of rows is ID-like.
ID_LIKE_SHARE = 0.95
#: String columns with more distinct values than this are high-cardinality.
HIGH_CARDINALITY = 100
#: Smallest-to-largest class ratio below which a classification target is imbalanced.
IMBALANCE_RATIO = 0.2
#: Normalised purity (classification) or explained variance (regression) that flags leakage.
LEAKAGE_SCORE = {"classification": 0.95, "regression": 0.98}


@dataclass(frozen=True)
class Guardrail:
    """One guardrail finding.

    Attributes:
        name: machine name, e.g. ``"missing_values"``.
        status: ``"Passed"``, ``"Done"`` or ``"Alerted"``.
        description: what the check looks for.
        detail: what was found and what lakeml did, in one sentence.
        columns: the columns concerned (empty when the check is about the whole table).
    """

    name: str
    status: Status
    description: str
    detail: str
    columns: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """A JSON-serialisable dict (columns as a list)."""
        out = asdict(self)
        out["columns"] = list(self.columns)
        return out


def guardrails_frame(guardrails: Sequence[Guardrail]) -> pl.DataFrame:
    """The findings as a frame with columns name, status, description, detail, columns (JSON list)."""
    return pl.DataFrame(
        {
            "name": [g.name for g in guardrails],
            "status": [g.status for g in guardrails],
            "description": [g.description for g in guardrails],
            "detail": [g.detail for g in guardrails],
            "columns": [json.dumps(list(g.columns)) for g in guardrails],
        },
        schema={"name": pl.String, "status": pl.String, "description": pl.String,
                "detail": pl.String, "columns": pl.String},
    )


def _is_numeric(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


def _short(columns: Iterable[str], limit: int = 8) -> str:
    cols = list(columns)
    shown = ", ".join(cols[:limit])
    return shown + (f" and {len(cols) - limit} more" if len(cols) > limit else "")


def _column_stats(frame: pl.LazyFrame, schema: pl.Schema) -> pl.DataFrame:
    exprs: list[pl.Expr] = [pl.len().alias("__rows")]
    for name, dtype in schema.items():
        missing = pl.col(name).is_null()
        if dtype.is_float():
            missing = missing | pl.col(name).is_nan()
        exprs.append(missing.sum().alias(f"null::{name}"))
        exprs.append(pl.col(name).drop_nulls().n_unique().alias(f"uniq::{name}"))
    return frame.select(exprs).collect()


def compute_guardrails(
    frame: pl.LazyFrame,
    *,
    target: str,
    task: Literal["classification", "regression"],
    features: Sequence[str] | None = None,
) -> list[Guardrail]:
    """Run every guardrail on ``frame`` and return the findings in a fixed order.

    Args:
        frame: the training data (features and target), lazy.
        target: the target column.
        task: ``"classification"`` or ``"regression"``.
        features: the feature columns to inspect; all columns but the target when None.

    Returns:
        Guardrails named missing_values, class_imbalance (classification only), high_cardinality,
        id_like_columns, constant_columns, duplicated_rows and target_leakage.

    Raises:
        ColumnNotFoundError: ``target`` or a feature is not a column of ``frame``.
        TrainingError: the frame has no rows.
    """
    schema = frame.collect_schema()
    for col in [target, *(features or [])]:
        if col not in schema:
            raise ColumnNotFoundError(
                f"Column '{col}' is not in the training data.",
                hint=choices_hint(col, schema.names(), kind="column"),
            )
    feats = [c for c in (features if features is not None else schema.names()) if c != target]
    fschema = pl.Schema({c: schema[c] for c in feats})
    stats = _column_stats(frame.select([*feats, target]), pl.Schema({**fschema, target: schema[target]}))
    n_rows = int(stats["__rows"][0])
    if n_rows == 0:
        raise TrainingError("The training data has no rows.",
                            hint="Check the table name or the WHERE clause of the query.")
    nulls = {c: int(stats[f"null::{c}"][0]) for c in feats}
    uniques = {c: int(stats[f"uniq::{c}"][0]) for c in feats}

    out = [_missing(nulls, n_rows)]
    if task == "classification":
        out.append(_imbalance(frame, target))
    constant = [c for c in feats if uniques[c] <= 1]
    id_like = [
        c for c in feats
        if c not in constant and (fschema[c] == pl.String or fschema[c].is_integer())
        and n_rows >= 20 and uniques[c] >= ID_LIKE_SHARE * (n_rows - nulls[c])
    ]
    high = [c for c in feats if fschema[c] in (pl.String, pl.Categorical)
            and c not in id_like and uniques[c] > HIGH_CARDINALITY]
    out.append(_high_cardinality(high, uniques))
    out.append(_id_like(id_like))
    out.append(_constant(constant, nulls, n_rows))
    out.append(_duplicates(frame, schema.names(), n_rows))  # every column: a row id makes rows distinct
    candidates = [c for c in feats if c not in constant and c not in id_like]
    out.append(_leakage(frame, target, task, candidates, fschema, uniques, n_rows))
    return out


def _missing(nulls: dict[str, int], n_rows: int) -> Guardrail:
    desc = "Missing feature values are imputed (median for numbers, most frequent or 'missing' for text)."
    bad = {c: n for c, n in nulls.items() if n > 0}
    if not bad:
        return Guardrail("missing_values", "Passed", desc, "No missing values in any feature.")
    parts = [f"{c} ({n / n_rows:.1%})" for c, n in sorted(bad.items(), key=lambda kv: -kv[1])]
    return Guardrail("missing_values", "Done", desc,
                     f"Imputed missing values in {len(bad)} column(s): {_short(parts)}.", tuple(bad))


def _imbalance(frame: pl.LazyFrame, target: str) -> Guardrail:
    desc = "Classes of the target should be roughly balanced; imbalanced classes are weighted."
    counts = frame.group_by(target).agg(pl.len().alias("n")).sort("n").collect()
    if counts.height < 2:
        return Guardrail("class_imbalance", "Passed", desc, "Single class; nothing to balance.")
    smallest, largest = int(counts["n"][0]), int(counts["n"][-1])
    ratio = smallest / largest
    label = counts[target][0]
    if ratio < IMBALANCE_RATIO:
        return Guardrail("class_imbalance", "Alerted", desc,
                         f"The smallest class {label!r} has {smallest} rows, {ratio:.1%} of the largest "
                         f"class ({largest}); prefer AUC or balanced accuracy as the metric.", (target,))
    return Guardrail("class_imbalance", "Passed", desc,
                     f"Smallest class is {ratio:.0%} of the largest.")


def _high_cardinality(high: list[str], uniques: dict[str, int]) -> Guardrail:
    desc = (f"Text columns with more than {HIGH_CARDINALITY} distinct values are one-hot encoded "
            "with a cap on categories; rare values share one bucket.")
    if not high:
        return Guardrail("high_cardinality", "Passed", desc, "No high-cardinality text columns.")
    parts = [f"{c} ({uniques[c]} values)" for c in high]
    return Guardrail("high_cardinality", "Done", desc,
                     f"Capped categories of {_short(parts)}.", tuple(high))


def _id_like(cols: list[str]) -> Guardrail:
    desc = "Columns with a distinct value on (almost) every row carry no signal and are dropped."
    if not cols:
        return Guardrail("id_like_columns", "Passed", desc, "No ID-like columns.")
    return Guardrail("id_like_columns", "Done", desc, f"Dropped ID-like column(s): {_short(cols)}.",
                     tuple(cols))


def _constant(cols: list[str], nulls: dict[str, int], n_rows: int) -> Guardrail:
    desc = "Constant and all-null columns carry no signal and are dropped."
    if not cols:
        return Guardrail("constant_columns", "Passed", desc, "No constant or all-null columns.")
    parts = [f"{c} (all null)" if nulls[c] == n_rows else c for c in cols]
    return Guardrail("constant_columns", "Done", desc, f"Dropped {_short(parts)}.", tuple(cols))


def _duplicates(frame: pl.LazyFrame, cols: list[str], n_rows: int) -> Guardrail:
    """Rows equal to another row in every column, the target included.

    Such rows are often legitimate (distinct events that share every recorded value, e.g. flights
    on the same schedule), so the advice never drops them; it says what they do to validation.
    """
    desc = ("Rows identical to another row in every column (the target included) weigh more in "
            "training and can sit in both the training and the validation part of a split.")
    distinct = int(frame.select(cols).unique().select(pl.len()).collect().item())
    dup = n_rows - distinct
    if dup == 0:
        return Guardrail("duplicated_rows", "Passed", desc, "No duplicated rows.")
    return Guardrail("duplicated_rows", "Alerted", desc,
                     f"{dup} of {n_rows} rows ({dup / n_rows:.1%}) repeat another row in every column. If they are "
                     "distinct records that share these values, keep them (validation scores may be slightly "
                     "optimistic); if they are copies of one record (a repeated load), remove the copies "
                     "where the data is produced.")


def _bin_expr(col: str, dtype: pl.DataType, n_rows: int) -> pl.Expr:
    # Numbers are cut into equal-count bins so a single threshold rule shows up as pure bins.
    if _is_numeric(dtype) and dtype != pl.Boolean:
        n_bins = max(10, min(500, n_rows // 20))
        ranked = pl.col(col).cast(pl.Float64).rank("ordinal")
        return (ranked * n_bins / (pl.col(col).count() + 1)).floor().cast(pl.Int64).cast(pl.String)
    if dtype.is_temporal():
        return pl.col(col).cast(pl.String)
    return pl.col(col).cast(pl.String)


def _leakage(frame: pl.LazyFrame, target: str, task: str, candidates: list[str],
             schema: pl.Schema, uniques: dict[str, int], n_rows: int) -> Guardrail:
    desc = ("A single feature that predicts the target almost perfectly usually leaks the answer "
            "(it is computed from the target or known only afterwards).")
    if n_rows < 20:
        return Guardrail("target_leakage", "Passed", desc, "Too few rows to test for leakage.")
    leaks: list[str] = []
    scores: dict[str, float] = {}
    for col in candidates:
        if uniques[col] > n_rows / 20 and not _is_numeric(schema[col]):
            continue  # too many groups: purity would be high by chance
        score = _predictive_score(frame, col, schema[col], target, task, n_rows)
        if score is not None and score >= LEAKAGE_SCORE[task]:
            leaks.append(col)
            scores[col] = score
    if not leaks:
        return Guardrail("target_leakage", "Passed", desc, "No single feature predicts the target.")
    parts = [f"{c} (score {scores[c]:.3f})" for c in leaks]
    return Guardrail("target_leakage", "Alerted", desc,
                     f"Feature(s) {_short(parts)} predict the target almost perfectly; "
                     "check that they are known before the target, or drop them.", tuple(leaks))


def _predictive_score(frame: pl.LazyFrame, col: str, dtype: pl.DataType, target: str, task: str,
                      n_rows: int) -> float | None:
    binned = frame.select(_bin_expr(col, dtype, n_rows).alias("__bin"), pl.col(target).alias("__y"))
    binned = binned.filter(pl.col("__y").is_not_null())
    if task == "classification":
        per = (binned.group_by("__bin", "__y").agg(pl.len().alias("n"))
               .group_by("__bin").agg(pl.col("n").max().alias("top"), pl.col("n").sum().alias("tot")))
        row = per.select(pl.col("top").sum(), pl.col("tot").sum()).collect()
        base = binned.group_by("__y").agg(pl.len().alias("n")).select(pl.col("n").max()).collect().item()
        total = int(row["tot"][0])
        if total == 0 or base is None or base >= total:
            return None
        purity = int(row["top"][0]) / total
        baseline = int(base) / total
        return (purity - baseline) / (1.0 - baseline)
    y = pl.col("__y").cast(pl.Float64)
    within = binned.group_by("__bin").agg(((y - y.mean()) ** 2).sum().alias("ss"))
    ss_within = within.select(pl.col("ss").sum()).collect().item()
    ss_total = binned.select(((y - y.mean()) ** 2).sum()).collect().item()
    if not ss_total:
        return None
    return 1.0 - float(ss_within or 0.0) / float(ss_total)
