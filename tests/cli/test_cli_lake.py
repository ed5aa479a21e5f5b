"""The lake commands of the CLI, run as a user runs them (a real process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path, stdin: str | None = None, env: dict[str, str] | None = None):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    return subprocess.run([sys.executable, "-m", "lakeml.cli.main", *args], cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=180, env={**base, **(env or {})})


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "people.csv").write_text("id,name,age\n1,ann,31\n2,bob,42\n3,cy,27\n")
    return tmp_path


def test_ingest_tables_describe_default_lake(workdir: Path):
    out = run("ingest", "people.csv", "people", "--partition-by", "age", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "ingested 3 rows into people" in out.stdout
    assert (workdir / "lake" / "tables" / "people").is_dir()  # ./lake is the default
    listed = run("tables", "--json", cwd=workdir)
    assert [t["name"] for t in json.loads(listed.stdout)] == ["people"]
    desc = json.loads(run("describe", "people", "--json", cwd=workdir).stdout)
    assert desc["num_rows"] == 3 and desc["partition_by"] == ["age"] and desc["schema"]["name"] == "String"


def test_lake_option_and_env_var(workdir: Path):
    assert run("--lake", str(workdir / "other"), "ingest", "people.csv", "p", cwd=workdir).returncode == 0
    env_out = run("tables", "--json", cwd=workdir, env={"LAKEML_LAKE": str(workdir / "other")})
    assert [t["name"] for t in json.loads(env_out.stdout)] == ["p"]


def test_lakeml_error_is_one_line_exit_1(workdir: Path):
    run("ingest", "people.csv", "people", cwd=workdir)
    out = run("describe", "peple", cwd=workdir)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "error: No table named 'peple' in the lake at " + str((workdir / "lake").resolve())
        + ". Hint: Did you mean 'people'?"]
    assert "Traceback" not in out.stderr


def test_debug_shows_traceback(workdir: Path):
    out = run("--debug", "describe", "nope", cwd=workdir)
    assert out.returncode == 1 and "Traceback" in out.stderr and "TableNotFoundError" in out.stderr


def test_usage_error_exit_2(workdir: Path):
    out = run("ingest", cwd=workdir)
    assert out.returncode == 2 and "Missing argument" in out.stderr
    bad = run("ingest", "people.csv", "t", "--mode", "upsert", cwd=workdir)
    assert bad.returncode == 2


def test_bad_input_file_reports_line(workdir: Path):
    (workdir / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    out = run("ingest", "bad.csv", "t", "--schema", "b=int64", cwd=workdir)
    assert out.returncode == 1 and "line 3" in out.stderr and "column 'b'" in out.stderr


def test_traversal_name_refused(workdir: Path):
    out = run("ingest", "people.csv", "../../etc", cwd=workdir)
    assert out.returncode == 1 and "looks like a path" in out.stderr
    assert not (workdir.parent / "etc").exists()


def test_ingest_is_quiet_when_piped(workdir: Path):
    out = run("ingest", "people.csv", "people", cwd=workdir)
    assert out.stderr == ""  # no progress bar on a pipe


def test_sql_formats_params_and_stdin(workdir: Path):
    run("ingest", "people.csv", "people", cwd=workdir)
    csv_out = run("sql", "SELECT name, age FROM people WHERE age > @min ORDER BY age", "--param", "min=30",
                  "--format", "csv", cwd=workdir)
    assert csv_out.returncode == 0, csv_out.stderr
    assert csv_out.stdout == "name,age\nann,31\nbob,42\n"
    js = run("sql", "-", "--format", "json", cwd=workdir, stdin="SELECT TOP 1 name FROM people ORDER BY id")
    assert json.loads(js.stdout) == [{"name": "ann"}]
    pq = run("sql", "SELECT * FROM people", "--format", "parquet", "--output", "out.parquet", cwd=workdir)
    assert pq.returncode == 0 and (workdir / "out.parquet").stat().st_size > 0
    table = run("sql", "SELECT COUNT(*) AS n FROM people", cwd=workdir)
    assert "3" in table.stdout


def test_sql_errors_exit_1(workdir: Path):
    run("ingest", "people.csv", "people", cwd=workdir)
    syntax = run("sql", "SELECT name FROM people WHERE", cwd=workdir)
    assert syntax.returncode == 1 and "line 1" in syntax.stderr
    parquet_needs_output = run("sql", "SELECT 1 AS x", "--format", "parquet", cwd=workdir)
    assert parquet_needs_output.returncode == 1 and "--output" in parquet_needs_output.stderr
    bad_param = run("sql", "SELECT 1 AS x", "--param", "oops", cwd=workdir)
    assert bad_param.returncode == 2


def test_ingest_into_existing_table_names_the_cli_flags(workdir: Path):
    assert run("ingest", "people.csv", "people", cwd=workdir).returncode == 0
    again = run("ingest", "people.csv", "people", cwd=workdir)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        "error: Table 'people' already exists. Hint: Pass --mode append to add the rows, or --mode overwrite to "
        "replace the table."]
    assert run("ingest", "people.csv", "people", "--mode", "append", cwd=workdir).returncode == 0
    count = run("sql", "SELECT COUNT(*) AS n FROM people", "--format", "json", cwd=workdir)
    assert json.loads(count.stdout) == [{"n": 6}]


def test_ingest_null_values_schema_and_warnings_speak_cli(workdir: Path):
    (workdir / "d.csv").write_text("delay,code\n" + "".join(f"{i},{i}\n" for i in range(30)) + "NA,-\n-,7\n")
    out = run("ingest", "d.csv", "d", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert "warning: Column 'delay' is read as text" in out.stderr and "--null-value -" in out.stderr
    assert "null_values" not in out.stderr and "schema=" not in out.stderr
    out = run("ingest", "d.csv", "d", "--mode", "overwrite", "--null-value", "-", cwd=workdir)
    assert out.returncode == 0 and out.stderr == ""
    got = run("describe", "d", "--json", cwd=workdir)
    assert json.loads(got.stdout)["schema"] == {"delay": "Int64", "code": "Int64"}
    (workdir / "late.csv").write_text("d\n" + "".join(f"{i}\n" for i in range(10_010)) + "oops\n")
    bad = run("ingest", "late.csv", "late", "--schema", "d=float64", cwd=workdir)
    assert bad.returncode == 1 and "'oops'" in bad.stderr
    assert "--null-value oops" in bad.stderr and "--schema d=str" in bad.stderr and "schema={" not in bad.stderr


def test_append_schema_mismatch_names_only_differing_columns_cli(workdir: Path):
    run("ingest", "people.csv", "people", cwd=workdir)
    (workdir / "more.csv").write_text("id,name,age\n4,di,30.5\n")
    out = run("ingest", "more.csv", "people", "--mode", "append", cwd=workdir)
    assert out.returncode == 1
    assert "column age is Int64 in the table but Float64 in the new data" in out.stderr
    assert "name" not in out.stderr.split("Hint:")[0] and "--mode overwrite" in out.stderr


def test_demo_csv_to_writes_the_tour_data(workdir: Path):
    out = run("demo", "--csv-to", "data", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (workdir / "data").iterdir()) == ["airlines.csv", "airports.csv", "flights.csv"]
    assert (workdir / "data" / "flights.csv").read_text().count("\n") == 336_777  # header + every flight
    assert not (workdir / "lake").exists()  # the demo itself did not run


def test_lake_that_is_a_file_or_missing_is_an_error_not_an_empty_lake(workdir: Path):
    as_file = run("--lake", "people.csv", "tables", cwd=workdir)
    assert as_file.returncode == 1 and as_file.stderr.startswith("error: The lake root")
    assert "is a file, not a folder" in as_file.stderr and "--lake" in as_file.stderr
    missing = run("--lake", "no-such-lake", "tables", cwd=workdir)
    assert missing.returncode == 1 and "There is no lake at" in missing.stderr and "lakeml init" in missing.stderr
    assert not (workdir / "no-such-lake").exists()


def test_python_connect_to_a_file_is_refused(workdir: Path):
    import lakeml
    from lakeml.errors import ConfigError

    with pytest.raises(ConfigError, match="is a file, not a folder") as info:
        lakeml.connect(workdir / "people.csv")
    assert "connect(root=...)" in str(info.value)
