"""The Spark engine: connect, errors without pyspark or Java, Azure settings, writes and scoring on Spark.

Conformance with Polars runs through the ``engine`` parameter (tests/conftest.py); the tests here
cover what only the Spark engine has.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import polars as pl
import pytest

import lakeml
from lakeml.engines.spark.abfs import abfs_settings
from lakeml.errors import ConfigError, NullInputError, PredictError, SchemaError, UnsupportedOperationError
from lakeml.session import Lake
from lakeml.storage.credentials import AzureCredentials, Secret
from lakeml.storage.transactions import Transaction
from tests.conformance import collect, same
from tests.scoring.models import column_pipeline, packed_logreg, training_frame

REPO = Path(__file__).resolve().parents[2]


def _run(code: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=600)


def test_import_lakeml_and_connecting_on_polars_import_no_pyspark(tmp_path: Path) -> None:
    out = _run("import sys, lakeml; lakeml.connect(sys.argv[1]).tables(); "
               "print([m for m in sys.modules if m.startswith('pyspark')])", str(tmp_path / "lake"))
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def test_spark_without_pyspark_is_a_missing_dependency_with_the_pip_line(tmp_path: Path) -> None:
    out = _run("import sys; sys.modules['pyspark'] = None; import lakeml\n"
               "try:\n    lakeml.connect(sys.argv[1], backend='spark')\n"
               "except lakeml.LakeMLError as e:\n    print(type(e).__name__, '|', e.one_line())",
               str(tmp_path / "lake"))
    assert "MissingDependencyError" in out.stdout, out.stderr[-2000:]
    assert "pip install 'lakeml[spark]'" in out.stdout


def test_spark_without_java_says_how_to_install_it(tmp_path: Path) -> None:
    code = ("import sys, lakeml\nlake = lakeml.connect(sys.argv[1], backend='spark')\n"
            "try:\n    lake.tables(); lake.sql('SELECT 1 AS a')\n"
            "except lakeml.LakeMLError as e:\n    print(type(e).__name__, '|', e.one_line())")
    out = _run(code, str(tmp_path / "lake"), env={"JAVA_HOME": str(tmp_path / "no-java"), "PATH": "/nonexistent"})
    assert "EngineError" in out.stdout and "openjdk-17-jre-headless" in out.stdout, out.stdout + out.stderr[-2000:]


def test_unknown_backend_and_spark_arguments_on_polars_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown backend 'duck'"):
        lakeml.connect(tmp_path / "lake", backend="duck")
    with pytest.raises(ConfigError, match="only apply to backend='spark'"):
        lakeml.connect(tmp_path / "lake", spark_conf={"spark.master": "local[1]"})


def test_backend_default_comes_from_the_environment(tmp_path: Path) -> None:
    out = _run("import sys, lakeml; print(type(lakeml.connect(sys.argv[1]).engine).__name__)", str(tmp_path / "l"),
               env={"LAKEML_BACKEND": "spark"})
    assert out.stdout.strip() == "SparkEngine", out.stderr[-2000:]


def _creds(**kw: object) -> AzureCredentials:
    return AzureCredentials(account_name="acct", **kw)  # type: ignore[arg-type]


def test_lake_credentials_map_to_hadoop_abfs_settings() -> None:
    host = "acct.dfs.core.windows.net"
    key = abfs_settings(_creds(kind="account_key", account_key=Secret("k3y")))
    assert key == {f"fs.azure.account.auth.type.{host}": "SharedKey", f"fs.azure.account.key.{host}": "k3y"}
    sas = abfs_settings(_creds(kind="sas", sas_token=Secret("?sv=1&sig=s")))
    assert sas[f"fs.azure.account.auth.type.{host}"] == "SAS"
    assert sas[f"fs.azure.sas.fixed.token.{host}"] == "sv=1&sig=s"
    assert sas[f"fs.azure.sas.token.provider.type.{host}"].endswith("FixedSASTokenProvider")
    sp = abfs_settings(_creds(kind="entra"), env={"AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s",
                                                  "AZURE_TENANT_ID": "t"})
    assert sp[f"fs.azure.account.auth.type.{host}"] == "OAuth"
    assert sp[f"fs.azure.account.oauth2.client.endpoint.{host}"] == "https://login.microsoftonline.com/t/oauth2/token"
    msi = abfs_settings(_creds(kind="entra"), env={})
    assert msi[f"fs.azure.account.oauth.provider.type.{host}"].endswith("MsiTokenProvider")


@pytest.mark.spark
def test_an_azure_lake_on_a_spark_without_hadoop_azure_is_refused_without_secrets(spark_session: object) -> None:
    lake = lakeml.connect("abfss://c@acct.dfs.core.windows.net/lake", backend="spark", spark=spark_session,
                          storage_options={"account_name": "acct", "account_key": "c2VjcmV0LWtleQ=="})
    assert lake.engine.capabilities.azure is False
    with pytest.raises(ConfigError) as info:
        lake.engine.hadoop_path(lake.storage.uri("tables/t"), lake.storage)
    text = str(info.value)
    assert "hadoop-azure" in text and "Polars backend" in text and "c2VjcmV0LWtleQ" not in text


# ---- writes and reads on Spark -------------------------------------------------------------------
@pytest.mark.spark
def test_writes_commit_through_the_log_and_polars_reads_them(spark_session: object, tmp_path: Path) -> None:
    lake = lakeml.connect(tmp_path / "lake", backend="spark", spark=spark_session)
    first = pl.DataFrame({"id": [1, 2, 3], "g": ["a", "b", "a"], "x": [0.5, None, 2.0]})
    assert lake.write("t", first, partition_by="g").version == 0
    assert lake.write("t", lake.sql("SELECT id + 10 AS id, g, x FROM t WHERE g = 'a'"), mode="append").version == 1
    polars_lake = lakeml.connect(tmp_path / "lake")
    got = polars_lake.table("t").collect()
    assert sorted(got["id"].to_list()) == [1, 2, 3, 11, 13] and polars_lake.describe("t").partition_by == ("g",)
    assert same(lake.table("t"), polars_lake.table("t").select("id", "x", "g"), ordered=False)
    described = lake.describe("t")
    assert (described.num_rows, described.partition_by, described.schema["id"]) == (5, ("g",), "Int64")
    assert lake.write("t", pl.DataFrame({"id": [7], "g": ["z"], "x": [1.0]}), mode="overwrite").version == 2
    assert collect(lake.table("t"))["id"].to_list() == [7]
    with pytest.raises(SchemaError, match="Cannot append"):
        lake.write("t", pl.DataFrame({"id": ["text"], "g": ["z"], "x": [1.0]}), mode="append")
    widened = pl.DataFrame({"id": pl.Series([8], dtype=pl.Int32), "g": ["z"], "x": [2.0]})
    lake.write("t", widened, mode="append")  # int32 widens losslessly into the table's int64
    assert polars_lake.table("t").collect_schema()["id"] == pl.Int64


@pytest.mark.spark
def test_results_are_spark_dataframes(spark_session: object, tmp_path: Path) -> None:
    from pyspark.sql import DataFrame

    lake = lakeml.connect(tmp_path / "lake", backend="spark", spark=spark_session)
    lake.write("t", pl.DataFrame({"a": [1.0, 2.0]}))
    assert isinstance(lake.sql("SELECT TOP 1 a FROM t"), DataFrame) and isinstance(lake.table("t"), DataFrame)


# ---- scoring on Spark ----------------------------------------------------------------------------------
@pytest.fixture
def spark_scoring(spark_session: object, tmp_path: Path) -> Lake:
    lake = lakeml.connect(tmp_path / "lake", backend="spark", spark=spark_session)
    lake.models.register(packed_logreg()[0], name="churn", features=["a", "b"])
    lake.models.register(column_pipeline()[0], name="pipe")
    lake.write("cust", training_frame().with_row_index("id"))
    return lake


@pytest.mark.spark
def test_predict_and_score_on_spark_equal_polars(spark_scoring: Lake, tmp_path: Path) -> None:
    polars_lake = lakeml.connect(tmp_path / "lake")
    outputs = "label bigint, probabilities array(real, 2)"
    got = spark_scoring.predict("pipe", "SELECT * FROM cust ORDER BY id", outputs=outputs, batch_size=64)
    expected = polars_lake.predict("pipe", "SELECT * FROM cust ORDER BY id", outputs=outputs)
    assert same(got, expected)
    result = spark_scoring.score("churn", "cust", "scores", outputs="label bigint")
    assert result.rows == 300
    assert same(polars_lake.table("scores").sort("id"),
                polars_lake.predict("churn", "cust", outputs="label bigint").sort("id"))


@pytest.mark.spark
def test_predict_rules_fail_on_the_driver_before_scoring(spark_scoring: Lake) -> None:
    with pytest.raises(PredictError, match=r"needs input column\(s\) \['b'\]"):  # rule 2
        spark_scoring.predict("churn", "SELECT id, a FROM cust")
    with pytest.raises(PredictError, match=r"CAST\(a AS real\)"):  # rule 5
        spark_scoring.predict("churn", "SELECT CAST(a AS DOUBLE) AS a, b FROM cust")
    with pytest.raises(NullInputError, match="'a' has 300 null"):  # rule 10, counted over the whole table
        spark_scoring.predict("churn", "SELECT CAST(NULL AS REAL) AS a, b FROM cust")


@pytest.mark.spark
def test_bound_models_are_functions_in_spark_sql(spark_scoring: Lake, tmp_path: Path) -> None:
    spark_scoring.models.bind("churn", alias="churn", return_type="double", output="probabilities[1]")
    got = collect(spark_scoring.sql("SELECT id, PREDICT('churn', a, b) AS score FROM cust ORDER BY id"))
    ref = lakeml.connect(tmp_path / "lake").predict("churn", "cust", outputs="probabilities array(real, 2)")
    assert got["score"].to_list() == [float(p[1]) for p in ref.sort("id")["probabilities"].to_list()]


def test_cli_backend_option_and_environment_choose_the_engine(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from lakeml.cli.context import CliState
    from lakeml.cli.main import cli

    seen: list[str] = []

    @cli.command("_engine_name", hidden=True)
    @click.pass_context
    def _engine_name(ctx: click.Context) -> None:
        seen.append(ctx.find_object(CliState).lake().engine.name)

    try:
        root = str(tmp_path / "lake")
        assert CliRunner().invoke(cli, ["--lake", root, "--backend", "spark", "_engine_name"]).exit_code == 0
        assert CliRunner().invoke(cli, ["--lake", root, "_engine_name"], env={"LAKEML_BACKEND": "spark"}).exit_code == 0
        assert CliRunner().invoke(cli, ["--lake", root, "_engine_name"]).exit_code == 0
        bad = CliRunner().invoke(cli, ["--lake", root, "--backend", "duck", "_engine_name"])
    finally:
        cli.commands.pop("_engine_name")
    assert seen == ["spark", "spark", "polars"]
    assert bad.exit_code == 2 and "'duck' is not one of 'polars', 'spark'" in bad.output


@pytest.mark.engine_gap("spark", "azure", reason="the pip pyspark has no hadoop-azure connector and lakeml "
                                                 "downloads no jars; clusters that ship it read abfss:// lakes")
def test_an_azure_lake_writes_and_reads_on_every_engine(engine: str, azurite: object,
                                                        request: pytest.FixtureRequest) -> None:
    container = azurite.new_container()  # type: ignore[attr-defined]
    extra = {"backend": "spark", "spark": request.getfixturevalue("spark_session")} if engine == "spark" else {}
    lake = lakeml.connect(f"abfss://{container}@devstoreaccount1.dfs.core.windows.net/lake",
                          storage_options=azurite.storage_options(), **extra)  # type: ignore[attr-defined]
    data = pl.DataFrame({"a": [1, 2, 3]})
    lake.write("t", data)
    assert same(lake.table("t"), data, ordered=False)


@pytest.mark.spark
def test_registered_external_files_read_on_spark(spark_session: object, tmp_path: Path) -> None:
    files = tmp_path / "files"
    files.mkdir()
    pl.DataFrame({"a": [1, 2]}).write_parquet(files / "one.parquet")
    lake = lakeml.connect(tmp_path / "lake", backend="spark", spark=spark_session)
    lake.register_table("ext", str(files / "*.parquet"), format="parquet")
    assert collect(lake.sql("SELECT SUM(a) AS s FROM ext"))["s"].to_list() == [3]


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_transactional_writes_commit_once_on_every_engine(engine_lake: Lake, fmt: str) -> None:
    rows = pl.DataFrame({"id": [1, 2], "x": [1.0, 2.0]})
    marker = Transaction("copy", 1, {"watermark": "2013-02-01"})
    first = engine_lake.write("t", rows, format=fmt, transaction=marker)
    again = engine_lake.write("t", rows, format=fmt, mode="append", transaction=marker)
    assert (first.committed, again.committed) == (True, False)
    assert engine_lake.last_transaction("t", "copy") == marker
    assert same(engine_lake.table("t"), rows, ordered=False)


@pytest.mark.engine_gap("spark", "merge_writes", reason="merge is copy-on-write over Polars frames; on Spark the "
                                                        "error names the Polars engine, which shares the lake")
def test_merge_upserts_on_every_engine(engine_lake: Lake) -> None:
    engine_lake.write("t", pl.DataFrame({"id": [1, 2], "x": [1.0, 2.0]}))
    engine_lake.write("t", pl.DataFrame({"id": [2, 3], "x": [9.0, 3.0]}), mode="merge", keys=["id"])
    assert same(engine_lake.table("t"), pl.DataFrame({"id": [1, 2, 3], "x": [1.0, 9.0, 3.0]}), ordered=False)


@pytest.mark.engine_gap("spark", "sql_writes", reason="SQL that writes runs on the Polars engine; on Spark the "
                                                      "error says so")
def test_sql_that_writes_on_every_engine(engine_lake: Lake) -> None:
    engine_lake.write("t", pl.DataFrame({"id": [1, 2], "x": [1.0, 2.0]}))
    engine_lake.sql("CREATE TABLE u AS SELECT id, x * 2 AS y FROM t")
    engine_lake.sql("INSERT INTO u SELECT id + 10, x FROM t")
    assert same(engine_lake.table("u"), pl.DataFrame({"id": [1, 2, 11, 12], "y": [2.0, 4.0, 1.0, 2.0]}),
                ordered=False)


@pytest.mark.spark
def test_spark_gaps_say_which_engine_to_use(spark_session: object, tmp_path: Path) -> None:
    lake = lakeml.connect(tmp_path / "lake", backend="spark", spark=spark_session)
    lake.write("t", pl.DataFrame({"id": [1], "x": [1.0]}))
    assert not lake.engine.capabilities.merge_writes and not lake.engine.capabilities.sql_writes
    with pytest.raises(UnsupportedOperationError, match="mode='merge'") as merge:
        lake.write("t", pl.DataFrame({"id": [1], "x": [2.0]}), mode="merge", keys=["id"])
    with pytest.raises(UnsupportedOperationError, match="SQL that writes") as dml:
        lake.sql("DROP TABLE t")
    assert "lakeml.connect(root)" in str(merge.value) and "lakeml.connect(root).sql" in str(dml.value)
    assert lake.tables() == ["t"]


@pytest.mark.spark
def test_spark_score_gaps_are_flags_with_errors_that_say_what_to_do(spark_scoring: Lake, tmp_path: Path) -> None:
    caps = spark_scoring.engine.capabilities
    assert not (caps.file_targets or caps.batch_progress or caps.case_sensitive_columns)
    target = str(tmp_path / "scores.parquet")
    with pytest.raises(UnsupportedOperationError, match="Scoring into a file") as info:
        spark_scoring.score("churn", "cust", target, outputs="label bigint")
    assert "table name" in (info.value.hint or "") and not (tmp_path / "scores.parquet").exists()
    seen: list[int] = []
    spark_scoring.score("churn", "cust", "scores", outputs="label bigint", progress=seen.append)
    assert seen == [300]  # once, with the committed rows
