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

import contextlib
import math
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
from lakeml.ml.automl.threads import ThreadPool
from lakeml.ml.automl.workers import TrialExecutor, WorkerPool

# Heavy modules (scikit-learn, hyperopt, ...) are imported inside automl(), after the clock has
# started: their import time is part of the budget, as the user experiences it.
if TYPE_CHECKING:
    from lakeml.ml.automl.data import PreparedData
    from lakeml.ml.automl.engine import Progress, TrialRecord
    from lakeml.ml.automl.result import AutoMLResult
    from lakeml.ml.guardrails import Guardrail
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


#: Modules this thread may import during the search or the finish; imported before the side thread starts.
_MAIN_THREAD_MODULES = ("lightgbm", "scipy.stats", "threadpoolctl", "sklearn.ensemble", "sklearn.linear_model",
                        "lakeml.ml.automl.ensemble", "lakeml.ml.automl.finish", "lakeml.ml.automl.trial",
                        "lakeml.ml.importance", "lakeml.ml.parity", "lakeml.ml.runs", "lakeml.ml.guardrails")


def _preimport(payload: dict[str, Any], configs: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Import, in this thread, what the search and the finish use, before any other thread starts.

    Libraries import parts of themselves on first use (scikit-learn's featurizer imports narwhals
    adapters on its first pandas input, for one), so each of ``configs`` is also run once on a
    few rows here: trials in other threads then import nothing new.
    """
    import importlib

    import numpy as np

    from lakeml.ml.automl.trial import run_trial

    for name in _MAIN_THREAD_MODULES:
        importlib.import_module(name)
    n = min(60, len(payload["y"]))
    half = n // 2
    tiny = {**payload, "X": payload["X"].iloc[:n], "y": payload["y"][:n],
            "folds": [(np.arange(half), np.arange(half, n))], "orders": [np.arange(half)]}
    for family, params in configs:
        try:
            run_trial(tiny, cache={}, family=family, params=params, return_model=True)
        except Exception:  # a warm-up only: its imports have happened either way
            continue


def _beside_search(prepared: PreparedData) -> list[Guardrail]:
    """Import the exporter, register its converters, compute the guardrails (in the side thread)."""
    import onnxruntime  # noqa: F401

    from lakeml.ml.automl.data import run_guardrails
    from lakeml.ml.onnx_export import register_converters

    register_converters()
    return run_guardrails(prepared)


#: Tables of at most this many cells (training rows x input columns) run their trials in this
#: process (threads); larger ones in killable worker processes. Below it, every trial of the
#: search space fits in about a second on one core, so an overrunning one can be abandoned.
IN_PROCESS_CELLS = 300_000


def _executor(lake: ModelsContext, prepared: PreparedData, n_jobs: int | None,
              stack: contextlib.ExitStack) -> TrialExecutor:
    """Where the trials and the final refit run: one Spark job per trial on a Spark lake; else threads
    of this process for small tables, killable worker processes forked from a zygote that loads the
    pickled payload for larger ones."""
    pool: TrialExecutor
    if lake.engine.name == "spark":
        from lakeml.engines.spark.engine import SparkEngine
        from lakeml.ml.automl.spark_trials import SparkTrialPool

        engine = lake.engine
        assert isinstance(engine, SparkEngine)  # the engine named "spark"
        pool = SparkTrialPool(engine.spark, n_jobs)
    else:
        workers = n_jobs or os.cpu_count() or 1
        if prepared.n_rows * max(1, len(prepared.plan.inputs)) <= IN_PROCESS_CELLS:
            return ThreadPool(workers, prepared.payload())
        pool = WorkerPool(workers)
    tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lakeml-automl-"))
    payload_path = os.path.join(tmp, "payload.pkl")
    with open(payload_path, "wb") as fh:
        pickle.dump(prepared.payload(), fh, protocol=pickle.HIGHEST_PROTOCOL)
    pool.load(payload_path)
    return pool


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


def _reserve(data: PreparedData, budget: float | None, n_jobs: int) -> Callable[[TrialRecord | None], float]:
    """Seconds to keep free for the final refit, export, parity check and table writes.

    The refit of the best trial on every row is estimated from its own fit time (scaled by rows,
    sped up by the cores the refit alone may use). When that would take more than a fifth of the
    budget, the search keeps only that fifth: the refit then uses as many rows as fit
    (see :func:`lakeml.ml.automl.finish.refit_rows`), so searching on is worth more than waiting.
    """
    from lakeml.ml.automl.finish import REFIT_SAFETY, refit_estimate

    fixed = 1.5 + data.n_rows * 2e-6
    cap = math.inf if budget is None else 0.2 * budget

    def reserve(best: TrialRecord | None) -> float:
        if best is None:
            return fixed
        # the refit's share is what finish() will demand of it (refit_rows: REFIT_SAFETY x the estimate)
        return fixed + min(REFIT_SAFETY * refit_estimate(best, data, n_jobs) + 0.5, cap)

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
    started_at: float | None = None,
) -> AutoMLResult:
    """Search model families and hyperparameters for the best model of ``target``, within a budget.

    Args:
        lake: the lake session (``lake.automl(...)`` passes itself).
        data: a table name, a SQL query, or a frame (Polars, pandas, Arrow).
        target: the column to predict.
        task: ``"classification"`` or ``"regression"``; inferred from the target when None.
        metric: the primary metric (see ``lakeml.ml.metrics.METRICS``); by default AUC for binary,
            log loss for multiclass, RMSE for regression.
        time_budget: hard wall-clock budget in seconds for the whole call (None: no time limit).
        max_trials: a budget in trials. With ``seed`` (and a time budget that is not reached) the
            leaderboard is identical on rerun.
        seed: seeds validation splits, TPE and the estimators; drawn at random when None (and recorded).
        allowed: only these families (names from ``lakeml.ml.families.FAMILIES``).
        blocked: leave out these families.
        n_jobs: trials run in parallel, one worker process each (default: one per core); on a Spark
            lake, Spark jobs (default: one per task slot, ``sc.defaultParallelism``).
        roles: featurization role overrides, column -> numeric|categorical|boolean|datetime|drop.
        ensemble: try a soft-voting ensemble of the best trials and keep it when it scores better.
        early_stopping: stop after this many trials in a row without improvement (None: never).
        max_rows: sample at most this many rows in the query layer (None: use all rows).
        progress: called with a :class:`~lakeml.ml.automl.engine.Progress` after every trial.
        started_at: when the budget started, on the ``time.monotonic()`` scale (default: now). The
            CLI passes its process start, so its budget covers the whole command.

    Returns:
        An :class:`~lakeml.ml.automl.result.AutoMLResult`; call ``.register(name)`` to register the best model.

    Raises:
        ColumnNotFoundError: the target is not a column.
        TrainingError: no rows, a constant or single-class target, or no trial finished in time.
        ConfigError: bad budget, metric or family names.

    Example:
        >>> result = lake.automl("flights", target="late", time_budget=60, seed=1)  # doctest: +SKIP
    """
    clock = Clock(time_budget, started_at)
    _check_args(time_budget, max_trials, n_jobs)
    run_seed = int(seed) if seed is not None else secrets.randbelow(2**31 - 1)
    with contextlib.ExitStack() as stack:
        from lakeml.ml.automl.data import prepare, sample_sizes
        from lakeml.ml.automl.engine import Search, SearchSettings
        from lakeml.ml.automl.finish import finish
        from lakeml.ml.automl.search import Searcher
        from lakeml.ml.automl.space import n_cheap_starts, starting_points
        from lakeml.ml.families import FAMILIES
        from lakeml.ml.metrics import METRICS, default_metric
        from lakeml.ml.train import default_params

        prepared = prepare(lake, data, target=target, task=task, roles=roles, seed=run_seed, max_rows=max_rows)

        families = _families(prepared.task, allowed, blocked)
        metric_name = metric or default_metric(prepared.task, len(prepared.classes or []))
        if metric_name not in METRICS or prepared.task not in METRICS[metric_name].tasks:
            usable = [m for m, spec in METRICS.items() if prepared.task in spec.tasks]
            raise ConfigError(f"Metric '{metric_name}' does not apply to {prepared.task}.",
                              hint=choices_hint(metric_name, usable, kind="metric"))
        greater = METRICS[metric_name].greater_is_better
        deterministic = max_trials is not None and seed is not None
        pool: TrialExecutor = stack.enter_context(_executor(lake, prepared, n_jobs, stack))
        workers = pool.size  # trials at once: n_jobs, else one per core (Spark: per task slot)
        in_process = isinstance(pool, ThreadPool)
        timings = {"prepare": clock.elapsed()}
        starts = starting_points(families, prepared.task)
        settings = SearchSettings(
            metric=metric_name, greater_is_better=greater, max_trials=max_trials,
            early_stopping=early_stopping, deterministic=deterministic,
            per_trial_cap=None if time_budget is None else max(5.0, 0.5 * time_budget),
            reserve=_reserve(prepared, time_budget, workers), on_progress=progress,
            sizes=tuple(sample_sizes(prepared.folds)),
            defaults={f: {**FAMILIES[f].default_params, **default_params(FAMILIES[f], prepared.target_info)}
                      for f in families},
            n_starts=len(starts),
            n_cheap=len(families) if in_process else min(1, n_cheap_starts(families, prepared.task)),
            inline_starts=in_process, inline_cache=getattr(pool, "cache", None),
            payload=prepared.payload())
        # No module may be imported by two threads at once (that can hand one of them a
        # half-initialised module: "cannot import name '__cpu_features__' from partially
        # initialized module numpy._core._multiarray_umath"), so this thread imports everything the
        # search and the finish use before another thread starts (_preimport), and in-process
        # trials are warmed up on a few rows (each family's first configuration).
        firsts: dict[str, dict[str, Any]] = {}
        for family, params in starts:
            firsts.setdefault(family, params)
        # (in-process and not deterministic: the inline starting points are the warm-up)
        _preimport(settings.payload or {}, list(firsts.items()) if in_process and deterministic else starts[:1])
        timings["warm_up"] = clock.elapsed() - timings["prepare"]
        guard: dict[str, Any] = {}

        def side_work() -> None:
            started = clock.elapsed()
            guard["rails"] = _beside_search(prepared)
            if in_process:  # (beside the search, its time is part of the search)
                timings["exporter_guardrails"] = clock.elapsed() - started

        if in_process:
            # The exporter's imports and the guardrails run in this thread, right after the quick
            # baseline (trial threads are running CPU-bound fits: a side thread would gain nothing).
            if deterministic:
                side_work()
            else:
                settings.after_baseline = side_work
        else:
            # Trials run in worker processes: the exporter's imports (seconds on a busy machine) and
            # the guardrails run in one thread beside the search.
            side_pool = ThreadPoolExecutor(1, thread_name_prefix="lakeml-automl-side")
            side = side_pool.submit(side_work)
            side_pool.shutdown(wait=False)
        search = Search(pool, Searcher(families, task=prepared.task, seed=run_seed), clock, settings)
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # one thread per trial: parallelism comes from running trials at once
            records = search.run()
        prepared.notes.extend(search.growth)
        if not in_process:
            side.result()  # raises what failed in the side thread
        elif "rails" not in guard:
            side_work()
        prepared.guardrails = guard["rails"]
        ok = [r for r in records if r.status == "ok"]
        if not ok:
            _no_trial_finished(records, clock)
        cut_by_time = search.stop_reason == "time budget"
        result = finish(lake, prepared, records, pool, clock, metric=metric_name, greater=greater,
                      ensemble=ensemble, seed=run_seed, stop_reason=search.stop_reason,
                      deterministic=deterministic and not cut_by_time,
                      settings={"time_budget": time_budget, "max_trials": max_trials,
                                "n_jobs": workers, "executor": pool.name, "families": families,
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

