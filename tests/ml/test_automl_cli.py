"""``lakeml automl`` and ``lakeml runs`` through the real click CLI on a real lake."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from lakeml.cli.main import cli
from lakeml.errors import TrainingError
from tests.ml.test_automl import dirty_frame


@pytest.fixture
def lake_dir(tmp_path):
    import lakeml

    root = tmp_path / "lake"
    lakeml.connect(root).write("customers", dirty_frame(200))
    return str(root)


@pytest.mark.slow
def test_automl_prints_leaderboard_registers_and_runs_lists_it(lake_dir) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})
    out = runner.invoke(cli, ["--lake", lake_dir, "automl", "--data", "SELECT * FROM customers WHERE tenure > 0",
                              "--target", "churned", "--max-trials", "3", "--seed", "1", "--budget", "300",
                              "--allow", "logistic", "--allow", "lightgbm", "--no-ensemble",
                              "--register", "churn"])
    assert out.exit_code == 0, out.output
    assert "leaderboard" in out.output and "data guardrails" in out.output
    assert "ONNX parity: passed" in out.output and "registered churn:1" in out.output
    assert "deterministic" in out.output
    listing = runner.invoke(cli, ["--lake", lake_dir, "runs"])
    assert listing.exit_code == 0 and "churn:1" in listing.output
    import lakeml
    from lakeml.ml.runs import run_ids

    [run_id] = run_ids(lakeml.connect(lake_dir))
    shown = runner.invoke(cli, ["--lake", lake_dir, "runs", run_id])
    assert shown.exit_code == 0 and "leaderboard of" in shown.output and "missing_values" in shown.output


def test_unknown_run_is_a_lakeml_error(lake_dir) -> None:
    out = CliRunner().invoke(cli, ["--lake", lake_dir, "runs", "nope"])
    assert isinstance(out.exception, TrainingError)


def test_bad_target_exits_1_with_one_line(lake_dir) -> None:
    proc = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", lake_dir, "automl", "--data",
                           "customers", "--target", "churn", "--max-trials", "1"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("error: Target column 'churn'")
    assert "Did you mean 'churned'?" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
