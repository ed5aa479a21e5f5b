"""kill -9 at chosen and at random points of every write path, on local disk and on Azurite.

Each trial runs one write in a child process (tests/faults/child.py) and kills it with SIGKILL,
either at a chosen call (the sink that writes data files, the commit's create-only write, the first
delete after it) or at a random moment. Afterwards the lake must read without error and show either
the state before the write or the state after it, never a part, a duplicate or a dangling file
reference; a write that did not happen must succeed when run again; and a vacuum with no retention
must leave every committed state as it was (see docs/lake.md, "What a crash leaves").

The default run is a short seeded subset. ``FAULT_TRIALS=N`` adds N random kill trials spread
over every operation and both lakes (``make faults`` runs 300).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pytest

import lakeml
from lakeml.errors import TableExistsError
from lakeml.session import Lake
from tests.azurite import ACCOUNT, Azurite
from tests.faults.child import OPS, ROWS, csv_path, model_bytes, rows
from tests.scoring.models import regressor, training_frame

REPO = Path(__file__).resolve().parents[2]
EXTRA_TRIALS = int(os.environ.get("FAULT_TRIALS", "0"))
SEED = int(os.environ.get("FAULT_SEED", "20261203"))
POINTS: list[dict[str, Any]] = [
    {"call": "sink", "n": 1, "when": "after"},          # data files written, nothing committed
    {"call": "write_bytes", "n": 1, "when": "before"},  # about to create the commit entry
    {"call": "write_bytes", "n": 1, "when": "after"},   # just committed
    {"call": "delete", "n": 1, "when": "before"},       # first delete (pre-commit cleanup or post-commit tidy)
]
BASE_K = 1000  # trial numbers k start here; k=0..9 are the seed rows
TABLE_OPS = {"parquet_append": "t", "parquet_overwrite": "t", "delta_append": "d", "delta_overwrite": "d",
             "ingest": "ing"}


@dataclass
class World:
    """A lake prepared for every operation, and how a child process opens it."""

    lake: Lake
    root: str
    options: dict[str, Any] | None
    ctx: dict[str, str]
    durations: dict[str, float]
    k: int = BASE_K

    def next_k(self) -> int:
        self.k += 1
        return self.k


def _prepare(lake: Lake, root: str, options: dict[str, Any] | None, workdir: Path) -> World:
    lake.write("t", rows(1))
    lake.write("d", rows(2), format="delta")
    lake.write("ing", rows(3))
    lake.write("src", training_frame())
    lake.write("ext_src", pl.DataFrame({"x": [1, 2, 3]}))
    model = workdir / "m.onnx"
    model.write_bytes(regressor()[0])
    ctx = {"workdir": str(workdir), "model": str(model),
           "external": lake.catalog.info("ext_src").location + "/data/*/*.parquet"}
    for k in range(2):
        lake.models.register(model_bytes(ctx, k), name="m", features=["a", "b"])
    return World(lake, root, options, ctx, {})


@pytest.fixture(scope="module")
def local_world(tmp_path_factory: pytest.TempPathFactory) -> World:
    work = tmp_path_factory.mktemp("faults-local")
    root = str(work / "lake")
    return _prepare(lakeml.connect(root), root, None, work)


@pytest.fixture(scope="module")
def azure_world(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> World:
    work = tmp_path_factory.mktemp("faults-azure")
    root = f"abfss://{azurite.new_container()}@{ACCOUNT}.dfs.core.windows.net/lake"
    options = azurite.storage_options()
    lake = lakeml.connect(root, storage_options=options)
    lake.storage.ensure_root()
    return _prepare(lake, root, options, work)


def _target(op: str, k: int) -> str | None:
    if op in TABLE_OPS:
        return TABLE_OPS[op]
    if op.endswith(("_create", "_partitioned")):
        return f"c{k}"
    return f"s{k}" if op == "score" else None


def _table_state(lake: Lake, name: str) -> tuple[int, int] | None:
    if name not in lake.tables():
        return None
    frame = lake.table(name)
    if "i" not in frame.collect_schema():
        return (frame.select(pl.len()).collect().item(), 0)
    count, unique, total = frame.select(pl.len().alias("n"), pl.col("i").n_unique().alias("u"),
                                        pl.col("i").sum().alias("s")).collect().row(0)
    assert count == unique, f"table {name!r} holds duplicated rows"
    return (count, int(total or 0))


def _state(world: World, op: str, k: int) -> Any:
    lake = world.lake
    target = _target(op, k)
    if target is not None:
        return _table_state(lake, target)
    if op == "register":
        listing = lake.models.list()
        for version in listing["version"]:
            assert lake.models.get(f"m:{version}").onnx_bytes  # every listed version loads
        # A killed registration may leave its claimed number unused (as MLflow's failed registrations
        # do): the state is how many versions are committed.
        return listing.height
    if op == "alias":
        return tuple(sorted((a, v) for v, aliases in lake.models.list().select("version", "aliases").iter_rows()
                            for a in aliases))
    if op == "catalog":
        return tuple(sorted(lake.catalog.registered()))
    raise AssertionError(op)


def _expected(world: World, op: str, k: int, before: Any) -> Any:
    added = (ROWS, sum(range(k * ROWS, (k + 1) * ROWS)))
    if op in ("parquet_append", "delta_append", "ingest"):
        return (before[0] + added[0], before[1] + added[1])
    if op in ("parquet_overwrite", "delta_overwrite") or op.endswith(("_create", "_partitioned")):
        return added
    if op == "score":
        return (training_frame().height, 0)
    if op == "register":
        return before + 1
    if op == "alias":
        return tuple(sorted({*before, (f"a{k}", 1 + k % 2)}))
    if op == "catalog":
        return tuple(sorted({*before, f"e{k}"}))
    raise AssertionError(op)


def _run_child(world: World, op: str, k: int, point: dict[str, Any] | None, kill_after: float | None) -> int:
    if op == "ingest":
        rows(k).collect().write_csv(csv_path(world.ctx, k))
    spec = json.dumps({"root": world.root, "options": world.options, "op": op, "k": k, "ctx": world.ctx,
                       "point": point})
    path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "tests.faults.child", spec], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": path},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    ready = proc.stdout.readline()
    assert ready.strip() == "ready", proc.communicate(timeout=60)
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.kill()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode in (0, -9), f"{op} failed on its own (exit {proc.returncode}):\n{err[-3000:]}"
    return proc.returncode


def _trial(world: World, op: str, *, point: dict[str, Any] | None = None, kill_after: float | None = None) -> str:
    """One kill trial; returns which state it left: "before", "after", or "killed-before" when a kill
    at a chosen point happened and left the previous state."""
    k = world.next_k()
    before = _state(world, op, k)
    expected = _expected(world, op, k, before)
    code = _run_child(world, op, k, point, kill_after)
    after_kill = _state(world, op, k)
    assert after_kill in (before, expected), f"{op} k={k} {point or kill_after}: partial state {after_kill}"
    if after_kill == before:  # the write did not happen: running it again must work
        try:
            OPS[op](world.lake, k, world.ctx)
        except TableExistsError as exc:
            raise AssertionError(f"{op} k={k}: a write that never committed blocks its rerun: {exc}") from exc
        assert _state(world, op, k) == expected
        return "killed-before" if code == -9 else "before"
    return "after"


def _calibrate(world: World, op: str) -> float:
    if op not in world.durations:
        start = time.perf_counter()
        assert _trial(world, op) == "after"
        world.durations[op] = time.perf_counter() - start
    return world.durations[op]


def _check_vacuum_keeps_states(world: World) -> None:
    names = world.lake.tables()
    states = {name: _table_state(world.lake, name) for name in names}
    versions = world.lake.models.list()
    world.lake.vacuum(retention_hours=0)
    assert {name: _table_state(world.lake, name) for name in world.lake.tables()} == states
    assert world.lake.models.list().equals(versions)
    # Nothing removable is left (Delta's dry run also names files it already deleted, as long as their
    # remove actions stay in the log: only what still exists counts).
    again = world.lake.vacuum(retention_hours=0, dry_run=True).removed
    assert [path for path in again if world.lake.storage.exists(path)] == []


def _random_trials(world: World, rng: random.Random, count: int) -> Iterator[str]:
    ops = sorted(OPS)
    for n in range(count):
        op = ops[n % len(ops)]
        duration = _calibrate(world, op)
        yield _trial(world, op, kill_after=rng.uniform(0, 1.3 * duration))


@pytest.mark.parametrize("op", sorted(OPS))
def test_kill_at_chosen_points_local(local_world: World, op: str):
    outcomes = [_trial(local_world, op, point=point) for point in POINTS]
    # A lakeml Parquet write killed after its data files are written and before its commit leaves the
    # previous state (Delta's sink both writes and commits, so a kill after it finds the new state).
    if op.startswith("parquet_"):
        assert outcomes[0] == "killed-before"


@pytest.mark.parametrize("op", sorted(OPS))
def test_kill_at_a_random_moment_local(local_world: World, op: str):
    rng = random.Random(f"{SEED}-{op}")
    duration = _calibrate(local_world, op)
    _trial(local_world, op, kill_after=rng.uniform(0, 1.3 * duration))


@pytest.mark.parametrize("op", sorted(OPS))
def test_kill_on_azurite(azure_world: World, op: str):
    rng = random.Random(f"{SEED}-azure-{op}")
    _trial(azure_world, op, point=POINTS[1 + rng.randrange(2)])
    _trial(azure_world, op, kill_after=rng.uniform(0, 1.3 * _calibrate(azure_world, op)))


@pytest.mark.slow
@pytest.mark.skipif(EXTRA_TRIALS == 0, reason="set FAULT_TRIALS=N (make faults) for N more random trials")
def test_many_random_kills(local_world: World, azure_world: World):
    rng = random.Random(SEED)
    local = list(_random_trials(local_world, rng, EXTRA_TRIALS * 2 // 3))
    remote = list(_random_trials(azure_world, rng, EXTRA_TRIALS - len(local)))
    outcomes = local + remote
    print(f"{len(outcomes)} random kill trials: {len(outcomes) - outcomes.count('after')} left the previous state, "
          f"{outcomes.count('after')} the new one")


def test_vacuum_after_the_trials_keeps_every_committed_state(local_world: World, azure_world: World):
    for world in (local_world, azure_world):
        _check_vacuum_keeps_states(world)
