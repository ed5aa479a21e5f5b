"""kill -9 during transactional loads, then a rerun with the same transaction: no row lost or duplicated.

An incremental load writes its rows with a transaction marker (app "load", version k, the watermark
in its metadata) in one table commit (tests/faults/child.py ``TXN_OPS``: append and merge, Parquet
and Delta). Each trial kills the load in a child process with SIGKILL, at a chosen call or at a
random moment, and then runs the same load again with the same transaction, as a pipeline rerun
does. Whatever the kill left, the table must then hold every row of the load exactly once, the
rows a merge updated must carry the new values, the marker must be committed with its watermark,
and a third run must be a no-op (see docs/lake.md, "Transaction markers").

The default run is a short seeded subset; ``FAULT_TRIALS=N`` adds N/3 random trials here (at least
one), on top of the N of test_kills.py (``make faults``: 100).
"""

from __future__ import annotations

import random
import time
from typing import Any

import polars as pl
import pytest

import lakeml
from lakeml.session import Lake
from tests.azurite import ACCOUNT, Azurite
from tests.faults.child import TXN_OPS, TXN_ROWS, load_marker, rows
from tests.faults.test_kills import EXTRA_TRIALS, POINTS, SEED, World, _run_child

OPS = sorted(TXN_OPS)
TRIALS = max(1, EXTRA_TRIALS // 3) if EXTRA_TRIALS else 0
UPDATED = 1000  # rows of the seed data a merge load updates (child.load_rows)


def _prepare(lake: Lake, root: str, options: dict[str, Any] | None) -> World:
    for op in OPS:
        _, fmt, mode = op.split("_")
        lake.write(f"x_{fmt}_{mode}", rows(1), format=fmt)
    return World(lake, root, options, {}, {})


@pytest.fixture(scope="module")
def local_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = str(tmp_path_factory.mktemp("txn-kills") / "lake")
    return _prepare(lakeml.connect(root), root, None)


@pytest.fixture(scope="module")
def azure_world(azurite: Azurite) -> World:
    root = f"abfss://{azurite.new_container()}@{ACCOUNT}.dfs.core.windows.net/lake"
    lake = lakeml.connect(root, storage_options=azurite.storage_options())
    lake.storage.ensure_root()
    return _prepare(lake, root, azurite.storage_options())


def _table(op: str) -> str:
    _, fmt, mode = op.split("_")
    return f"x_{fmt}_{mode}"


def _state(lake: Lake, op: str, k: int) -> tuple[int, int, int]:
    """(rows, sum of i, rows carrying load k's update); fails on a duplicated row."""
    count, unique, total, updated = lake.table(_table(op)).select(
        pl.len().alias("n"), pl.col("i").n_unique().alias("u"), pl.col("i").sum().alias("s"),
        (pl.col("payload") == f"update-{k}").sum().alias("updated"),
    ).collect().row(0)
    assert count == unique, f"{_table(op)} holds duplicated rows"
    return count, int(total), int(updated)


def _trial(world: World, op: str, *, point: dict[str, Any] | None = None, kill_after: float | None = None) -> str:
    """Kill load k, rerun it with the same transaction, check exactly-once; returns what the kill left."""
    k = world.next_k()
    lake = world.lake
    before = _state(lake, op, k)
    expected = (before[0] + TXN_ROWS, before[1] + sum(range(k * TXN_ROWS, (k + 1) * TXN_ROWS)),
                UPDATED if op.endswith("merge") else 0)
    _run_child(world, op, k, point, kill_after)
    after_kill = _state(lake, op, k)
    assert after_kill in (before, expected), f"{op} k={k} {point or kill_after}: partial state {after_kill}"
    rerun = TXN_OPS[op](lake, k, {})
    assert rerun.committed == (after_kill == before), f"{op} k={k}: rerun committed={rerun.committed}"
    assert _state(lake, op, k) == expected, f"{op} k={k} {point or kill_after}: rows lost or duplicated"
    assert lake.last_transaction(_table(op), "load") == load_marker(k)
    assert not TXN_OPS[op](lake, k, {}).committed  # and once more: a no-op
    return "before" if after_kill == before else "after"


def _duration(world: World, op: str) -> float:
    if op not in world.durations:
        start = time.perf_counter()
        _trial(world, op)  # no kill: the load runs to the end
        world.durations[op] = time.perf_counter() - start
    return world.durations[op]


@pytest.mark.parametrize("op", OPS)
def test_kill_a_transactional_load_then_rerun_it_local(local_world: World, op: str):
    rng = random.Random(f"{SEED}-txn-{op}")
    # killed after the data files are written (before the commit), and just after the commit's write
    outcomes = [_trial(local_world, op, point=point) for point in (POINTS[0], POINTS[2])]
    if op.startswith("txn_parquet"):
        assert outcomes == ["before", "after"]
    _trial(local_world, op, kill_after=rng.uniform(0, 1.3 * _duration(local_world, op)))


@pytest.mark.parametrize("op", OPS)
def test_kill_a_transactional_load_then_rerun_it_on_azurite(azure_world: World, op: str):
    rng = random.Random(f"{SEED}-txn-azure-{op}")
    _trial(azure_world, op, kill_after=rng.uniform(0, 1.3 * _duration(azure_world, op)))


@pytest.mark.slow
@pytest.mark.skipif(EXTRA_TRIALS == 0, reason="set FAULT_TRIALS=N (make faults) for N more random trials")
def test_many_random_kills_of_transactional_loads(local_world: World, azure_world: World):
    rng = random.Random(f"{SEED}-txn")
    outcomes = []
    for n in range(TRIALS):
        world = local_world if n % 3 else azure_world
        op = OPS[n % len(OPS)]
        outcomes.append(_trial(world, op, kill_after=rng.uniform(0, 1.3 * _duration(world, op))))
    print(f"{len(outcomes)} random kills of transactional loads: {outcomes.count('before')} left the state "
          f"before the load, {outcomes.count('after')} the state after it; every rerun was exactly-once")
