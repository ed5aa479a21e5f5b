"""The AutoML search loop: TPE suggestions → worker processes → results, under a hard deadline.

Cheap first, then grow: trials start on a small training sample (``SearchSettings.sizes``), every
family at its cheapest configuration first. The search moves to the next, larger sample when the
current one stops paying: a run of trials without improvement on it, or its share of the time
(:meth:`Search._should_grow`); the best configurations so far are re-run on the larger sample, and
TPE continues there. On the last sample (every training row) the default ``lake.train``
configuration of the best family is run too, so the winner is never worse than it on validation.

The loop keeps every worker busy with a trial (or, in deterministic mode, runs synchronous batches
so results never depend on timing), stops asking for new trials when the trial budget is spent,
when ``early_stopping`` trials in a row brought no improvement, or when the time left is needed
for the final refit and export; and it kills any trial still running at its deadline.
"""

from __future__ import annotations

import math
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lakeml.ml.automl.budget import Clock
from lakeml.ml.automl.search import Searcher
from lakeml.ml.automl.trial import TrialOutput, run_trial
from lakeml.ml.automl.workers import Job, JobResult, TrialExecutor


@dataclass
class TrialRecord:
    """One trial as the leaderboard shows it."""

    trial_id: int
    family: str
    params: dict[str, Any]
    status: str  # "ok" | "failed" | "stopped"
    sample: int = 0  # training rows per fold the trial fitted on
    kind: str = "search"  # "start" (starting point), "search" (TPE), "grow" (re-run on a larger sample), "default"
    metrics: dict[str, float] = field(default_factory=dict)
    score: float | None = None
    seconds: float = 0.0
    started_s: float = 0.0
    error: str | None = None
    predictions: np.ndarray | None = None
    model: Any = None  # its last fold's fitted pipeline (kept for the best trial only: the fallback final model)


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
    #: training-sample sizes per fold, smallest first; the last is every training row
    sizes: tuple[int, ...] = (0,)
    #: family -> its default ``lake.train`` params, run on every row once the search gets there
    defaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    n_starts: int = 0
    #: configurations re-run on the next, larger sample
    carry_over: int = 3
    #: the first ``n_cheap`` starting points (a few small trees: bounded cost) may run in this process
    #: while the worker processes are still starting (not in deterministic mode)
    n_cheap: int = 0
    #: run all ``n_cheap`` starting points inline, one after the other (in-process trials: they
    #: are the warm-up that imports what the trial threads use, so no two threads import at once)
    inline_starts: bool = False
    #: the featurized-fold cache inline trials use (the in-process executor's, so folds are featurized once)
    inline_cache: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    #: called once, in this thread, right after the quick baseline (the first in-process trial)
    after_baseline: Callable[[], None] | None = None


#: Trials in a row without improvement on a sample that make the search move to the next sample.
GROW_PATIENCE = 6
#: Share of the search time left when a sample was reached that the sample may use before growing.
GROW_TIME_SHARE = 0.3
#: Search time left (share of the budget) at which the search jumps to all rows if not there yet.
LAST_SAMPLE_BY = 0.4

def _better(a: float, b: float | None, greater: bool, tol: float = 1e-9) -> bool:
    if b is None:
        return True
    return a > b + tol if greater else a < b - tol


