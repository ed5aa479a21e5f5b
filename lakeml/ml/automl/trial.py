"""What a worker process does: evaluate one configuration on the validation folds, or refit.

These functions run inside :mod:`lakeml.ml.automl.workers` processes. They receive the shared
``payload`` (training frame, target, folds, plan, task, classes, metric, seed) and a per-worker
``cache`` where fitted featurizers and their outputs are kept per fold, so trials of the same
kind (tree or not) featurize each fold only once.
"""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from lakeml.ml.families import FAMILIES
from lakeml.ml.featurize import build_featurizer
from lakeml.ml.metrics import compute_metrics
from lakeml.ml.parity import align_thresholds


@dataclass(frozen=True)
class TrialOutput:
    """The result of one trial: metrics on the validation rows and the predictions behind them."""

    metrics: dict[str, float]
    predictions: np.ndarray  # validation predictions (probabilities for classification), float64
    fit_seconds: float
    model: Any = None  # the last fold's fitted pipeline, when asked for (a fallback final model)


class TrialCancelled(Exception):
    """The executor gave up on this trial (its deadline passed): stop fitting, nobody wants the result."""


#: Trees a forest grows between two looks at its trial's cancel flag (in-process trials).
FOREST_STEP = 16


def _fit(model: Any, x: Any, y: np.ndarray, cancel: threading.Event | None) -> None:
    """``model.fit(x, y)``; with ``cancel``, a fit that stops soon after the flag is set.

    An in-process trial cannot be killed, and a thread left running at its deadline would take CPU
    (and the GIL, between its compiled loops) from the rest of the run. So LightGBM looks at the
    flag after every boosting round (a callback) and forests grow in steps of :data:`FOREST_STEP`
    trees (``warm_start``: the same trees as one fit, since the forest draws its trees' seeds in
    order). Other families are fast on the small tables that run in-process.

    Raises:
        TrialCancelled: the flag was set.
    """
    if cancel is None:
        model.fit(x, y)
        return
    if cancel.is_set():
        raise TrialCancelled
    from lightgbm import LGBMModel
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )

    if isinstance(model, LGBMModel):
        def check(_: Any) -> None:
            if cancel.is_set():
                raise TrialCancelled

        model.fit(x, y, callbacks=[check])
    elif isinstance(model, (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier,
                            ExtraTreesRegressor)):
        total = int(model.n_estimators)
        for n in range(min(FOREST_STEP, total), total + FOREST_STEP, FOREST_STEP):
            model.set_params(n_estimators=min(n, total), warm_start=True)
            model.fit(x, y)
            if cancel.is_set():
                raise TrialCancelled
            if n >= total:
                break
        model.set_params(warm_start=False)
    else:
        model.fit(x, y)
    if cancel.is_set():
        raise TrialCancelled


