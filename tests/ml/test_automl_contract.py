"""AutoML's contracts: the whole-command budget, a baseline model at 10 s, never worse than the
default ``lake.train`` configuration, every trial on the leaderboard, no import in two threads at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
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
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr[-3000:]
    # A 10 s budget yields a registered model (the quick baseline runs first).
    assert "registered events_model:1" in out.stdout, out.stdout[-3000:]
    # The budget's accounting, not the machine's speed (tests share 2 cores with other work, where
    # importing scikit-learn alone can take longer than 10 s): either the call ended within the
    # budget + 5% + 2 s, or it was over before it could do more than the baseline, and then it did
    # nothing optional (one trial, stopped by the time budget).
    wall = float(out.stdout.split("wall time ")[1].split("s,")[0])
    if wall > budget * 1.05 + 2.0:
        assert "1 trials, stopped by time budget" in out.stdout, out.stdout[-3000:]


def test_the_command_process_ends_without_the_interpreter_teardown(tmp_path) -> None:
    # The budget runs to the command's exit; the teardown of scikit-learn, ONNX and Polars takes
    # seconds of CPU on a loaded machine, so the command process skips it (its output flushed).
    script = textwrap.dedent("""
        import atexit, sys
        from lakeml.ml.automl.budget import end_command_now, mark_process_is_command
        atexit.register(lambda: print("teardown ran"))
        end_command_now()  # not the command process: nothing happens
        print("still here", end="")
        mark_process_is_command()
        end_command_now(3)
        print("not reached")
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 3
    assert out.stdout == "still here"  # flushed, no teardown, nothing after the exit


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
@pytest.mark.parametrize("rows", [3000, 120_000], ids=["in-process trials", "worker processes"])
def test_no_module_is_imported_by_two_threads_at_once(tmp_path, rows: int) -> None:
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
        x = rng.normal(size=({rows}, 3))
        frame = pl.DataFrame({{"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "y": (x[:, 0] > 0).astype("int64")}})
        lake = lakeml.connect({str(tmp_path / "lake")!r})
        # in-process: a trial budget without a seed (not deterministic: inline starts, then threads),
        # so trial threads run however slow the machine is
        budget = dict(time_budget=None, max_trials=10) if {rows} < 100_000 else dict(time_budget=20, seed=0)
        result = lake.automl(frame, target="y", n_jobs=2, **budget)
        print(json.dumps([events, result.trials.height]))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300,
                         env={**__import__("os").environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr[-3000:]
    events, n_trials = json.loads(out.stdout.strip().splitlines()[-1])
    threads = {t for _, t, _ in events}
    assert n_trials > 1 or rows > 100_000
    names = [name for _, _, name in events]
    assert "onnxruntime" in names and "skl2onnx" in names  # the exporter was imported during the run
    if rows > 100_000:
        # Trials in worker processes: the exporter is imported by a thread beside the search.
        assert len(threads) > 1
    # In-process trials (threads of this process) import nothing themselves: the inline starting
    # points, one after the other, imported what the trial threads use.
    for other in threads - {"MainThread"}:
        times = [when for when, t, _ in events if t == other]
        overlapping = [(t, name) for when, t, name in events if t != other and times[0] <= when <= times[-1]]
        assert not overlapping, (other, overlapping[:10])


def test_the_search_keeps_free_what_the_final_refit_will_demand(tmp_path) -> None:
    # finish() refits on all rows only when REFIT_SAFETY x the estimate fits before its export
    # reserve; the search's reserve must keep at least that free, or the final model falls back
    # to a fold model although the budget was planned for the refit.
    import lakeml
    from lakeml.ml.automl.api import _reserve
    from lakeml.ml.automl.data import prepare
    from lakeml.ml.automl.finish import REFIT_SAFETY, refit_estimate

    lake = lakeml.connect(tmp_path / "lake")
    data = prepare(lake, _table(2000), target="y", task=None, roles=None, seed=0, max_rows=None)
    best = TrialRecord(0, "logistic", {"C": 1.0}, "ok", sample=max(len(t) for t, _ in data.folds),
                       score=0.8, seconds=30.0)
    reserve = _reserve(data, 600.0, 2)
    export_reserve = 1.0 + data.n_rows * 2e-6
    assert reserve(best) >= export_reserve + REFIT_SAFETY * refit_estimate(best, data, 2)
