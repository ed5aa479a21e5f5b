"""``Lake.automl``: hyperopt TPE over model families under one hard wall-clock budget.

The budget starts when :func:`automl` is called and covers reading the data, guardrails,
featurization, every trial, the final refit, the optional ensemble, the ONNX export with its
parity check and writing the run tables. Trials and the refit run in worker processes that are
killed at their deadline (see :mod:`lakeml.ml.automl.workers`), so the overrun stays within a few
seconds; it is measured and reported (``result.overrun_s``).

>>> result = lake.automl("flights", target="late", time_budget=60, seed=1)   # doctest: +SKIP
>>> result.leaderboard.head()                                                 # doctest: +SKIP
>>> result.register("flight_delay")                                           # doctest: +SKIP
"""

from __future__ import annotations

import os
import pickle
import secrets
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal

from lakeml.config import DEFAULT_EARLY_STOPPING
from lakeml.errors import ConfigError, TrainingError, choices_hint
from lakeml.ml.automl.budget import Clock
from lakeml.ml.automl.workers import WorkerPool

# Heavy modules (scikit-learn, hyperopt, ...) are imported inside automl(), after the clock has
# started: their import time is part of the budget, as the user experiences it.
if TYPE_CHECKING:
    from lakeml.ml.automl.data import PreparedData
    from lakeml.ml.automl.engine import Progress, TrialRecord
    from lakeml.ml.automl.result import AutoMLResult
    from lakeml.registry.context import ModelsContext


def _families(task: str, allowed: Sequence[str] | None, blocked: Sequence[str] | None) -> list[str]:
    from lakeml.ml.automl.space import SPACES
    from lakeml.ml.families import FAMILIES

    known = [f for f in SPACES if f in FAMILIES]
    for name in [*(allowed or []), *(blocked or [])]:
        if name not in FAMILIES:
            raise ConfigError(f"Unknown model family '{name}'.", hint=choices_hint(name, FAMILIES, kind="family"))
        if name not in SPACES:
            raise ConfigError(f"Model family '{name}' has no AutoML search space.",
                              hint=f"AutoML searches: {', '.join(known)}.")
    pool = [f for f in known if task in FAMILIES[f].tasks]
    if allowed:
        pool = [f for f in pool if f in allowed]
    if blocked:
        pool = [f for f in pool if f not in blocked]
    if not pool:
        usable = [f for f in known if task in FAMILIES[f].tasks]
        raise ConfigError(f"No model family left to search for {task} (allowed={list(allowed or [])}, "
                          f"blocked={list(blocked or [])}).",
                          hint=f"Families for {task}: {', '.join(usable)}.")
    return pool


def _warm_export() -> None:
    """Import the exporter and register its converters (run in a thread while trials run)."""
    import onnxruntime  # noqa: F401

    from lakeml.ml.onnx_export import register_converters

    register_converters()


def _check_args(time_budget: float | None, max_trials: int | None, n_jobs: int | None) -> None:
    if time_budget is None and max_trials is None:
        raise ConfigError("AutoML needs a time budget or a trial budget; both are None.",
                          hint="Pass [[time_budget=60|--budget 60]] (seconds) or [[max_trials=20]].")
    if time_budget is not None and not time_budget > 0:
        raise ConfigError(f"[[time_budget|--budget]] must be a positive number of seconds, got {time_budget!r}.",
                          hint="Pass e.g. [[time_budget=60|--budget 60]].")
    if max_trials is not None and max_trials < 1:
        raise ConfigError(f"[[max_trials|--max-trials]] must be at least 1, got {max_trials!r}.",
                          hint="Pass e.g. [[max_trials=20]].")
    if n_jobs is not None and n_jobs < 1:
        raise ConfigError(f"[[n_jobs|--n-jobs]] must be at least 1, got {n_jobs!r}.",
                          hint="[[Pass n_jobs=None|Leave out --n-jobs]] to use one worker per core.")


def _reserve(data: PreparedData) -> Callable[[TrialRecord | None], float]:
    """Seconds to keep free for the final refit, export, parity check and table writes."""
    import numpy as np

    n_folds = len(data.folds)
    train_rows = float(np.mean([len(t) for t, _ in data.folds]))
    grow = data.n_rows / max(train_rows, 1.0)
    fixed = 1.5 + data.n_rows * 2e-6

    def reserve(best: TrialRecord | None) -> float:
        if best is None:
            return fixed
        refit = best.seconds / n_folds * grow
        return fixed + 1.5 * refit + 0.5

    return reserve


