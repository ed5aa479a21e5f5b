"""Killable trial workers: results, errors, a deliberately slow job killed at its deadline."""

from __future__ import annotations

import os
import pickle
import time
from pathlib import Path
from typing import Any

import pytest

from lakeml.ml.automl.workers import Job, WorkerPool


def sleepy(payload: dict[str, Any], *, cache: dict[str, Any], seconds: float) -> tuple[str, int, int]:
    time.sleep(seconds)
    cache["calls"] = cache.get("calls", 0) + 1
    return payload["name"], os.getpid(), cache["calls"]


def broken(payload: dict[str, Any], *, cache: dict[str, Any]) -> None:
    raise ValueError("this trial is broken")


def _collect(pool: WorkerPool, n: int, limit: float = 60) -> list:
    out: list = []
    end = time.monotonic() + limit
    while len(out) < n and time.monotonic() < end:
        out += pool.poll(0.5)
    return sorted(out, key=lambda r: r.job_id)


@pytest.fixture
def payload(tmp_path: Path) -> str:
    path = tmp_path / "payload.pkl"
    path.write_bytes(pickle.dumps({"name": "data"}))
    return str(path)


def test_jobs_run_in_parallel_workers_that_keep_their_cache(payload: str) -> None:
    with WorkerPool(2) as pool:
        pool.load(payload)
        far = time.monotonic() + 60
        pool.submit(Job(1, sleepy, {"seconds": 0.0}, far))
        pool.submit(Job(2, sleepy, {"seconds": 0.0}, far))
        first = _collect(pool, 2)
        assert [r.value[0] for r in first] == ["data", "data"]
        assert first[0].value[1] != first[1].value[1] != os.getpid()  # two other processes
        pool.submit(Job(3, sleepy, {"seconds": 0.0}, far))
        pool.submit(Job(4, sleepy, {"seconds": 0.0}, far))
        again = _collect(pool, 2)
        assert [r.value[2] for r in again] == [2, 2]  # same warm workers, cache kept


def test_a_slow_job_is_killed_at_its_cap_and_replaced(payload: str) -> None:
    with WorkerPool(1) as pool:
        pool.load(payload)
        pool.submit(Job(1, sleepy, {"seconds": 600}, time.monotonic() + 600, cap=1.0))
        [slow] = _collect(pool, 1)
        assert slow.timed_out and slow.value is None and pool.killed == 1
        assert 1.0 <= slow.seconds < 30
        pool.submit(Job(2, sleepy, {"seconds": 0.0}, time.monotonic() + 60))
        [fresh] = _collect(pool, 1)
        assert fresh.value[0] == "data" and fresh.value[2] == 1  # a new process with an empty cache


def test_errors_come_back_with_the_traceback(payload: str) -> None:
    with WorkerPool(1) as pool:
        pool.load(payload)
        pool.submit(Job(7, broken, {}, time.monotonic() + 60))
        [res] = _collect(pool, 1)
        assert res.value is None and not res.timed_out
        assert "ValueError: this trial is broken" in (res.error or "")
        assert pool.killed == 0


def test_close_kills_running_jobs(payload: str) -> None:
    pool = WorkerPool(1)
    pool.load(payload)
    pool.submit(Job(1, sleepy, {"seconds": 600}, time.monotonic() + 600))
    _collect(pool, 1, limit=3)  # let it start
    pool.close()
    assert pool.size == 0
    assert pool._zygote.poll() is not None  # the process holding the data is gone too
