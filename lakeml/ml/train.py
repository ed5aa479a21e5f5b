"""Train one model family on a frame: featurize, validate, refit, export to ONNX, prove parity.

The building blocks (``fit_pipeline``, ``evaluate``, ``export_with_parity``, ``data_fingerprint``)
are public so AutoML can reuse them for every trial.

Example:
    >>> result = train_frame(df, target="churned", model="random_forest", params={"n_estimators": 50})
    >>> result.metrics["auc"], result.parity.passed
"""

from __future__ import annotations

import hashlib
import io
import time
import warnings
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import polars as pl
from sklearn.pipeline import Pipeline

from lakeml.errors import ConfigError, LakeMLError, ModelError, TrainingError

if TYPE_CHECKING:
    from lakeml.registry.context import ModelsContext
    from lakeml.registry.registry import ModelVersion
from lakeml.ml.families import Family, get_family, resolve_jobs
from lakeml.ml.featurize import (
    FeaturePlan,
    build_featurizer,
    check_features,
    null_rules,
    plan_features,
    to_pandas,
)
from lakeml.ml.importance import column_importances, feature_importances
from lakeml.ml.metrics import compute_metrics
from lakeml.ml.onnx_export import to_onnx
from lakeml.ml.parity import ParityReport, align_thresholds, check_parity
from lakeml.ml.tasks import TargetInfo, check_target, prepare_target
from lakeml.ml.validation import Split, choose_validation, describe_validation
from lakeml.registry.manifest import NULL_RULES_KEY

IMBALANCE_SHARE = 0.1
MAX_PARITY_ROWS = 100_000


def data_fingerprint(frame: pl.DataFrame) -> str:
    """SHA-256 of the frame's schema and Arrow IPC bytes (same data, same fingerprint)."""
    digest = hashlib.sha256(str(list(frame.schema.items())).encode())
    step = 100_000
    for start in range(0, frame.height, step):
        buf = io.BytesIO()
        frame.slice(start, step).rechunk().write_ipc(buf, compression="uncompressed")
        digest.update(buf.getvalue())
    return "sha256:" + digest.hexdigest()


def cpu_limit(n_jobs: int | None) -> AbstractContextManager[Any]:
    """Cap OpenMP/BLAS threads at ``n_jobs`` (-1: the idle cores; HistGradientBoosting has no n_jobs
    of its own, and OpenMP threads beyond the idle cores slow a fit down, see ``idle_cores``)."""
    if n_jobs is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=resolve_jobs(n_jobs))


def fit_pipeline(plan: FeaturePlan, family: Family, params: dict[str, Any], X: pd.DataFrame, y: np.ndarray,
                 *, task: str, seed: int = 0, n_jobs: int | None = None) -> Pipeline:
    """Fit ``featurizer -> estimator`` and align tree thresholds to float32 (see parity.py).

    Raises:
        ConfigError: invalid parameter values. TrainingError: the estimator failed to fit.
    """
    estimator = family.make_estimator(params, task=task, seed=seed, n_jobs=n_jobs)
    pipeline = Pipeline([("featurize", build_featurizer(plan, for_trees=family.for_trees)),
                         ("model", estimator)])
    try:
        with warnings.catch_warnings(), cpu_limit(n_jobs):
            warnings.simplefilter("ignore")  # convergence chatter; metrics tell the real story
            pipeline.fit(X, y)
    except LakeMLError:
        raise
    except (TypeError, ValueError) as exc:
        name = type(exc).__name__
        if name == "InvalidParameterError" or "parameter" in str(exc).lower():
            raise ConfigError(f"Invalid parameters for '{family.name}': {exc}",
                              hint=f"Check [[params=|--param]] against the defaults "
                                   f"{dict(family.default_params)}.") from exc
        raise TrainingError(f"Fitting '{family.name}' failed: {str(exc)[:300]}",
                            hint="Check the data (types, values) or try another model family.") from exc
    align_thresholds(pipeline)
    return pipeline


def _proba_full(pipeline: Pipeline, X: pd.DataFrame, classes: np.ndarray) -> np.ndarray:
    """Class probabilities in ``classes`` order, zeros for classes missing from a fold's training rows."""
    proba = pipeline.predict_proba(X)
    fitted = np.asarray(pipeline.classes_).astype(str)
    if len(fitted) == len(classes) and (fitted == classes.astype(str)).all():
        return np.asarray(proba)
    out = np.zeros((len(X), len(classes)))
    position = {c: i for i, c in enumerate(classes.astype(str))}
    for j, c in enumerate(fitted):
        out[:, position[c]] = proba[:, j]
    return out


