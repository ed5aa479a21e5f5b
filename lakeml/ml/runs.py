"""AutoML run tables under ``<root>/_lakeml/runs/<run_id>/`` and the SQL views over all runs.

Every AutoML run writes small Parquet tables next to each other:

* ``run``          – one row: settings, timings (budget, wall time, overrun), best trial, registration;
* ``trials``       – every trial: family, params (JSON), status, all metrics, fit time;
* ``leaderboard``  – successful trials ranked by the primary metric;
* ``guardrails``   – the data guardrail findings;
* ``importances``  – feature importances of the best model (when available).

:func:`views` exposes them to ``lake.sql`` as ``automl_runs``, ``automl_trials``,
``automl_leaderboard``, ``automl_guardrails`` and ``automl_importances``, each the union of all runs.

>>> lake.sql("SELECT family, auc FROM automl_leaderboard WHERE run_id = 'r1' ORDER BY rank")  # doctest: +SKIP
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from lakeml.errors import LakeMLError, TrainingError

if TYPE_CHECKING:
    from lakeml.context import LakeContext

RUNS_ROOT = "_lakeml/runs"
#: Run table name -> SQL view name.
VIEW_NAMES = {
    "run": "automl_runs",
    "trials": "automl_trials",
    "leaderboard": "automl_leaderboard",
    "guardrails": "automl_guardrails",
    "importances": "automl_importances",
}

# Schemas of empty views, so that SQL over a lake without runs still resolves the columns.
_EMPTY_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "run": {"run_id": pl.String(), "started_at": pl.String(), "task": pl.String(), "target": pl.String(),
            "metric": pl.String(), "best_family": pl.String(), "best_score": pl.Float64(),
            "n_trials": pl.Int64(), "wall_time_s": pl.Float64(), "time_budget_s": pl.Float64()},
    "trials": {"run_id": pl.String(), "trial_id": pl.Int64(), "family": pl.String(), "params": pl.String(),
               "status": pl.String(), "score": pl.Float64(), "fit_time_s": pl.Float64()},
    "leaderboard": {"run_id": pl.String(), "rank": pl.Int64(), "trial_id": pl.Int64(),
                    "family": pl.String(), "params": pl.String(), "score": pl.Float64()},
    "guardrails": {"run_id": pl.String(), "name": pl.String(), "status": pl.String(),
                   "description": pl.String(), "detail": pl.String(), "columns": pl.String()},
    "importances": {"run_id": pl.String(), "column": pl.String(), "importance": pl.Float64()},
}


def new_run_id(now: datetime | None = None) -> str:
    """A fresh run id that sorts by start time, e.g. ``20261125T213000Z-3f9a1c``."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def run_path(run_id: str, table: str) -> str:
    """The lake-relative path of one run table."""
    return f"{RUNS_ROOT}/{run_id}/{table}"


def write_run_table(lake: LakeContext[pl.LazyFrame], run_id: str, table: str, frame: pl.DataFrame) -> None:
    """Write one run table (atomically, replacing any earlier version) with a ``run_id`` column first.

    Raises:
        TrainingError: the table name is not one of the run tables.
    """
    if table not in VIEW_NAMES:
        raise TrainingError(f"Unknown run table '{table}'.",
                            hint=f"Use one of: {', '.join(VIEW_NAMES)}.")
    data = frame.drop("run_id", strict=False).select(pl.lit(run_id).alias("run_id"), pl.all())
    lake.write_path(run_path(run_id, table), data, mode="overwrite")


def run_ids(lake: LakeContext[pl.LazyFrame]) -> list[str]:
    """Ids of all runs in the lake, oldest first."""
    return sorted(name.rstrip("/").rsplit("/", 1)[-1] for name in lake.storage.list(RUNS_ROOT))


def read_run_table(lake: LakeContext[pl.LazyFrame], run_id: str, table: str) -> pl.LazyFrame:
    """One table of one run.

    Raises:
        TrainingError: no such run or table (with the list of runs as the hint).
    """
    if not lake.storage.list(run_path(run_id, table)) and not lake.storage.exists(run_path(run_id, table)):
        known = run_ids(lake)
        hint = (f"Known runs: {', '.join(known[-10:])}." if known
                else "There are no AutoML runs in this lake yet; run [[lake.automl(...)|lakeml automl]] first.")
        raise TrainingError(f"AutoML run '{run_id}' has no '{table}' table.", hint=hint)
    return lake.read_path(run_path(run_id, table))


def _union(lake: LakeContext[pl.LazyFrame], table: str) -> pl.LazyFrame:
    frames: list[pl.LazyFrame] = []
    for rid in run_ids(lake):
        path = run_path(rid, table)
        if not lake.storage.list(path):
            continue  # a run that crashed before writing this table
        try:
            frames.append(lake.read_path(path))
        except LakeMLError:
            continue
    if not frames:
        return pl.LazyFrame(schema=_EMPTY_SCHEMAS[table])
    return pl.concat(frames, how="diagonal_relaxed")


def list_runs(lake: LakeContext[pl.LazyFrame]) -> pl.DataFrame:
    """One row per AutoML run (newest first): id, task, target, metric, best family and score, timings."""
    return _union(lake, "run").collect().sort("run_id", descending=True)


def views(lake: LakeContext[pl.LazyFrame]) -> dict[str, Callable[[], pl.LazyFrame]]:
    """SQL built-in views over all runs: automl_runs, automl_trials, automl_leaderboard, ...

    Each value is a callable returning the lazy union of that table over every run, read when the
    query runs (so new runs show up without reconnecting).
    """

    def make(table: str) -> Callable[[], pl.LazyFrame]:
        return lambda: _union(lake, table)

    return {view: make(table) for table, view in VIEW_NAMES.items()}


def mark_registered(lake: LakeContext[pl.LazyFrame], run_id: str, model_ref: str) -> None:
    """Record in the run's ``run`` table that its best model was registered as ``model_ref``."""
    run = read_run_table(lake, run_id, "run").collect()
    write_run_table(lake, run_id, "run", run.with_columns(pl.lit(model_ref).alias("registered_model")))
