"""``lakeml train`` on the command line: metrics, parity, registration, and one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

import lakeml
from lakeml.cli.main import main
from lakeml.cli.train import parse_pairs
from lakeml.errors import ConfigError


def make_lake(tmp_path: Path) -> str:
    rng = np.random.default_rng(0)
    n = 200
    x = rng.normal(size=n)
    root = str(tmp_path / "lake")
    lake = lakeml.connect(root)
    lake.write("houses", pl.DataFrame({"rooms": rng.integers(1, 6, n), "area": x * 20 + 80,
                                       "town": rng.choice(["n", "s"], n),
                                       "sold": (x + rng.normal(scale=0.5, size=n)) > 0}))
    return root


def run(argv: list[str]) -> int:
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_train_prints_metrics_parity_and_registers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_lake(tmp_path)
    code = run(["--lake", root, "train", "--data", "houses", "--target", "sold", "--model", "random_forest",
                "--param", "n_estimators=10", "--param", "max_depth=4", "--n-jobs", "1", "--register", "homes"])
    out = capsys.readouterr().out
    assert code == 0
    assert "random_forest (classification), 200 rows, 5-fold cross-validation" in out
    assert "auc" in out and "ONNX parity: passed" in out and "registered homes:1" in out
    version = lakeml.connect(root).models.get("homes")
    assert version.manifest.extra["training"]["params"]["max_depth"] == 4


def test_train_from_a_query_with_roles_and_task(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_lake(tmp_path)
    code = run(["--lake", root, "train", "--data", "SELECT rooms, town, area FROM houses", "--target", "area",
                "--model", "linear", "--role", "rooms=categorical", "--task", "regression", "--n-jobs", "1"])
    out = capsys.readouterr().out
    assert code == 0 and "linear (regression)" in out and "rmse" in out and "registered" not in out


def test_train_errors_are_one_line_with_exit_code_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = make_lake(tmp_path)
    assert run(["--lake", root, "train", "--data", "houses", "--target", "sould", "--n-jobs", "1"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Target column 'sould' is not in the data.")
    assert "Did you mean 'sold'?" in err and len(err.strip().splitlines()) == 1
    assert run(["--lake", root, "train", "--data", "houses", "--target", "sold", "--param", "oops"]) == 1
    assert "is not of the form key=value" in capsys.readouterr().err
    assert run(["--lake", root, "train", "--data", "houses", "--target", "sold", "--model", "svm"]) == 2


def test_parse_pairs_reads_json_values() -> None:
    assert parse_pairs(("a=1", "b=0.5", "c=true", "d=null", "e=sqrt", "f=[1,2]"), option="--param") == {
        "a": 1, "b": 0.5, "c": True, "d": None, "e": "sqrt", "f": [1, 2]}
    with pytest.raises(ConfigError, match="--role"):
        parse_pairs(("=x",), option="--role")