def evaluate(plan: FeaturePlan, family: Family, params: dict[str, Any], X: pd.DataFrame, y: np.ndarray,
             splits: list[tuple[np.ndarray, np.ndarray]], *, task: str, classes: np.ndarray | None,
             seed: int = 0, n_jobs: int | None = None) -> dict[str, float]:
    """Fit on each split's training rows and return the metrics averaged over the splits."""
    per_split: list[dict[str, float]] = []
    for train_idx, valid_idx in splits:
        model = fit_pipeline(plan, family, params, X.iloc[train_idx], y[train_idx], task=task, seed=seed,
                             n_jobs=n_jobs)
        X_valid, y_valid = X.iloc[valid_idx], y[valid_idx]
        with cpu_limit(n_jobs):
            if task == "classification":
                assert classes is not None
                proba = _proba_full(model, X_valid, classes)
                per_split.append(compute_metrics(task, y_valid, proba, list(classes)))
            else:
                per_split.append(compute_metrics(task, y_valid, model.predict(X_valid)))
    return {k: float(np.nanmean([m[k] for m in per_split])) if not all(np.isnan(m[k]) for m in per_split)
            else float("nan") for k in per_split[0]}


def export_with_parity(pipeline: Pipeline, sample: pl.DataFrame, X_valid: pd.DataFrame,
                       task: str) -> tuple[bytes, ParityReport]:
    """Export a fitted pipeline to ONNX and check parity on (at most 100k) validation rows."""
    onnx_bytes = to_onnx(pipeline, sample=sample)
    return onnx_bytes, check_parity(pipeline, onnx_bytes, X_valid.iloc[:MAX_PARITY_ROWS], task)