def sample_order(y_train: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of a fold's training positions; every class appears in its first rows.

    A trial on ``sample`` rows fits on the first ``sample`` positions, so samples nest (a larger
    sample contains every smaller one) and a rare class is never lost to sampling.
    """
    order = np.random.default_rng(seed).permutation(len(y_train))
    _, first = np.unique(y_train[order], return_index=True)
    if len(first) > 1000:  # regression targets: no class to protect
        return order
    front = order[np.sort(first)]
    rest = np.delete(order, np.sort(first))
    return np.concatenate([front, rest])


def _features(payload: dict[str, Any], cache: dict[str, Any], fold: int, for_trees: bool, sample: int | None,
              ) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
    """Featurized training rows (the first ``sample`` of the fold's sample order), their target, validation rows.

    The featurizer is fitted once per fold on the sample, or on all its training rows once a trial
    uses them all; it is cached per worker.
    """
    train_idx, valid_idx = payload["folds"][fold]
    n = len(train_idx) if sample is None else min(int(sample), len(train_idx))
    rows = train_idx if n == len(train_idx) else np.sort(train_idx[payload["orders"][fold][:n]])
    key = f"fold{fold}:{'trees' if for_trees else 'linear'}:{n}"
    # In-process trials share one cache between threads (see threads.py), which put a lock in it.
    with cache.get("lock") or contextlib.nullcontext():
        if key not in cache:
            # keep one featurized sample per fold and kind: the search moves to larger samples
            for old in [k for k in cache if k.startswith(f"fold{fold}:{'trees' if for_trees else 'linear'}:")]:
                del cache[old]
            X = payload["X"]
            featurizer = build_featurizer(payload["plan"], for_trees=for_trees)
            x_train = np.asarray(featurizer.fit_transform(X.iloc[rows], payload["y"][rows]))
            x_valid = np.asarray(featurizer.transform(X.iloc[valid_idx]))
            cache[key] = (featurizer, x_train, x_valid)
        featurizer, x_train, x_valid = cache[key]
    return featurizer, x_train, payload["y"][rows], x_valid


def _predict(model: Any, x: np.ndarray, task: str, classes: list[Any] | None) -> np.ndarray:
    if task != "classification":
        return np.asarray(model.predict(x), dtype=np.float64)
    proba = np.asarray(model.predict_proba(x), dtype=np.float64)
    assert classes is not None
    if len(model.classes_) == len(classes):
        return proba
    # A fold whose training part lacked a class: put the known columns where they belong.
    full = np.zeros((proba.shape[0], len(classes)), dtype=np.float64)
    index = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(model.classes_):
        full[:, index[c]] = proba[:, j]
    return full


def validation_rows(payload: dict[str, Any]) -> np.ndarray:
    """Indices of all validation rows, in the order trial predictions are returned."""
    return np.concatenate([np.asarray(v) for _, v in payload["folds"]])


def run_trial(payload: dict[str, Any], *, cache: dict[str, Any], family: str,
              params: dict[str, Any], sample: int | None = None, return_model: bool = False,
              cancel: threading.Event | None = None) -> TrialOutput:
    """Fit ``family`` with ``params`` on every fold; score the out-of-fold predictions.

    ``sample``: fit on at most this many training rows per fold (None: all); validation rows are
    always all of them, so scores of every sample size compare on the same rows.

    With ``return_model``, the last fold's pipeline comes back too: the final model to fall back
    on when the budget leaves no time to refit on all rows.

    ``cancel``: set by an in-process executor when it gives up on the trial (see :func:`_fit`).
    """
    fam = FAMILIES[family]
    task, classes, y = payload["task"], payload["classes"], payload["y"]
    started = time.perf_counter()
    preds = []
    featurizer: Any = None
    model: Any = None
    for fold in range(len(payload["folds"])):
        featurizer, x_train, y_train, x_valid = _features(payload, cache, fold, fam.for_trees, sample)
        model = fam.make_estimator(dict(params), task=task, seed=payload["seed"], n_jobs=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _fit(model, x_train, y_train, cancel)
        preds.append(_predict(model, x_valid, task, classes))
    predictions = np.concatenate(preds, axis=0)
    rows = validation_rows(payload)
    metrics = compute_metrics(task, y[rows], predictions, classes)
    seconds = time.perf_counter() - started
    fitted = None
    if return_model:
        fitted = Pipeline([("features", featurizer), ("model", model)])
        align_thresholds(fitted)
    return TrialOutput({k: float(v) for k, v in metrics.items()}, predictions, seconds, fitted)


def make_pipeline(payload: dict[str, Any], family: str, params: dict[str, Any], *, n_jobs: int) -> Pipeline:
    """The unfitted featurizer + estimator pipeline of one configuration."""
    fam = FAMILIES[family]
    return Pipeline([
        ("features", build_featurizer(payload["plan"], for_trees=fam.for_trees)),
        ("model", fam.make_estimator(dict(params), task=payload["task"], seed=payload["seed"], n_jobs=n_jobs)),
    ])


def refit(payload: dict[str, Any], *, cache: dict[str, Any], members: list[tuple[str, dict[str, Any]]],
          weights: list[float] | None = None, rows: int | None = None, n_jobs: int = 1,
          cancel: threading.Event | None = None) -> tuple[Any, float]:
    """Fit the final model on all rows (or a seeded sample of ``rows``): one pipeline, or a voting ensemble.

    ``n_jobs``: threads for the estimator (the final refit runs alone, so it uses every core).
    ``cancel``: set by an in-process executor when it gives up on the refit (see :func:`_fit`).

    Returns:
        ``(fitted model, seconds)``; pickled back to the parent process (never stored).
    """
    from lakeml.ml.automl.ensemble import make_voting

    started = time.perf_counter()
    X, y = payload["X"], payload["y"]
    if rows is not None and rows < len(y):
        keep = np.sort(sample_order(y, payload["seed"])[:rows])
        X, y = X.iloc[keep], y[keep]
    if len(members) == 1:
        family, params = members[0]
        model: Any = make_pipeline(payload, family, params, n_jobs=n_jobs)
    else:
        model = make_voting(payload, members, weights, n_jobs=n_jobs)
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=n_jobs):
        warnings.simplefilter("ignore")
        if cancel is not None and isinstance(model, Pipeline):  # in-process: a fit that can be given up
            _fit(model.steps[-1][1], model.steps[0][1].fit_transform(X, y), y, cancel)
        else:
            model.fit(X, y)
    align_thresholds(model)  # float32 split thresholds, so ONNX and native agree (see parity.py)
    return model, time.perf_counter() - started
