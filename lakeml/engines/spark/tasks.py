"""Python functions run as single Spark tasks, each in its own cancellable job group.

What AutoML on the Spark engine runs its trials on (:mod:`lakeml.ml.automl.spark_trials`): the
data every call needs is broadcast once (:meth:`SparkTasks.broadcast`), so Spark ships it once
per executor; each Python worker unpickles it once and keeps it, with a per-worker cache, for
every later call with the same broadcast. Each call is one job of one task in its own job group,
started in its own thread; cancelling the group (``interruptOnCancel=True``) interrupts the task
and Spark kills its Python worker, so a call past its deadline stops using the core.

The module knows nothing of AutoML: it runs ``func(payload, cache=cache, **kwargs)`` and hands back
what the function returned, or the traceback it raised, to a callback.
"""

from __future__ import annotations

import pickle
import secrets
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

from lakeml.errors import UnsupportedOperationError

#: shared data key -> (payload, cache), in each Python worker: the payload is unpickled once per worker.
_LOADED: dict[str, tuple[Any, dict[str, Any]]] = {}


@dataclass(frozen=True)
class Shared:
    """Broadcast data and the key Python workers keep it under once unpickled."""

    key: str
    broadcast: Any


def _run_in_task(shared: Shared, func: Callable[..., Any], kwargs: dict[str, Any],
                 rows: Iterator[Any]) -> Iterator[bytes]:
    """The task body (in a Python worker): ``("ok", value)`` or ``("error", traceback)``, pickled."""
    # The input must be read to its end, or Spark does not reuse the Python worker (SPARK-26549):
    # every trial would pay a fresh interpreter and its imports.
    for _ in rows:
        pass
    try:
        if shared.key not in _LOADED:
            _LOADED.clear()  # one run's data at a time per worker
            _LOADED[shared.key] = (pickle.loads(shared.broadcast.value), {})
        payload, cache = _LOADED[shared.key]
        out: tuple[str, Any] = ("ok", func(payload, cache=cache, **kwargs))
    except Exception:
        out = ("error", traceback.format_exc(limit=8))
    yield pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)


class SparkTasks:
    """Run functions as one-task Spark jobs on ``spark``'s context, each in its own job group.

    Args:
        spark: a classic ``SparkSession`` (Spark Connect has no ``sparkContext``).
    """

    def __init__(self, spark: Any) -> None:
        try:
            self._sc = spark.sparkContext
        except Exception as exc:  # Spark Connect: no SparkContext on the client
            raise UnsupportedOperationError(
                "AutoML on Spark runs trials as Spark jobs and needs a classic Spark session; this "
                "session has no SparkContext (Spark Connect).",
                hint="Use a classic session (SparkSession.builder without .remote()), or open the lake on "
                     "the Polars engine for AutoML.") from exc

    @property
    def slots(self) -> int:
        """Task slots of the cluster (``sc.defaultParallelism``: the cores of a ``local[n]`` master)."""
        return max(1, int(self._sc.defaultParallelism))

    def broadcast(self, data: bytes) -> Shared:
        """Broadcast pickled ``data`` once; pass the handle to :meth:`start`."""
        return Shared(secrets.token_hex(8), self._sc.broadcast(data))

    def start(self, group: str, description: str, shared: Shared, func: Callable[..., Any],
              kwargs: dict[str, Any], done: Callable[[str, Any], None]) -> None:
        """Start ``func(payload, cache=..., **kwargs)`` as one task in job group ``group``; returns at once.

        ``done(kind, value)`` is called from the job's thread with ``("ok", value)``, ``("error",
        traceback)``, or ``("cancelled", message)`` when the job did not finish (its group was
        cancelled, or Spark failed it).
        """
        from pyspark import InheritableThread

        sc = self._sc

        def run() -> None:
            try:
                # Job groups are per thread (pinned thread mode): this thread's jobs are in ``group``.
                sc.setJobGroup(group, description, interruptOnCancel=True)
                rdd = sc.parallelize([0], 1).mapPartitions(partial(_run_in_task, shared, func, kwargs))
                kind, value = pickle.loads(rdd.collect()[0])
            except Exception as exc:
                text = str(exc).strip().splitlines()
                kind, value = "cancelled", text[0][:300] if text else type(exc).__name__
            done(kind, value)

        InheritableThread(target=run, name=f"lakeml-{group}", daemon=True).start()

    def cancel(self, group: str) -> None:
        """Cancel every job of ``group`` (its running task is interrupted, its Python worker killed)."""
        self._sc.cancelJobGroup(group)

    def group_status(self, group: str) -> list[str]:
        """Statuses (``RUNNING``, ``SUCCEEDED``, ``FAILED``, ...) of the jobs Spark ran in ``group``."""
        tracker = self._sc.statusTracker()
        infos = [tracker.getJobInfo(j) for j in tracker.getJobIdsForGroup(group)]
        return [str(i.status) for i in infos if i is not None]


__all__ = ["Shared", "SparkTasks"]
