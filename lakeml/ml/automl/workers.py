"""Killable worker processes for AutoML trials: the mechanism behind the hard time budget.

A trial runs in its own process. The parent waits on the worker's socket with a deadline; when
a trial would run past it, the worker is killed (SIGKILL) and replaced, so no slow trial or final
refit can overrun the budget by more than the time it takes to notice and kill it.

Workers are forked from a *zygote*: one helper process (started with ``subprocess``, so the
user's ``__main__`` script is never re-imported) that imports scikit-learn, LightGBM and lakeml's
ML modules and unpickles the training data once, then forks a worker per request. A fork is
instant and shares the data copy-on-write, so replacing a killed worker costs milliseconds. The
zygote never starts threads (BLAS and OpenMP are pinned to one thread and nothing is fitted in
it), which is what makes forking it safe. Each worker fits single-threaded; parallelism comes from
running one trial per core.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, Protocol, TypeVar

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "POLARS_MAX_THREADS")
_ZYGOTE_CODE = "import sys; from lakeml.ml.automl.workers import zygote_main; zygote_main(int(sys.argv[1]))"
#: Imported by the zygote before it forks workers (so the first trial does not pay for imports).
WARM_MODULES = ("lakeml.ml.automl.trial", "lakeml.ml.automl.ensemble", "sklearn.ensemble",
                "sklearn.linear_model", "lightgbm")
_MSG = 1 << 16


@dataclass
class Job:
    """A unit of work for a worker: call ``func(payload, cache=..., **kwargs)`` in the worker process."""

    job_id: int
    func: Callable[..., Any]
    kwargs: dict[str, Any]
    deadline: float  # time.monotonic() after which the worker is killed
    cap: float | None = None  # at most this many seconds once the worker has started the job


@dataclass
class JobResult:
    """What came back: ``value`` on success, else ``error`` (a traceback) or ``timed_out``."""

    job_id: int
    value: Any = None
    error: str | None = None
    timed_out: bool = False
    seconds: float = 0.0


class TrialExecutor(Protocol):
    """Where trials and the final refit run, under deadlines: the seam between the search and its engine.

    :class:`WorkerPool` (killable local processes) on the Polars engine;
    :class:`lakeml.ml.automl.spark_trials.SparkTrialPool` (one Spark job per trial) on the Spark engine.
    The search loop, the refit and everything after it are the same code on both.
    """

    #: where trials run, as the run table records it: ``"threads"``, ``"processes"`` or ``"spark"``
    name: str
    #: jobs stopped at their deadline (or lost with their worker)
    killed: int
    #: whether a job may be submitted past :attr:`size` (the final refit); turned off after it
    respawn: bool

    def load(self, payload_path: str) -> None:
        """Make the pickled payload at ``payload_path`` available to every job."""

    @property
    def size(self) -> int:
        """Jobs that can run at once."""

    def idle(self) -> int:
        """Free slots for another job."""

    def ready(self) -> int:
        """Slots that can start a job now (workers started)."""

    def submit(self, job: Job) -> None:
        """Start ``job`` (``job.func(payload, cache=..., **job.kwargs)``); it is stopped at ``job.deadline``."""

    def poll(self, timeout: float) -> list[JobResult]:
        """Wait up to ``timeout`` seconds for results; stop jobs past their deadline (``timed_out``)."""

    def close(self) -> None:
        """Stop every running job and release the payload."""

    def __enter__(self) -> TrialExecutor: ...

    def __exit__(self, *exc: object) -> None: ...


RunT = TypeVar("RunT")


class SlotPool(Generic[RunT]):
    """Slot accounting for executors whose every slot can start a job at once (threads, Spark jobs):
    ``_n`` jobs at a time, ``_running`` the jobs in flight (``RunT``: what the executor keeps of one)."""

    _n: int
    _running: dict[int, RunT]

    @property
    def size(self) -> int:
        """Trials run at once."""
        return self._n

    def idle(self) -> int:
        """Free slots."""
        return max(0, self._n - len(self._running))

    def ready(self) -> int:
        """Slots that can start a trial now: all of them (nothing to start first)."""
        return self._n


def _die_with_parent() -> None:
    # Linux: SIGKILL this process when its parent dies, so a killed user process leaves no orphans.
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return


def zygote_main(fd: int) -> None:
    """Entry point of the zygote: import, load the payload, fork a worker per request."""
    import importlib
    import warnings

    _die_with_parent()
    warnings.simplefilter("ignore")  # library warnings of single trials would flood the console
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked workers are reaped automatically
    ctl = socket.socket(fileno=fd)
    payload: Any = None
    while True:
        try:
            data, fds, _, _ = socket.recv_fds(ctl, _MSG, 1)
        except OSError:
            return
        if not data:
            return
        kind, value = pickle.loads(data)
        if kind == "path":
            sys.path[:0] = [p for p in value if p not in sys.path]
            for module in WARM_MODULES:
                importlib.import_module(module)
        elif kind == "load":
            with open(value, "rb") as fh:
                payload = pickle.load(fh)
        elif kind == "fork":
            if os.fork() == 0:
                code = 0
                try:
                    ctl.close()
                    _die_with_parent()
                    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                    _serve(Connection(fds[0]), payload)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)  # never fall back into the zygote's loop
            os.close(fds[0])


def _serve(conn: Connection, payload: Any) -> None:
    conn.send(("ready", os.getpid()))
    cache: dict[str, Any] = {}
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        job_id, func, kwargs = msg
        try:
            value = func(payload, cache=cache, **kwargs)
            conn.send((job_id, ("ok", value)))
        except Exception:
            conn.send((job_id, ("error", traceback.format_exc(limit=8))))


@dataclass
class _Worker:
    conn: Connection
    pid: int | None = None
    job: Job | None = None
    started: float = field(default_factory=time.monotonic)


class WorkerPool:
    """Single-threaded trial workers forked from one zygote that holds the training data.

    The zygote starts (and imports scikit-learn and friends) when the pool is created; workers
    are forked once :meth:`load` has named the payload.

    Args:
        n_workers: processes running jobs (one job each at a time).
    """

    name = "processes"

    def __init__(self, n_workers: int) -> None:
        self._n = n_workers
        self._workers: list[_Worker] = []
        self.killed = 0
        #: Replace killed workers; turned off for the final phase, when no new trial will start.
        self.respawn = True
        self._ctl, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {**os.environ, **dict.fromkeys(_THREAD_VARS, "1")}
        self._zygote = subprocess.Popen([sys.executable, "-c", _ZYGOTE_CODE, str(child.fileno())],
                                        pass_fds=[child.fileno()], env=env, stdin=subprocess.DEVNULL)
        child.close()
        self._tell("path", list(sys.path))

    def _tell(self, kind: str, value: Any, fds: list[int] | None = None) -> None:
        socket.send_fds(self._ctl, [pickle.dumps((kind, value))], fds or [])

    def load(self, payload_path: str) -> None:
        """Have the zygote load ``payload_path``, then fork the workers."""
        self._tell("load", payload_path)
        for _ in range(self._n):
            self._workers.append(self._fork())

    def _fork(self) -> _Worker:
        parent, child = socket.socketpair()
        self._tell("fork", None, [child.fileno()])
        child.close()
        return _Worker(Connection(parent.detach()))

    def check_alive(self) -> None:
        """Raise when the zygote died (e.g. an import failed), instead of waiting forever.

        Raises:
            RuntimeError: the zygote exited; its stderr went to this process's stderr.
        """
        if self._zygote.poll() is not None:
            raise RuntimeError(f"the AutoML worker process exited with code {self._zygote.returncode}")

    @property
    def size(self) -> int:
        """Number of workers."""
        return len(self._workers)

    def idle(self) -> int:
        """Number of workers without a job (including those still starting)."""
        return sum(1 for w in self._workers if w.job is None)

    def ready(self) -> int:
        """Number of workers that have started (forked and reported ready)."""
        return sum(1 for w in self._workers if w.pid is not None)

    def busy(self) -> int:
        """Number of workers running a job."""
        return self.size - self.idle()

    def submit(self, job: Job) -> None:
        """Give ``job`` to an idle worker, preferring warm ones.

        Raises:
            RuntimeError: no idle worker (a programming error in the caller).
        """
        pool = sorted((w for w in self._workers if w.job is None), key=lambda w: w.pid is None)
        if not pool:
            if self.respawn or not self._workers:
                self._workers.append(self._fork())
                pool = [self._workers[-1]]
            else:
                raise RuntimeError("no idle worker")
        worker = pool[0]
        worker.job = job
        if worker.pid is not None:
            self._send(worker)

    def _send(self, worker: _Worker) -> None:
        assert worker.job is not None
        worker.started = time.monotonic()
        if worker.job.cap is not None:
            worker.job.deadline = min(worker.job.deadline, worker.started + worker.job.cap)
        worker.conn.send((worker.job.job_id, worker.job.func, worker.job.kwargs))

    def poll(self, timeout: float) -> list[JobResult]:
        """Wait up to ``timeout`` seconds for results; kill workers whose job passed its deadline."""
        self.check_alive()
        results: list[JobResult] = []
        wake = time.monotonic() + max(0.0, timeout)
        for w in self._workers:
            if w.job is not None and w.pid is not None:
                wake = min(wake, w.job.deadline)
        ready = wait([w.conn for w in self._workers], timeout=max(0.0, wake - time.monotonic()))
        for w in list(self._workers):
            if w.conn not in ready:
                continue
            try:
                msg = w.conn.recv()
            except (EOFError, OSError):
                results.extend(self._replace(w, error="worker process died"))
                continue
            if msg[0] == "ready":
                w.pid = int(msg[1])
                if w.job is not None:
                    self._send(w)
                continue
            job_id, (kind, value) = msg
            w.job = None
            secs = time.monotonic() - w.started
            if kind == "ok":
                results.append(JobResult(job_id, value=value, seconds=secs))
            else:
                results.append(JobResult(job_id, error=str(value), seconds=secs))
        now = time.monotonic()
        for w in list(self._workers):
            if w.job is not None and now >= w.job.deadline:
                if w.pid is None:  # still starting (a loaded machine): the job never ran; the worker stays
                    results.append(JobResult(w.job.job_id, timed_out=True))
                    w.job = None
                else:
                    results.extend(self._replace(w, timed_out=True))
        return results

    def _replace(self, w: _Worker, *, timed_out: bool = False, error: str | None = None) -> list[JobResult]:
        job = w.job
        self._kill(w)
        self.killed += 1
        if self.respawn:
            self._workers[self._workers.index(w)] = self._fork()
        else:
            self._workers.remove(w)
        if job is None:
            return []
        return [JobResult(job.job_id, error=error, timed_out=timed_out,
                          seconds=time.monotonic() - w.started)]

    @staticmethod
    def _kill(w: _Worker) -> None:
        if w.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(w.pid, signal.SIGKILL)
        w.conn.close()

    def close(self) -> None:
        """Stop every worker and the zygote now (running jobs are abandoned)."""
        for w in self._workers:
            self._kill(w)
        self._workers = []
        self._ctl.close()
        if self._zygote.poll() is None:
            self._zygote.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._zygote.wait(timeout=5)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
