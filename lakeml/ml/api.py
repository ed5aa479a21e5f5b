"""Public ML entry points behind ``Lake.train`` (``Lake.automl`` lives in ``lakeml.ml.automl``)."""

from __future__ import annotations

from typing import Any

from lakeml.ml.mllib import is_mllib, train_mllib
from lakeml.ml.rows import collect_rows
from lakeml.ml.train import TrainResult, train_frame
from lakeml.registry.context import ModelsContext


def _describe_source(lake: ModelsContext, data: Any) -> str:
    if isinstance(data, str):
        text = data.strip()
        return f"table:{text}" if text in set(lake.tables()) else f"query:{text}"
    return f"frame:{type(data).__module__.split('.')[0]}.{type(data).__name__}"


def train(lake: ModelsContext, data: Any, *, target: str, model: str = "lightgbm", params: dict[str, Any] | None = None,
          task: str | None = None, roles: dict[str, str] | None = None, seed: int = 0,
          n_jobs: int | None = None) -> TrainResult:
    """Train one model family on a lake table, a SQL query or a frame.

    The rows are collected on this machine (from a Spark lake as Arrow) and sorted by their values
    (:func:`lakeml.ml.rows.canonical_order`), so the split is the same on every engine. The data is
    featurized from its schema (see :mod:`lakeml.ml.featurize`), validated by size
    (5-fold cross-validation up to 10,000 rows, else a 20% holdout), refit on all rows,
    exported to ONNX and checked for parity with the native model.

    Args:
        lake: the lake session (``lake.train(...)`` passes itself).
        data: a table name, a SQL query, or a Polars/pandas/Arrow frame.
        target: the column to predict.
        model: a family from :data:`lakeml.ml.families.FAMILIES` (``lightgbm``, ``random_forest``,
            ``extra_trees``, ``hist_gradient_boosting``, ``logistic``, ``linear``); on a Spark lake also
            ``mllib.logistic_regression`` and ``mllib.linear_regression`` (the MLlib tree families are
            refused until their ONNX export has parity; see docs/engines.md and :mod:`lakeml.ml.mllib`).
        params: hyperparameters overriding the family defaults.
        task: ``classification`` or ``regression``; inferred from the target when None.
        roles: featurization overrides, column -> ``numeric`` / ``categorical`` / ``boolean`` /
            ``datetime`` / ``drop``.
        seed: random seed (same seed and data, same model).
        n_jobs: cores for the estimator; None means all cores.

    Returns:
        A :class:`~lakeml.ml.train.TrainResult`; ``result.register("name")`` adds it to the registry.

    Raises:
        TrainingError: unusable data (missing target, no rows, constant target, single class).
        ConfigError: unknown family, task, role or parameter.
        TableNotFoundError, SQLError: the data reference cannot be resolved.

    Example:
        >>> result = lake.train("customers", target="churned", model="random_forest")  # doctest: +SKIP
        >>> result.register("churn")  # doctest: +SKIP
    """
    if is_mllib(model):
        return train_mllib(lake, data, target=target, model=model, params=params, task=task, roles=roles,
                           seed=seed, source=_describe_source(lake, data))
    # On any engine the rows are collected here as Arrow, in an order that does not depend on the engine
    # (so the split and the metrics are the same on Polars and Spark); engine errors are translated at the
    # Lake boundary.
    frame = collect_rows(lake, data)
    result = train_frame(frame, target=target, model=model, params=params, task=task, roles=roles, seed=seed,
                         n_jobs=-1 if n_jobs is None else n_jobs, source=_describe_source(lake, data))
    result._lake = lake
    return result
