"""CLI: ``lakeml models register/list/show/alias`` and ``lakeml predict``."""

from __future__ import annotations

import polars as pl
import pytest
from click.testing import CliRunner

import lakeml
from lakeml.cli.main import cli
from lakeml.cli.predict import data_source
from tests.scoring.models import column_pipeline, packed_logreg, training_frame


@pytest.fixture
def cli_lake(tmp_path):
    root = tmp_path / "lake"
    lake = lakeml.connect(root)
    lake.write("cust", training_frame())
    (tmp_path / "lr.onnx").write_bytes(packed_logreg()[0])
    (tmp_path / "pipe.onnx").write_bytes(column_pipeline()[0])
    return root, tmp_path


def run(root, *args: str):
    return CliRunner().invoke(cli, ["--lake", str(root), *args], catch_exceptions=False, standalone_mode=False)


def _main(root, *args: str) -> tuple[int, str, str]:
    """Run the real entry point (error handling and exit codes included) in-process."""
    import contextlib
    import io

    from lakeml.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(["--lake", str(root), *args])
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_models_register_list_show_alias(cli_lake) -> None:
    root, tmp = cli_lake
    res = run(root, "models", "register", str(tmp / "lr.onnx"), "--name", "churn", "--features", "a,b",
              "--description", "logreg", "--tag", "team=ds", "--alias", "champion")
    assert res.exit_code == 0 and "registered churn:1" in res.output and "alias champion" in res.output
    run(root, "models", "register", str(tmp / "pipe.onnx"), "--name", "churn")
    out = run(root, "models", "list", "--json").output
    assert '"version": 1' in out and '"version": 2' in out and '"champion"' in out
    show = run(root, "models", "show", "churn:2").output
    assert "WITH (label bigint, probabilities array(real, 2))" in show and "plan" in show
    assert run(root, "models", "alias", "churn", "2", "champion").output.strip() == "churn@champion -> churn:2"
    assert lakeml.connect(root).models.get("churn@champion").version == 2


def test_models_alias_delete(cli_lake) -> None:
    root, tmp = cli_lake
    run(root, "models", "register", str(tmp / "lr.onnx"), "--name", "churn", "--features", "a,b",
        "--alias", "champion")
    run(root, "models", "alias", "churn", "1", "backup")
    code, out, err = _main(root, "models", "alias", "churn", "--delete", "champion")
    assert code == 0, err
    assert out.strip() == "deleted churn@champion"
    assert lakeml.connect(root).models.get("churn:1").aliases == ("backup",)
    code, _out, err = _main(root, "models", "alias", "churn", "--delete", "champion")
    assert code == 1 and "champion" in err and len(err.strip().splitlines()) == 1
    code, _out, err = _main(root, "models", "alias", "churn", "1", "x", "--delete", "backup")
    assert code == 2 and "--delete" in err
    code, _out, err = _main(root, "models", "alias", "churn", "1")
    assert code == 2 and "ALIAS" in err


def test_models_errors_are_one_line_exit_1(cli_lake) -> None:
    root, tmp = cli_lake
    code, _out, err = _main(root, "models", "show", "nosuch")
    assert code == 1 and err.startswith("error: No model 'nosuch'") and len(err.strip().splitlines()) == 1
    bad = tmp / "bad.onnx"
    bad.write_bytes(b"garbage")
    code, _out, err = _main(root, "models", "register", str(bad), "--name", "x")
    assert code == 1 and "not a valid ONNX model" in err and "Hint:" in err


def test_predict_to_table_and_print(cli_lake) -> None:
    root, tmp = cli_lake
    run(root, "models", "register", str(tmp / "pipe.onnx"), "--name", "pipe")
    code, out, err = _main(root, "predict", "--model", "pipe", "--data", "cust", "--output", "scored",
                           "--with", "label bigint, probabilities array(real, 2)", "--batch-size", "50")
    assert code == 0, err
    assert "scored 300 rows with pipe:1 into scored" in out  # the result goes to stdout, progress to stderr
    got = lakeml.connect(root).table("scored").collect()
    assert got.columns[-2:] == ["label", "probabilities"] and got.height == 300
    res = run(root, "predict", "--model", "pipe", "--data", "SELECT a, visits, plan FROM cust LIMIT 3",
              "--with", "label bigint")
    assert res.exit_code == 0 and "3 rows" in res.output


def test_predict_from_parquet_file_with_on_null(cli_lake) -> None:
    root, tmp = cli_lake
    run(root, "models", "register", str(tmp / "pipe.onnx"), "--name", "pipe")
    df = training_frame().with_columns(pl.when(pl.col("a") > 1).then(None).otherwise(pl.col("a")).alias("a"))
    df.write_parquet(tmp / "in.parquet")
    code, _o, err = _main(root, "predict", "--model", "pipe", "--data", str(tmp / "in.parquet"), "--output", "s1")
    assert code == 1 and "null value(s)" in err and "--on-null propagate" in err
    code, _o, err = _main(root, "predict", "--model", "pipe", "--data", str(tmp / "in.parquet"), "--output", "s1",
                          "--on-null", "propagate", "--with", "label bigint")
    assert code == 0, err
    assert lakeml.connect(root).table("s1").collect()["label"].null_count() == int((df["a"].is_null()).sum())


def test_data_source_detection() -> None:
    assert data_source("cust") == "cust"
    assert data_source("SELECT * FROM t") == "SELECT * FROM t"
    assert data_source("/x/y.parquet") == "SELECT * FROM read_parquet('/x/y.parquet')"
    assert data_source("az://c/f.csv") == "SELECT * FROM read_csv('az://c/f.csv')"


def test_sql_predict_inside_lakeml_sql(cli_lake) -> None:
    root, tmp = cli_lake
    run(root, "models", "register", str(tmp / "pipe.onnx"), "--name", "pipe", "--alias", "champion")
    query = ("SELECT d.plan, p.label FROM PREDICT(MODEL = @m, DATA = cust AS d, RUNTIME = ONNX) "
             "WITH (label bigint) AS p LIMIT 4")
    code, out, err = _main(root, "sql", query, "--param", "m=pipe@champion", "--format", "csv")
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[0] == "plan,label" and len(lines) == 5
    code, _out, err = _main(root, "sql", query.replace("label bigint", "score real"), "--param", "m=pipe")
    assert code == 1 and "WITH names output 'score'" in err