class Search:
    """Runs the search; :attr:`records` holds every trial, :attr:`stop_reason` why it ended."""

    def __init__(self, pool: TrialExecutor, searcher: Searcher, clock: Clock, settings: SearchSettings) -> None:
        self.pool, self.searcher, self.clock, self.s = pool, searcher, clock, settings
        self.records: list[TrialRecord] = []
        self.best: TrialRecord | None = None
        self.stop_reason = ""
        self._since_best = 0
        self._running: dict[int, tuple[Job, Any]] = {}
        self._asked = 0
        self._done_batch: list[tuple[Any, JobResult]] = []
        self.level = 0
        self._level_start = clock.elapsed()
        self._level_time = math.inf
        self._level_best: float | None = None
        self._level_since_best = 0
        self._level_done = 0
        self._queue: list[tuple[str, dict[str, Any], str]] = []
        self._default_queued = False
        self._defaults_run: set[str] = set()
        self._inline_cache: dict[str, Any] = settings.inline_cache if settings.inline_cache is not None else {}
        self.growth: list[str] = []  # why and when the sample grew (notes for the result)

    @property
    def sample(self) -> int:
        """Training rows per fold of the trials submitted now."""
        return self.s.sizes[self.level]

    def _last_level(self) -> bool:
        return self.level == len(self.s.sizes) - 1

    def _should_grow(self) -> str:
        if self._last_level() or self._asked < self.s.n_starts:
            return ""
        if self._level_since_best >= max(GROW_PATIENCE, 2 * self.pool.size):
            return f"{self._level_since_best} trials without improvement"
        if self.s.deterministic:
            return ""
        if self._level_done >= 2 and self.clock.elapsed() - self._level_start >= self._level_time:
            return "its share of the time used"
        budget = self.clock.budget
        if budget is not None and self.clock.remaining() - self.s.reserve(self.best) < LAST_SAMPLE_BY * budget:
            return "time to settle on all rows"
        return ""

    def _grow(self, why: str) -> None:
        jump = why == "time to settle on all rows"
        old = self.sample
        self.level = len(self.s.sizes) - 1 if jump else self.level + 1
        self.growth.append(f"sample grew from {old:,} to {self.sample:,} rows at "
                           f"{self.clock.elapsed():.1f} s ({why})")
        self._level_start = self.clock.elapsed()
        left = self.clock.remaining() - self.s.reserve(self.best)
        self._level_time = GROW_TIME_SHARE * left if math.isfinite(left) else math.inf
        self._level_best, self._level_since_best, self._level_done = None, 0, 0
        seen: set[str] = set()
        carried: list[tuple[str, dict[str, Any], str]] = []
        for rec in sorted((r for r in self.records if r.score is not None and r.sample == old),
                          key=lambda r: -(r.score or 0.0) if self.s.greater_is_better else (r.score or 0.0)):
            key = repr((rec.family, sorted(rec.params.items())))
            if key not in seen:
                seen.add(key)
                carried.append((rec.family, rec.params, "grow"))
            if len(carried) >= self.s.carry_over:
                break
        self._queue = carried + self._queue
        self._queue_default()

    def _queue_default(self) -> None:
        """On all rows, run the default configuration of the best family (of each family that becomes best)."""
        if not self._last_level() or self.best is None or self._asked < self.s.n_starts:
            return
        family = self.best.family
        params = self.s.defaults.get(family)
        if params is None or family in self._defaults_run:
            return
        self._defaults_run.add(family)
        self._default_queued = True
        self._queue.insert(0, (family, dict(params), "default"))
    def _trial_deadline(self) -> float:
        return self.clock.deadline - self.s.reserve(self.best)

    def _why_stop(self) -> str:
        if self.s.max_trials is not None and self._asked >= self.s.max_trials:
            return "max_trials reached"
        if self.s.early_stopping is not None and self._since_best >= self.s.early_stopping:
            return f"early stopping: {self._since_best} trials without improvement"
        if time.monotonic() >= self._trial_deadline() and (self._asked > 0 or not self.s.n_cheap):
            # the quick baseline always runs: a model at all beats none, even when reading the data
            # used up the budget (a loaded machine)
            return "time budget"
        return ""

    def _submit(self) -> None:
        why = self._should_grow()
        if why:
            self._grow(why)
        if (self.s.deterministic and self.s.max_trials is not None and self._asked >= self.s.max_trials - 1
                and not self._default_queued and self.best is not None):
            # a trial budget: its last trial is the default configuration on every row
            self.level = len(self.s.sizes) - 1
            self._queue_default()
        if self._queue:
            family, params, kind = self._queue.pop(0)
            suggestion = self.searcher.add(family, params)
        else:
            suggestion = self.searcher.ask()
            kind = "start" if self._asked < self.s.n_starts else "search"
        self._asked += 1
        now = time.monotonic()
        cap = self.s.per_trial_cap if not self.s.deterministic else None
        # Trials send their last fold's fitted model back; the best one's is the final model when
        # the budget leaves no time to refit on more rows.
        sample = None if self._last_level() else self.sample
        kwargs = {"family": suggestion.family, "params": suggestion.params, "sample": sample,
                  "return_model": True}
        job = Job(suggestion.trial_id, run_trial, kwargs, self._trial_deadline(), cap)
        self.pool.submit(job)
        self._running[suggestion.trial_id] = (job, (suggestion, now - self.clock.start, self.sample, kind))

    def _inline_ok(self) -> bool:
        return (not self.s.deterministic and self.s.payload is not None and self._asked < self.s.n_cheap
                and (self.pool.ready() == 0 or self._asked == 0 or self.s.inline_starts) and not self._queue
                and not self._why_stop())

    def _run_inline(self) -> None:
        """Run the next cheap starting point in this process (a quick baseline while workers start).

        It runs in a daemon thread that is abandoned (its result ignored) if it passes the trial
        deadline: a thread cannot be killed, but the search need not wait for it. The first one,
        the quick baseline, is always waited for.
        """
        suggestion = self.searcher.ask()
        self._asked += 1
        payload = self.s.payload
        assert payload is not None
        sample = None if self._last_level() else self.sample
        box: dict[str, Any] = {}
        cancel = threading.Event()

        def work() -> None:
            from threadpoolctl import threadpool_limits

            try:
                with threadpool_limits(limits=1):  # like a worker: one thread, no oversubscription
                    box["out"] = run_trial(payload, cache=self._inline_cache, family=suggestion.family,
                                           params=suggestion.params, sample=sample, return_model=True,
                                           cancel=cancel)
            except Exception:  # a failed trial is recorded with its reason, like a worker's
                box["error"] = traceback.format_exc(limit=8)

        started = time.monotonic()
        thread = threading.Thread(target=work, name="lakeml-automl-baseline", daemon=True)
        thread.start()
        deadline = min(self._trial_deadline(), started + (self.s.per_trial_cap or math.inf))
        if self._asked == 1:
            # The quick baseline (the cheapest configuration on the first sample) is waited for:
            # every run yields a model. It takes well under a second on an idle machine; only on
            # an overloaded one can it push the run past its budget.
            deadline = math.inf
        thread.join(timeout=None if math.isinf(deadline) else max(0.0, deadline - time.monotonic()))
        seconds = time.monotonic() - started
        if thread.is_alive():
            cancel.set()  # it stops at its next look at the flag (see trial._fit)
            result = JobResult(suggestion.trial_id, timed_out=True, seconds=seconds)
        elif "out" in box:
            result = JobResult(suggestion.trial_id, value=box["out"], seconds=seconds)
        else:
            result = JobResult(suggestion.trial_id, error=box.get("error", "failed"), seconds=seconds)
        kind = "baseline" if self._asked == 1 else "start"
        self._record((suggestion, started - self.clock.start, self.sample, kind), result)

    def run(self) -> list[TrialRecord]:
        """Run until a stop condition; returns the records in trial order."""
        left = self.clock.remaining() - self.s.reserve(None)
        self._level_time = GROW_TIME_SHARE * left if math.isfinite(left) else math.inf
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
                    if self._inline_ok():
                        self._run_inline()
                        if self._asked == 1 and self.s.after_baseline is not None:
                            self.s.after_baseline()
                        self.pool.poll(timeout=0.0)  # notice workers that became ready meanwhile
                        continue
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
        suggestion, started, sample, kind = meta
        rec = TrialRecord(suggestion.trial_id, suggestion.family, suggestion.params, "failed", sample=sample,
                          kind=kind, seconds=result.seconds, started_s=started)
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
            if self.best is not None:
                self.best.model = None  # only the best trial's model is kept
            self.best = rec
            self._since_best = 0
        else:
            self._since_best += 1
            rec.model = None
        if sample == self.sample:
            self._level_done += 1
            if rec.score is not None and _better(rec.score, self._level_best, self.s.greater_is_better):
                self._level_best, self._level_since_best = rec.score, 0
            else:
                self._level_since_best += 1
        self._queue_default()
        if self.s.on_progress is not None:
            left = self.clock.remaining()
            self.s.on_progress(Progress(len(self.records), self.best.score if self.best else None,
                                        self.best.family if self.best else None, self.clock.elapsed(),
                                        None if math.isinf(left) else max(0.0, left), rec))