def automl(
    lake: ModelsContext,
    data: Any,
    *,
    target: str,
    task: Literal["classification", "regression"] | None = None,
    metric: str | None = None,
    time_budget: float | None = 60,
    max_trials: int | None = None,
    seed: int | None = None,
    allowed: Sequence[str] | None = None,
    blocked: Sequence[str] | None = None,
    n_jobs: int | None = None,
    roles: dict[str, str] | None = None,
    ensemble: bool = True,
    early_stopping: int | None = DEFAULT_EARLY_STOPPING,
    max_rows: int | None = 1_000_000,
    progress: Callable[[Progress], None] | None = None,
) -> AutoMLResult:
    """Search model families and hyperparameters for the best model of ``target``, within a budget.

    Args:
        lake: the lake session.
        data: a table name, a SQL query, or a frame (Polars, pandas, Arrow).
        target: the column to predict.
        task: ``"classification"`` or ``"regression"``; inferred from the target when None.
        metric: the primary metric (see ``lakeml.ml.metrics.METRICS``); by default AUC for binary,
            log loss for multiclass, RMSE for regression.
        time_budget: hard wall-clock budget in seconds for the whole call (None: no time limit).
        max_trials: a budget in trials. With ``seed`` (and a time budget that is not reached) the
            leaderboard is identical on rerun.
        seed: seeds validation splits, TPE and the estimators; drawn at random when None (and recorded).
        allowed, blocked: family names to restrict the search to, or to leave out.
        n_jobs: trials run in parallel, one worker process each (default: one per core).
        roles: featurization role overrides, column -> numeric|categorical|boolean|datetime|drop.
        ensemble: try a soft-voting ensemble of the best trials and keep it when it scores better.
        early_stopping: stop after this many trials in a row without improvement (None: never).
        max_rows: sample at most this many rows in the query layer (None: use all rows).
        progress: called with a :class:`~lakeml.ml.automl.engine.Progress` after every trial.

    Returns:
        An :class:`~lakeml.ml.automl.result.AutoMLResult`; call ``.register(name)`` to register the best model.

    Raises:
        ColumnNotFoundError: the target is not a column.
        TrainingError: no rows, a constant or single-class target, or no trial finished in time.
        ConfigError: bad budget, metric or family names.
    """
    clock = Clock(time_budget)
    _check_args(time_budget, max_trials, n_jobs)
    run_seed = int(seed) if seed is not None else secrets.randbelow(2**31 - 1)
    workers = n_jobs or os.cpu_count() or 1
    # Workers start first: they import scikit-learn while this process reads and checks the data.
    with WorkerPool(workers) as pool, tempfile.TemporaryDirectory(prefix="lakeml-automl-") as tmp:
        # Import what this thread needs before the warm-up thread starts: two threads importing
        # numpy at once can see it half-initialised ("cannot import name '__cpu_features__'").
        from lakeml.ml.automl.data import prepare
        from lakeml.ml.automl.engine import Search, SearchSettings
        from lakeml.ml.automl.finish import finish
        from lakeml.ml.automl.search import Searcher
        from lakeml.ml.metrics import METRICS, default_metric

        # The exporter's imports take seconds on a busy machine; pay them while trials run. Its
        # outcome is awaited before the export, so a failure there is raised, not lost in the thread.
        warm_pool = ThreadPoolExecutor(1, thread_name_prefix="lakeml-warm-export")
        warmed = warm_pool.submit(_warm_export)
        warm_pool.shutdown(wait=False)

        prepared = prepare(lake, data, target=target, task=task, roles=roles, seed=run_seed, max_rows=max_rows)
        families = _families(prepared.task, allowed, blocked)
        metric_name = metric or default_metric(prepared.task, len(prepared.classes or []))
        if metric_name not in METRICS or prepared.task not in METRICS[metric_name].tasks:
            usable = [m for m, spec in METRICS.items() if prepared.task in spec.tasks]
            raise ConfigError(f"Metric '{metric_name}' does not apply to {prepared.task}.",
                              hint=choices_hint(metric_name, usable, kind="metric"))
        greater = METRICS[metric_name].greater_is_better
        deterministic = max_trials is not None and seed is not None
        payload_path = os.path.join(tmp, "payload.pkl")
        with open(payload_path, "wb") as fh:
            pickle.dump(prepared.payload(), fh, protocol=pickle.HIGHEST_PROTOCOL)
        pool.load(payload_path)
        timings = {"prepare": clock.elapsed()}
        settings = SearchSettings(
            metric=metric_name, greater_is_better=greater, max_trials=max_trials,
            early_stopping=early_stopping, deterministic=deterministic,
            per_trial_cap=None if time_budget is None else max(5.0, 0.5 * time_budget),
            reserve=_reserve(prepared), on_progress=progress)
        search = Search(pool, Searcher(families, task=prepared.task, seed=run_seed), clock, settings)
        records = search.run()
        ok = [r for r in records if r.status == "ok"]
        if not ok:
            _no_trial_finished(records, clock)
        cut_by_time = search.stop_reason == "time budget"
        warmed.result()
        result = finish(lake, prepared, records, pool, clock, metric=metric_name, greater=greater,
                      ensemble=ensemble, seed=run_seed, stop_reason=search.stop_reason,
                      deterministic=deterministic and not cut_by_time,
                      settings={"time_budget": time_budget, "max_trials": max_trials,
                                "n_jobs": workers, "families": families,
                                "early_stopping": early_stopping}, timings=timings)
    # Stopping the workers and removing the payload are part of the call: measure after them.
    result.wall_time_s = clock.elapsed()
    result.overrun_s = max(0.0, result.wall_time_s - time_budget) if time_budget is not None else 0.0
    return result


def _no_trial_finished(records: list[TrialRecord], clock: Clock) -> None:
    if records and all(r.status == "failed" for r in records):
        errors = sorted({r.error or "" for r in records})
        raise TrainingError(f"All {len(records)} AutoML trials failed; first error: {errors[0]}",
                            hint="Check the data types of the feature columns, or restrict families with "
                                 "[[allowed=['lightgbm']|--allow lightgbm]].")
    raise TrainingError(
        f"No AutoML trial finished within the time budget ({clock.budget:g} s, "
        f"{clock.elapsed():.1f} s used, {len(records)} trial(s) stopped).",
        hint="Increase [[time_budget|--budget]], or train on fewer rows ([[max_rows=100000|--data "
             "'SELECT * FROM t LIMIT 100000']]).")

