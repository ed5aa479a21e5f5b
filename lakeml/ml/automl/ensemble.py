"""Voting ensembles of the top trials: greedy selection on validation predictions, then a model.

Selection is Caruana-style forward selection with replacement over the best distinct trials'
validation predictions; the resulting weights are the selection counts. The ensemble is kept only
when its validation score beats the best single model. The fitted ensemble is one pipeline: a shared
featurizer followed by scikit-learn's soft ``VotingClassifier`` / ``VotingRegressor``, which exports
to ONNX like any single model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.ensemble import VotingClassifier, VotingRegressor
from sklearn.pipeline import Pipeline

from lakeml.ml.families import FAMILIES
from lakeml.ml.featurize import build_featurizer


@dataclass(frozen=True)
class EnsemblePlan:
    """Which trials to combine, with integer voting weights, and the validation score reached."""

    trial_ids: tuple[int, ...]
    weights: tuple[float, ...]
    score: float


def select(candidates: Sequence[tuple[int, np.ndarray]], score: Callable[[np.ndarray], float], *,
           greater_is_better: bool, rounds: int = 15) -> EnsemblePlan | None:
    """Forward-select (with replacement) an average of candidate predictions.

    Args:
        candidates: ``(trial_id, validation predictions)`` of the best trials, best first.
        score: metric of a prediction array on the validation rows.
        greater_is_better: direction of ``score``.
        rounds: selection steps (the sum of the integer weights).

    Returns:
        The plan, or None when fewer than two distinct trials end up selected.
    """
    if len(candidates) < 2:
        return None
    sign = 1.0 if greater_is_better else -1.0
    total = np.zeros_like(candidates[0][1], dtype=np.float64)
    counts = [0] * len(candidates)
    best_score = -np.inf
    for step in range(1, rounds + 1):
        trial_scores = [sign * score((total + p) / step) for _, p in candidates]
        pick = int(np.argmax(trial_scores))
        if trial_scores[pick] < best_score - 1e-12 and step > 2:
            break
        total += candidates[pick][1]
        counts[pick] += 1
        best_score = max(best_score, trial_scores[pick])
    chosen = [(candidates[i][0], float(c)) for i, c in enumerate(counts) if c > 0]
    if len(chosen) < 2:
        return None
    used = sum(c for _, c in chosen)
    final = np.zeros_like(total)
    for i, c in enumerate(counts):
        final += c * candidates[i][1]
    return EnsemblePlan(tuple(t for t, _ in chosen), tuple(w for _, w in chosen), float(score(final / used)))


def make_voting(payload: dict[str, Any], members: list[tuple[str, dict[str, Any]]],
                weights: list[float] | None, *, n_jobs: int = 1) -> Pipeline:
    """An unfitted featurizer + soft-voting pipeline over ``members`` (family, params)."""
    task, seed = payload["task"], payload["seed"]
    for_trees = all(FAMILIES[f].for_trees for f, _ in members)
    estimators = [(f"m{i}_{family}", FAMILIES[family].make_estimator(dict(params), task=task, seed=seed,
                                                                      n_jobs=n_jobs))
                  for i, (family, params) in enumerate(members)]
    voter: Any
    # skl2onnx's voting converter needs the weights as an array (it calls .sum() on them).
    w = np.asarray(weights, dtype=np.float64) if weights is not None else None
    if task == "classification":
        voter = VotingClassifier(estimators, voting="soft", weights=w, flatten_transform=False)
    else:
        voter = VotingRegressor(estimators, weights=w)
    return Pipeline([("features", build_featurizer(payload["plan"], for_trees=for_trees)), ("model", voter)])
