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
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from lakeml.ml.featurize import DatetimeParts

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


def raw_importances(estimator: Any, n_features: int) -> np.ndarray:
    """Unnormalised importances of the final estimator over its input features (zeros if unknown)."""
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


def feature_importances(pipeline: Pipeline) -> pl.DataFrame:
    """Importances per encoded feature: columns ``feature``, ``column`` (source), ``importance``.

    ``pipeline`` is ``Pipeline([(featurizer), (estimator)])`` as lakeml trains it.
    """
    ct = pipeline.steps[0][1]
    if not isinstance(ct, ColumnTransformer):
        return pl.DataFrame(schema=_SCHEMA)
    pairs = _output_sources(ct)
    values = raw_importances(pipeline.steps[-1][1], len(pairs))
    if len(values) != len(pairs):
        return pl.DataFrame(schema=_SCHEMA)
    total = float(values.sum())
    norm = values / total if total > 0 else values
    return pl.DataFrame({"feature": [p[0] for p in pairs], "column": [p[1] for p in pairs],
                         "importance": norm.astype(np.float64)}, schema=_SCHEMA)


def column_importances(pipeline: Pipeline) -> pl.DataFrame:
    """Importances summed per source column, most important first: ``column``, ``importance``."""
    detail = feature_importances(pipeline)
    return (detail.group_by("column").agg(pl.col("importance").sum())
            .sort(["importance", "column"], descending=[True, False]))
