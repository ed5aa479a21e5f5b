"""Feature importances of a fitted lakeml pipeline, per encoded feature and per source column.

Tree models use their gain/impurity importances (LightGBM: total gain; HistGradientBoosting:
the summed split gains of its trees); linear models the absolute coefficients of the scaled
features (averaged over classes). Values are normalised to sum to 1.

Example:
    >>> column_importances(pipeline)
    shape: (3, 2) ... column | importance
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from lakeml.ml.featurize import DatetimeParts

MAX_PERMUTATION_ROWS = 5_000
_SCHEMA = {"feature": pl.String, "column": pl.String, "importance": pl.Float64}


def _output_sources(ct: ColumnTransformer) -> list[tuple[str, str]]:
    """(encoded feature name, source column) for every output column of the featurizer."""
    pairs: list[tuple[str, str]] = []
    for _name, step, cols in ct.transformers_:
        if isinstance(step, str):
            continue
        cols = [cols] if isinstance(cols, str) else list(cols)
        names = [str(n) for n in step.get_feature_names_out(cols)]
        last = step.steps[-1][1] if isinstance(step, Pipeline) else step
        steps = [s for _, s in step.steps] if isinstance(step, Pipeline) else [step]
        if isinstance(last, OneHotEncoder):
            sources = [c for c, cats in zip(cols, last.categories_, strict=True) for _ in cats]
        elif any(isinstance(s, DatetimeParts) for s in steps):
            sources = [cols[0]] * len(names)
        else:
            sources = cols
        pairs.extend(zip(names, sources, strict=True))
    return pairs


def _hgb_gains(model: Any, n_features: int) -> np.ndarray:
    gains = np.zeros(n_features)
    for per_iter in model._predictors:
        for predictor in per_iter:
            nodes = predictor.nodes[predictor.nodes["is_leaf"] == 0]
            np.add.at(gains, nodes["feature_idx"], np.maximum(nodes["gain"], 0.0))
    return gains


def _normalised(values: np.ndarray) -> np.ndarray:
    total = float(values.sum())
    return values / total if total > 0 else values


def raw_importances(estimator: Any, n_features: int) -> np.ndarray:
    """Unnormalised importances of the final estimator over its input features (zeros if unknown).

    Voting ensembles average their members' normalised importances with the voting weights.
    """
    members = getattr(estimator, "estimators_", None)
    if type(estimator).__name__.startswith("Voting") and members:
        weights = np.asarray(estimator.weights if estimator.weights is not None else [1.0] * len(members),
                             dtype=np.float64)
        parts = [_normalised(raw_importances(m, n_features)) for m in members]
        return np.asarray(sum(w * p for w, p in zip(weights, parts, strict=True)), dtype=np.float64)
    if hasattr(estimator, "booster_"):
        return np.asarray(estimator.booster_.feature_importance(importance_type="gain"), dtype=np.float64)
    if hasattr(estimator, "_predictors"):
        return _hgb_gains(estimator, n_features)
    if hasattr(estimator, "feature_importances_"):
        return np.asarray(estimator.feature_importances_, dtype=np.float64)
    if hasattr(estimator, "coef_"):
        coef = np.abs(np.atleast_2d(np.asarray(estimator.coef_, dtype=np.float64)))
        return coef.mean(axis=0)
    return np.zeros(n_features)


def _permutation(pipeline: Pipeline, X: pd.DataFrame, y: Any, seed: int) -> pl.DataFrame:
    from sklearn.inspection import permutation_importance

    rows = min(len(X), MAX_PERMUTATION_ROWS)
    result = permutation_importance(pipeline, X.iloc[:rows], np.asarray(y)[:rows], n_repeats=3,
                                    random_state=seed, n_jobs=1)
    values = _normalised(np.maximum(np.asarray(result.importances_mean, dtype=np.float64), 0.0))
    names = [str(c) for c in X.columns]
    return pl.DataFrame({"feature": names, "column": names, "importance": values}, schema=_SCHEMA)


def feature_importances(pipeline: Pipeline, X: pd.DataFrame | None = None, y: Any = None, *,
                        task: str | None = None, seed: int = 0) -> pl.DataFrame:
    """Importances per encoded feature: columns ``feature``, ``column`` (source), ``importance``.

    ``pipeline`` is ``Pipeline([(featurizer), (estimator)])`` as lakeml trains it. When the
    estimator has no native importances and ``X``/``y`` (source columns, validation rows) are
    given, permutation importance per source column is used instead (at most 5,000 rows).
    ``task`` is accepted for symmetry with the other ML helpers; the pipeline's own score is used.
    """
    ct = pipeline.steps[0][1] if isinstance(pipeline, Pipeline) else None
    if isinstance(ct, ColumnTransformer):
        pairs = _output_sources(ct)
        values = raw_importances(pipeline.steps[-1][1], len(pairs))
        if len(values) == len(pairs) and float(values.sum()) > 0:
            return pl.DataFrame({"feature": [p[0] for p in pairs], "column": [p[1] for p in pairs],
                                 "importance": _normalised(values)}, schema=_SCHEMA)
    if X is not None and y is not None and len(X) > 0:
        return _permutation(pipeline, X, y, seed)
    return pl.DataFrame(schema=_SCHEMA)


def column_importances(pipeline: Pipeline) -> pl.DataFrame:
    """Importances summed per source column, most important first: ``column``, ``importance``."""
    detail = feature_importances(pipeline)
    return (detail.group_by("column").agg(pl.col("importance").sum())
            .sort(["importance", "column"], descending=[True, False]))
