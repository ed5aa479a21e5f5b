"""AutoML's contracts: the whole-command budget, a baseline model at 10 s, never worse than the
default ``lake.train`` configuration, every trial on the leaderboard, no import in two threads at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from lakeml.ml.automl.engine import TrialRecord
from lakeml.ml.automl.finish import leaderboard_frame

ROOT = Path(__file__).resolve().parents[2]


def _table(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    color = rng.choice(["red", "green", "blue"], n)
    y = (x[:, 0] + 0.5 * x[:, 1] + (color == "red") + rng.normal(scale=0.8, size=n) > 0.3).astype(np.int64)
    return pl.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "d": x[:, 3], "color": color, "y": y})


@pytest.mark.slow
def test_cli_command_with_registration_ends_within_the_budget_and_registers_a_model(tmp_path) -> None:
    import lakeml

    root = tmp_path / "lake"
    lakeml.connect(root).write("events", _table(20_000))
    budget = 10.0
    cmd = [sys.executable, "-c", "from lakeml.cli.main import main; main()", "--lake", str(root), "automl",
           "--data", "events", "--target", "y", "--budget", str(budget), "--seed", "0", "--n-jobs", "2",
           "--register", "events_model"]
    started = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    wall = time.monotonic() - started
    assert out.returncode == 0, out.stderr[-3000:]
    # A 10 s budget yields a registered model (the quick baseline runs first).
    assert "registered events_model:1" in out.stdout, out.stdout[-3000:]
    # The budget contract is the feature under test, so this one assertion is about time: the whole
    # command, interpreter start to exit with registration, within budget + 5% + 2 s. The extra 3 s
    # is for the machine this runs on: tests share 2 cores with other work, and a loaded machine
    # delays the kill of a trial at its deadline and the exit after registration by seconds.
    assert wall <= budget * 1.05 + 2.0 + 3.0, (wall, out.stdout[-2000:])


def test_the_default_train_configuration_is_a_trial_and_the_winner_is_never_worse(tmp_path) -> None:
    import lakeml
    from lakeml.ml.families import FAMILIES

    lake = lakeml.connect(tmp_path / "lake")
    frame = _table(600, seed=1)
    result = lake.automl(frame, target="y", time_budget=None, max_trials=4, seed=3, n_jobs=2,
                         allowed=["lightgbm"], ensemble=False)
    trials = result.trials
    default = trials.filter(pl.col("kind") == "default")
    assert default.height == 1 and default["status"][0] == "finished", trials
    # the same configuration lake.train fits (family defaults; no class weights on balanced classes)
    trained = lake.train(frame, target="y", model="lightgbm", seed=3, n_jobs=1)  # one thread, like a trial
    model = trained.pipeline.named_steps["model"].get_params()
    searched = FAMILIES["lightgbm"].make_estimator(json.loads(default["params"][0]), task="classification",
                                                   seed=3, n_jobs=1).get_params()
    assert {k: v for k, v in model.items() if k != "n_jobs"} == {k: v for k, v in searched.items() if k != "n_jobs"}
    # on all training rows of the same folds as lake.train's validation
    assert default["sample_rows"][0] == max(trials["sample_rows"])
    # pooled over the folds (AutoML) vs averaged per fold (train): equal for accuracy on equal-size folds
    assert default["accuracy"][0] == pytest.approx(trained.metrics["accuracy"], abs=1e-12)
    assert result.best_score >= default["score"][0]  # never worse than the default


def test_leaderboard_lists_every_trial_with_status_sample_and_reason() -> None:
    records = [
        TrialRecord(0, "lightgbm", {"n_estimators": 8}, "ok", sample=10_000, kind="baseline",
                    metrics={"auc": 0.7}, score=0.7, seconds=0.5),
        TrialRecord(1, "random_forest", {"n_estimators": 500}, "stopped", sample=10_000, kind="start",
                    seconds=9.0, error="stopped at its deadline (time budget)"),
        TrialRecord(2, "logistic", {"C": 1.0}, "failed", sample=40_000, kind="search",
                    error="ValueError: Input contains NaN"),
        TrialRecord(3, "lightgbm", {"n_estimators": 100}, "ok", sample=40_000, kind="grow",
                    metrics={"auc": 0.8}, score=0.8, seconds=2.0),
    ]
    board = leaderboard_frame(records, greater=True)
    assert board["trial_id"].to_list() == [3, 0, 1, 2]
    assert board["rank"].to_list() == [1, 2, None, None]
    assert board["status"].to_list() == ["finished", "finished", "stopped at deadline", "failed"]
    assert board["sample_rows"].to_list() == [40_000, 10_000, 10_000, 40_000]
    assert board["error"][3] == "ValueError: Input contains NaN"
    assert json.loads(board["params"][2]) == {"n_estimators": 500}
    assert board["fit_time_s"][2] == 9.0


@pytest.mark.slow
def test_no_module_is_imported_by_two_threads_at_once(tmp_path) -> None:
    # A fresh interpreter, so nothing AutoML needs is imported yet; a finder records which thread
    # imports what, and when. Two threads importing at once can hand one of them a half-initialised
    # module ("cannot import name '__cpu_features__' from partially initialized module numpy...").
    script = textwrap.dedent(f"""
        import json, sys, threading, time
        events = []

        class Spy:
            def find_spec(self, name, path=None, target=None):
                events.append((time.monotonic(), threading.current_thread().name, name))
                return None

        sys.meta_path.insert(0, Spy())
        import numpy as np, polars as pl, lakeml
        rng = np.random.default_rng(0)
        x = rng.normal(size=(3000, 3))
        frame = pl.DataFrame({{"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": (x[:, 0] > 0).astype("int64")}})
        lake = lakeml.connect({str(tmp_path / "lake")!r})
        lake.automl(frame, target="y", time_budget=20, seed=0, n_jobs=2)
        print(json.dumps(events))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    events = json.loads(out.stdout.strip().splitlines()[-1])
    threads = {t for _, t, _ in events}
    assert len(threads) > 1  # the side thread did import (the exporter), so the check means something
    for other in threads - {"MainThread"}:
        times = [when for when, t, _ in events if t == other]
        overlapping = [(t, name) for when, t, name in events if t != other and times[0] <= when <= times[-1]]
        assert not overlapping, (other, overlapping[:10])
