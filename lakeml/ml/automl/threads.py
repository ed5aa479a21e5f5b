"""In-process AutoML trials: one thread per slot, for tables whose trials are all short.

The issue's rule: "short trials run in-process under a deadline; only long ones need killable
workers". On a small table every trial takes well under a second, and a killable worker process
costs far more than it saves: its own interpreter importing scikit-learn and LightGBM (seconds of
CPU on a loaded machine, before the first trial) and its own copy of those libraries in memory
(about as much again as the whole of FLAML). So small tables run their trials here, in threads of
this process, sharing one copy of the data and of the featurized folds; the estimators fit with
one thread each and release the GIL in their compiled loops, so two trials do run at once.

A thread cannot be killed: a trial still running at its deadline is *given up* (reported as
stopped, its slot given to the next trial, its eventual result dropped) and its cancel flag is
set, at which LightGBM stops after its current boosting round and a forest after its current few
trees (:func:`lakeml.ml.automl.trial._fit`). Other families cannot stop early, which is acceptable
only because the trials are short; :func:`lakeml.ml.automl.api._executor` sends large tables to the
killable :class:`~lakeml.ml.automl.workers.WorkerPool` instead. Both implement the same executor
interface (``submit``/``poll``/``idle``/``ready``/``size``/``close``), the seam the search loop
and the final refit run through.
"""

from __future__ import annotations

import queue
import threading
import time
import traceback
from typing import Any

from lakeml.ml.automl.workers import Job, JobResult, SlotPool


class ThreadPool(SlotPool[tuple[Job, float, threading.Event]]):
    """Trials and the final refit in daemon threads of this process, under deadlines (see the module docstring).

    Args:
        n_workers: trials run at once.
        payload: the training payload (:meth:`~lakeml.ml.automl.data.PreparedData.payload`), shared.
    """

    name = "threads"

    def __init__(self, n_workers: int, payload: dict[str, Any]) -> None:
        self._n = max(1, n_workers)
        self._payload = payload
        # One cache for every thread: the featurized folds exist once (trial.py locks it while filling it).
        self._cache: dict[str, Any] = {"lock": threading.Lock()}
        self._running: dict[int, tuple[Job, float, threading.Event]] = {}
        self._done: queue.SimpleQueue[tuple[int, str, Any, float]] = queue.SimpleQueue()
        #: trials abandoned at their deadline
        self.killed = 0
        #: whether a job may be submitted past :attr:`size` (the final refit); turned off after it
        self.respawn = True

    @property
    def cache(self) -> dict[str, Any]:
        """The featurized folds every trial thread shares (the search's inline trials use it too)."""
        return self._cache

    def load(self, payload_path: str) -> None:
        """Nothing to do: the payload is this process's own (given to the constructor)."""

    def busy(self) -> int:
        """Slots running a trial."""
        return len(self._running)

    def submit(self, job: Job) -> None:
        """Start ``job`` in a new daemon thread as ``job.func(payload, cache=..., cancel=..., **job.kwargs)``;
        it is given up at ``job.deadline`` (or after ``job.cap`` seconds): ``cancel`` is set, and its result dropped.

        Raises:
            RuntimeError: no free slot and :attr:`respawn` is off (a programming error in the caller).
        """
        if not self.idle() and not self.respawn:
            raise RuntimeError("no idle worker")
        started = time.monotonic()
        if job.cap is not None:
            job.deadline = min(job.deadline, started + job.cap)
        cancel = threading.Event()  # set when the job is given up: its fit stops soon (trial.py's _fit)
        self._running[job.job_id] = (job, started, cancel)
        payload, cache, done = self._payload, self._cache, self._done

        def work() -> None:
            try:
                value = job.func(payload, cache=cache, cancel=cancel, **job.kwargs)
                done.put((job.job_id, "ok", value, time.monotonic()))
            except Exception:  # a failed trial is recorded with its reason
                done.put((job.job_id, "error", traceback.format_exc(limit=8), time.monotonic()))

        threading.Thread(target=work, name=f"lakeml-automl-trial-{job.job_id}", daemon=True).start()

    def poll(self, timeout: float) -> list[JobResult]:
        """Wait up to ``timeout`` seconds for results; abandon jobs past their deadline (``timed_out``)."""
        results: list[JobResult] = []
        wake = time.monotonic() + max(0.0, timeout)
        for job, _, _ in self._running.values():
            wake = min(wake, job.deadline)
        while True:
            try:
                item = self._done.get(timeout=max(0.0, wake - time.monotonic())) if not results else \
                    self._done.get_nowait()
            except queue.Empty:
                break
            job_id, kind, value, ended = item
            entry = self._running.pop(job_id, None)
            if entry is None:  # an abandoned job finished after all: its result is dropped
                continue
            secs = ended - entry[1]
            results.append(JobResult(job_id, value=value, seconds=secs) if kind == "ok"
                           else JobResult(job_id, error=str(value), seconds=secs))
        now = time.monotonic()
        for job_id, (job, started, cancel) in list(self._running.items()):
            if now >= job.deadline:
                cancel.set()
                del self._running[job_id]
                self.killed += 1
                results.append(JobResult(job_id, timed_out=True, seconds=now - started))
        return results

    def close(self) -> None:
        """Give up running jobs (they stop at their next look at the flag; daemon threads never keep
        the process alive) and drop the featurized folds."""
        for _, _, cancel in self._running.values():
            cancel.set()
        self._running.clear()
        self._cache.clear()

    def __enter__(self) -> ThreadPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