@dataclass
class TrainResult:
    """What :func:`train_frame` returns.

    Attributes:
        pipeline: the fitted scikit-learn pipeline (featurizer + estimator), refit on all rows.
        metrics: validation metrics (averaged over folds for k-fold).
        feature_importances: per source column (``column``, ``importance``), most important first.
        feature_importances_detail: per encoded feature (``feature``, ``column``, ``importance``).
        plan: the featurization plan. parity: the ONNX parity report. onnx_bytes: the exported model.
        task, family, params, classes, validation, lineage, timings: the training record.
    """

    pipeline: Pipeline
    metrics: dict[str, float]
    feature_importances: pl.DataFrame
    feature_importances_detail: pl.DataFrame
    plan: FeaturePlan
    parity: ParityReport
    onnx_bytes: bytes
    task: str
    family: str
    params: dict[str, Any]
    classes: list[Any]
    validation: str
    lineage: dict[str, Any]
    timings: dict[str, float]
    target_info: TargetInfo
    seed: int
    _lake: ModelsContext | None = field(default=None, repr=False)

    def summary(self) -> dict[str, Any]:
        """The JSON-serializable training record stored in the model manifest's ``extra``."""
        return {
            "training": {"family": self.family, "params": _jsonable(self.params), "task": self.task,
                         "target": self.plan.target, "classes": [_jsonable(c) for c in self.classes],
                         "validation": self.validation, "seed": self.seed, "timings_s": self.timings,
                         "rows_with_null_target_dropped": self.target_info.n_null_dropped},
            "featurization": self.plan.summary(),
            NULL_RULES_KEY: null_rules(self.plan, self.pipeline.steps[0][1]),
            "parity": self.parity.to_dict(),
            "feature_importances": self.feature_importances.to_dicts(),
        }

    def register(self, name: str, *, description: str | None = None,
                 tags: dict[str, Any] | None = None) -> ModelVersion:
        """Register the ONNX model with its metrics, lineage and training record.

        Returns:
            The registry's ``ModelVersion``.

        Raises:
            ModelError: parity failed (such a model is never registered), or the result has no lake.
        """
        if not self.parity.passed:
            raise ModelError(f"Not registering '{name}': its ONNX export disagrees with the native model "
                             f"(max difference {self.parity.max_abs_diff:.3g}, "
                             f"{self.parity.label_flips} label flips).",
                             hint="Try another model family; parity failures are a lakeml bug worth reporting.")
        if self._lake is None:
            raise ModelError("This training result is not attached to a lake.",
                             hint="Train with lake.train(...) or call lake.models.register(result.onnx_bytes, ...).")
        return self._lake.models.register(self.onnx_bytes, name=name, description=description, tags=tags,
                                          metrics=self.metrics, lineage=self.lineage, extra=self.summary())

    def predict(self, data: pl.DataFrame | pd.DataFrame) -> np.ndarray:
        """Native predictions (labels or values) for rows with the training columns."""
        return np.asarray(self.pipeline.predict(self._features(data)))

    def predict_proba(self, data: pl.DataFrame | pd.DataFrame) -> np.ndarray:
        """Native class probabilities, columns in ``classes`` order (classification only).

        Raises:
            ConfigError: the model is a regressor.
        """
        if self.task != "classification":
            raise ConfigError("predict_proba needs a classification model.", hint="Use predict() for regression.")
        return np.asarray(self.pipeline.predict_proba(self._features(data)))

    def _features(self, data: pl.DataFrame | pd.DataFrame) -> pd.DataFrame:
        frame = data if isinstance(data, pl.DataFrame) else pl.from_pandas(data)
        return to_pandas(frame, self.plan)

    def _repr_html_(self) -> str:
        from lakeml._html import card

        p = self.parity
        fields = [("family", self.family), ("task", self.task), ("target", self.plan.target),
                  ("rows", f"{self.lineage.get('rows', 0):,}"), ("validation", self.validation),
                  *((f"{k} (validation)", v) for k, v in self.metrics.items()),
                  ("ONNX parity", f"{'passed' if p.passed else 'FAILED'} (max |diff| {p.max_abs_diff:.2g})"),
                  ("seconds", self.timings.get("total", 0.0))]
        return card(f"TrainResult: {self.family} {self.task}", fields,
                    [("feature importance", self.feature_importances)])

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.metrics.items())
        return (f"TrainResult(family={self.family!r}, task={self.task!r}, {shown}, "
                f"parity={'passed' if self.parity.passed else 'FAILED'})")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def default_params(family: Family, info: TargetInfo, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The parameters ``lake.train`` fits ``family`` with: the caller's, plus balanced class weights
    when the rarest class has under 10% of the rows and the caller did not choose."""
    merged = dict(params or {})
    if (info.task == "classification" and info.minority_share < IMBALANCE_SHARE and family.supports_class_weight
            and "class_weight" not in merged):
        merged["class_weight"] = "balanced"
    return merged


@dataclass(frozen=True)
class PreparedTraining:
    """What every trainer starts from: the checked target, its usable rows, features, labels and splits."""

    info: TargetInfo
    rows: pl.DataFrame  # the rows whose target is set (not null, not NaN)
    plan: FeaturePlan
    y: np.ndarray
    classes: np.ndarray | None  # the sorted class labels (classification), else None
    splits: list[Split]


def prepare_training(frame: pl.DataFrame, *, target: str, task: str | None, roles: dict[str, str] | None,
                     seed: int, model: str, tasks: Collection[str],
                     alternatives: Callable[[str], str]) -> PreparedTraining:
    """Check the target and the family's task, keep the rows with a target, plan features, choose splits.

    ``tasks`` are the tasks the family ``model`` supports; ``alternatives(task)`` names what to pick
    instead when it does not support the target's task.
    """
    info = check_target(frame, target, task)
    if info.task not in tasks:
        raise ConfigError(f"Model family '{model}' does not support {info.task}.",
                          hint=f"Pass [[task=...|--task]] explicitly if '{info.task}' was guessed wrong, or pick "
                               f"{alternatives(info.task)}.")
    usable = pl.col(target).is_not_null()
    if frame.schema[target].is_float():
        usable = usable & pl.col(target).is_not_nan()
    rows = frame.filter(usable)
    plan = plan_features(rows, target, roles)
    check_features(plan)
    y = prepare_target(rows.get_column(target), info.task)
    classes = np.unique(y) if info.task == "classification" else None
    return PreparedTraining(info, rows, plan, y, classes, choose_validation(len(y), info.task, y, seed))


def train_frame(frame: pl.DataFrame, *, target: str, model: str = "lightgbm",
                params: dict[str, Any] | None = None, task: str | None = None,
                roles: dict[str, str] | None = None, seed: int = 0, n_jobs: int | None = None,
                source: str | None = None) -> TrainResult:
    """Train, validate, refit, export and parity-check one model family on an in-memory frame.

    See :func:`lakeml.ml.api.train` for the arguments; ``source`` is the lineage description.
    """
    t0 = time.perf_counter()
    family = get_family(model)
    prepared = prepare_training(frame, target=target, task=task, roles=roles, seed=seed, model=model,
                                tasks=family.tasks, alternatives=lambda task: f"a family for {task}")
    info, data, plan, y, classes, splits = (prepared.info, prepared.rows, prepared.plan, prepared.y,
                                            prepared.classes, prepared.splits)
    X = to_pandas(data, plan)
    merged = default_params(family, info, params)
    t1 = time.perf_counter()
    metrics = evaluate(plan, family, merged, X, y, splits, task=info.task, classes=classes, seed=seed,
                       n_jobs=n_jobs)
    t2 = time.perf_counter()
    pipeline = fit_pipeline(plan, family, merged, X, y, task=info.task, seed=seed, n_jobs=n_jobs)
    t3 = time.perf_counter()
    valid_idx = np.concatenate([v for _, v in splits])
    onnx_bytes, parity = export_with_parity(pipeline, data.select(plan.inputs).head(10), X.iloc[valid_idx],
                                            info.task)
    t4 = time.perf_counter()
    lineage = {"source": source or "frame", "target": target, "rows": data.height,
               "rows_in_source": frame.height, "fingerprint": data_fingerprint(frame)}
    return TrainResult(
        pipeline=pipeline, metrics=metrics, feature_importances=column_importances(pipeline),
        feature_importances_detail=feature_importances(pipeline), plan=plan, parity=parity, onnx_bytes=onnx_bytes,
        task=info.task, family=family.name, params=merged,
        classes=[_jsonable(c) for c in (classes if classes is not None else [])],
        validation=describe_validation(splits, len(y)), lineage=lineage,
        timings={"prepare": t1 - t0, "validate": t2 - t1, "refit": t3 - t2, "export": t4 - t3,
                 "total": time.perf_counter() - t0},
        target_info=info, seed=seed,
    )


__all__ = ["PreparedTraining", "TrainResult", "data_fingerprint", "default_params", "evaluate", "export_with_parity",
           "fit_pipeline", "prepare_training", "train_frame"]
