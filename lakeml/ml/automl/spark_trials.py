"""AutoML trials on the Spark engine: one Spark job (of one task) per trial, under the same deadlines.

:class:`SparkTrialPool` is the Spark side of :class:`~lakeml.ml.automl.workers.TrialExecutor`. The
pickled training payload is broadcast once (Spark ships it once per executor; each Python worker
unpickles it once), every trial and the final refit run as a one-task job in their own job group,
up to the cluster's task slots at a time, and a job still running at its deadline has its group
cancelled (``interruptOnCancel=True``: Spark interrupts the task and kills its Python worker). The
search, the leaderboard, the refit choice, export, parity and run tables are the Polars engine's
code; only where a trial runs differs.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import secrets
import time
from dataclasses import dataclass
from typing import Any

from lakeml.ml.automl.workers import Job, JobResult, SlotPool


def _in_task(payload: Any, *, cache: dict[str, Any], func: Any, kwargs: dict[str, Any]) -> Any:
    """A trial inside a Spark task: single-threaded BLAS/OpenMP like a local worker, library warnings off."""
    import warnings

    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")
        return func(payload, cache=cache, **kwargs)


@dataclass
class _Running:
    job: Job
    group: str
    started: float


class SparkTrialPool(SlotPool[_Running]):
    """Trials as Spark jobs on the lake's Spark session (see the module docstring).

    Args:
        spark: a classic ``SparkSession``.
        n_workers: trials run at once (default: the cluster's task slots, ``sc.defaultParallelism``).
    """

    name = "spark"

    def __init__(self, spark: Any, n_workers: int | None = None) -> None:
        from lakeml.engines.spark.tasks import SparkTasks

        self._tasks = SparkTasks(spark)
        self._n = n_workers or self._tasks.slots
        self._prefix = f"lakeml-automl-{secrets.token_hex(4)}"
        self._tokens = itertools.count()
        self._running: dict[int, _Running] = {}
        self._done: queue.SimpleQueue[tuple[int, str, Any]] = queue.SimpleQueue()
        self._broadcast: Any = None
        self.killed = 0
        self.respawn = True
        #: job groups cancelled at their deadline, in order
        self.cancelled: list[str] = []

    @property
    def slots(self) -> int:
        """The cluster's task slots."""
        return self._tasks.slots

    def load(self, payload_path: str) -> None:
        """Broadcast the pickled payload at ``payload_path`` (once for the whole run)."""
        with open(payload_path, "rb") as fh:
            self._broadcast = self._tasks.broadcast(fh.read())

    def submit(self, job: Job) -> None:
        """Start ``job`` as a Spark job in its own group; its deadline is checked by :meth:`poll`.

        Raises:
            RuntimeError: no free slot and no extra job allowed (a programming error in the caller).
        """
        if self._broadcast is None:
            raise RuntimeError("SparkTrialPool.load() must be called before submit()")
        if self.idle() == 0 and not self.respawn:
            raise RuntimeError("no idle slot")
        token = next(self._tokens)
        started = time.monotonic()
        if job.cap is not None:
            job.deadline = min(job.deadline, started + job.cap)
        group = f"{self._prefix}-{token}"
        self._running[token] = _Running(job, group, started)
        what = "refit" if job.job_id < 0 else f"trial {job.job_id}"
        self._tasks.start(group, f"lakeml AutoML {what}", self._broadcast, _in_task,
                          {"func": job.func, "kwargs": job.kwargs},
                          lambda kind, value: self._done.put((token, kind, value)))

    def group_status(self, group: str) -> list[str]:
        """Statuses of the Spark jobs of ``group`` (see :attr:`cancelled`)."""
        return self._tasks.group_status(group)

    def poll(self, timeout: float) -> list[JobResult]:
        """Wait up to ``timeout`` seconds (or the next deadline) for finished trials; cancel overdue ones."""
        results: list[JobResult] = []
        wake = time.monotonic() + max(0.0, timeout)
        for run in self._running.values():
            wake = min(wake, run.job.deadline)
        items: list[tuple[int, str, Any]] = []
        left = wake - time.monotonic()
        with contextlib.suppress(queue.Empty):
            items.append(self._done.get(timeout=left) if left > 0 else self._done.get_nowait())
        while True:
            try:
                items.append(self._done.get_nowait())
            except queue.Empty:
                break
        now = time.monotonic()
        for token, kind, value in items:
            if token not in self._running:  # cancelled at its deadline already: reported then
                continue
            run = self._running.pop(token)
            seconds = now - run.started
            if kind == "ok":
                results.append(JobResult(run.job.job_id, value=value, seconds=seconds))
            else:
                results.append(JobResult(run.job.job_id, error=str(value), seconds=seconds))
        for token, run in list(self._running.items()):
            if now >= run.job.deadline:
                self._cancel(token)
                self.cancelled.append(run.group)
                self.killed += 1
                results.append(JobResult(run.job.job_id, timed_out=True, seconds=now - run.started))
        return results

    def _cancel(self, token: int) -> None:
        run = self._running.pop(token)
        self._tasks.cancel(run.group)

    def close(self) -> None:
        """Cancel every running job and remove the broadcast data from the executors."""
        for token in list(self._running):
            self._cancel(token)
        if self._broadcast is not None:
            self._broadcast.broadcast.unpersist(blocking=False)
            self._broadcast = None

    def __enter__(self) -> SparkTrialPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["SparkTrialPool"]
