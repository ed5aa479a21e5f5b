"""The AutoML search loop: TPE suggestions → worker processes → results, under a hard deadline.

The loop keeps every worker busy with a trial (or, in deterministic mode, runs synchronous batches
so results never depend on timing), stops asking for new trials when the trial budget is spent,
when ``early_stopping`` trials in a row brought no improvement, or when the time left is needed
for the final refit and export; and it kills any trial still running at its deadline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lakeml.ml.automl.budget import Clock
from lakeml.ml.automl.search import Searcher
from lakeml.ml.automl.trial import TrialOutput, run_trial
from lakeml.ml.automl.workers import Job, JobResult, WorkerPool


@dataclass
class TrialRecord:
    """One trial as the leaderboard shows it."""

    trial_id: int
    family: str
    params: dict[str, Any]
    status: str  # "ok" | "failed" | "stopped"
    metrics: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    seconds: float = 0.0
    started_s: float = 0.0
    error: str | None = None
    predictions: np.ndarray | None = None
    model: Any = None  # a fitted fold model (only for the first trials; see run_trial)


@dataclass(frozen=True)
class Progress:
    """A snapshot for progress displays, sent after every finished trial."""

    trials_done: int
    best_score: float | None
    best_family: str | None
    elapsed_s: float
    time_left_s: float | None
    last: TrialRecord | None = None


@dataclass
class SearchSettings:
    """Knobs of one search."""

    metric: str
    greater_is_better: bool
    max_trials: int | None
    early_stopping: int | None
    deterministic: bool
    per_trial_cap: float | None
    reserve: Callable[[TrialRecord | None], float]
    on_progress: Callable[[Progress], None] | None = None


def _better(a: float, b: float | None, greater: bool, tol: float = 1e-9) -> bool:
    if b is None:
        return True
    return a > b + tol if greater else a < b - tol


class Search:
    """Runs the search; :attr:`records` holds every trial, :attr:`stop_reason` why it ended."""

    def __init__(self, pool: WorkerPool, searcher: Searcher, clock: Clock, settings: SearchSettings) -> None:
        self.pool, self.searcher, self.clock, self.s = pool, searcher, clock, settings
        self.records: list[TrialRecord] = []
        self.best: TrialRecord | None = None
        self.stop_reason = ""
        self._since_best = 0
        self._running: dict[int, tuple[Job, Any]] = {}
        self._asked = 0
        self._done_batch: list[tuple[Any, JobResult]] = []

    def _trial_deadline(self) -> float:
        return self.clock.deadline - self.s.reserve(self.best)

    def _why_stop(self) -> str:
        if self.s.max_trials is not None and self._asked >= self.s.max_trials:
            return "max_trials reached"
        if self.s.early_stopping is not None and self._since_best >= self.s.early_stopping:
            return f"early stopping: {self._since_best} trials without improvement"
        if time.monotonic() >= self._trial_deadline():
            return "time budget"
        return ""

    def _submit(self) -> None:
        suggestion = self.searcher.ask()
        self._asked += 1
        now = time.monotonic()
        cap = self.s.per_trial_cap if not self.s.deterministic else None
        # Until a trial has succeeded, trials send their fitted fold model back: if the budget
        # leaves no time for a refit, that model is the final one.
        kwargs = {"family": suggestion.family, "params": suggestion.params, "return_model": self.best is None}
        job = Job(suggestion.trial_id, run_trial, kwargs, self._trial_deadline(), cap)
        self.pool.submit(job)
        self._running[suggestion.trial_id] = (job, (suggestion, now - self.clock.start))

    def run(self) -> list[TrialRecord]:
        """Run until a stop condition; returns the records in trial order."""
        while True:
            reason = self._why_stop()
            if reason and not self.stop_reason:
                self.stop_reason = reason
            if not reason:
                if self.s.deterministic:
                    if not self._running:
                        n = self.pool.size
                        if self.s.max_trials is not None:
                            n = min(n, self.s.max_trials - self._asked)
                        for _ in range(n):
                            self._submit()
                else:
                    while self.pool.idle() > 0 and not self._why_stop():
                        self._submit()
            if not self._running:
                break
            deadline = self._trial_deadline()
            for job, _ in self._running.values():  # the reserve may have grown with a new best
                job.deadline = min(job.deadline, deadline)
            for result in self.pool.poll(timeout=0.5):
                job, meta = self._running.pop(result.job_id)
                self._done_batch.append((meta, result))
            if self._done_batch and (not self.s.deterministic or not self._running):
                for meta, result in sorted(self._done_batch, key=lambda mr: mr[1].job_id):
                    self._record(meta, result)
                self._done_batch = []
        if not self.stop_reason:
            self.stop_reason = "search space exhausted"
        return sorted(self.records, key=lambda r: r.trial_id)

    def _record(self, meta: Any, result: JobResult) -> None:
        suggestion, started = meta
        rec = TrialRecord(suggestion.trial_id, suggestion.family, suggestion.params, "failed",
                          seconds=result.seconds, started_s=started)
        if result.timed_out:
            rec.status, rec.error = "stopped", "stopped at its deadline (time budget)"
        elif result.error is not None:
            rec.error = result.error.strip().splitlines()[-1][:500] if result.error.strip() else "failed"
        else:
            out: TrialOutput = result.value
            score = out.metrics.get(self.s.metric)
            if score is None or not math.isfinite(score):
                rec.error = f"metric {self.s.metric} is not finite"
                rec.metrics = out.metrics
            else:
                rec.status, rec.metrics, rec.score = "ok", out.metrics, float(score)
                rec.predictions = out.predictions
                rec.seconds = out.fit_seconds
                rec.model = out.model
        loss = None
        if rec.score is not None:
            loss = -rec.score if self.s.greater_is_better else rec.score
        self.searcher.tell(rec.trial_id, loss)
        self.records.append(rec)
        if rec.score is not None and _better(rec.score, self.best.score if self.best else None,
                                             self.s.greater_is_better):
            self.best = rec
            self._since_best = 0
        else:
            self._since_best += 1
        if self.s.on_progress is not None:
            left = self.clock.remaining()
            self.s.on_progress(Progress(len(self.records), self.best.score if self.best else None,
                                        self.best.family if self.best else None, self.clock.elapsed(),
                                        None if math.isinf(left) else max(0.0, left), rec))
