"""Every activity type against a real local lake: Copy, Script, Lookup, GetMetadata, Train, AutoML,
Predict, Profile, Python (control-flow activities are covered in test_runner.py)."""

from __future__ import annotations

import json

import polars as pl
import pytest

from tests.pipeline.conftest import act, pipeline


def run(lake, clock, *activities, **kwargs):
    return lake.pipelines.run(pipeline(*activities, **kwargs), clock=clock)


def month_files(folder, months, rows=10):
    folder.mkdir(parents=True, exist_ok=True)
    for m in months:
        pl.DataFrame({"id": [m * 100 + i for i in range(rows)], "month": [m] * rows,
                      "ts": [f"2013-{m:02d}-{i + 1:02d} 00:00:00" for i in range(rows)],
                      "x": [float(i) for i in range(rows)]}).write_csv(folder / f"m{m:02d}.csv")


def copy_act(name="load", mode="append", **extra):
    return act(name, "Copy", source={"path": "raw/*.csv", "format": "csv"}, sink={"table": "t", "mode": mode},
               **extra)


def test_copy_from_a_lake_path_appends(lake, clock, tmp_path):
    month_files(tmp_path / "lake" / "raw", [1, 2])
    result = run(lake, clock, copy_act())
    assert result.status == "Succeeded", result.message
    assert result.output("load")["rowsCopied"] == 20
    assert lake.table("t").select(pl.len()).collect().item() == 20


def test_incremental_copy_reads_only_new_rows_and_records_the_watermark(lake, clock, tmp_path):
    raw = tmp_path / "lake" / "raw"
    month_files(raw, [1])
    step = copy_act(watermark={"column": "ts"})
    first = run(lake, clock, step)
    assert first.output("load")["rowsCopied"] == 10
    assert first.output("load")["watermark"] == {"old": None, "new": "2013-01-10 00:00:00"}
    again = run(lake, clock, step)
    assert again.output("load")["rowsCopied"] == 0
    month_files(raw, [2])
    third = run(lake, clock, step)
    assert third.output("load")["rowsCopied"] == 10
    assert lake.table("t").select(pl.len()).collect().item() == 20
    marker = lake.last_transaction("t", "pipeline:p:load")
    assert marker.metadata["watermark"] == "2013-02-10 00:00:00"


def test_copy_table_to_table_overwrite_and_merge_by_keys(lake, clock):
    lake.write("src", pl.DataFrame({"k": [1, 2], "v": ["a", "b"]}))
    run(lake, clock, act("c", "Copy", source={"table": "src"}, sink={"table": "dst", "mode": "overwrite"}))
    lake.write("src", pl.DataFrame({"k": [2, 3], "v": ["B", "c"]}), mode="overwrite")
    result = run(lake, clock, act("c", "Copy", source={"sql": "SELECT k, v FROM src"},
                                  sink={"table": "dst", "mode": "merge", "keys": ["k"]}))
    assert result.status == "Succeeded", result.message
    assert lake.table("dst").sort("k").collect().to_dicts() == [
        {"k": 1, "v": "a"}, {"k": 2, "v": "B"}, {"k": 3, "v": "c"}]


def test_copy_error_mode_refuses_an_existing_table(lake, clock):
    lake.write("src", pl.DataFrame({"k": [1]}))
    lake.write("dst", pl.DataFrame({"k": [1]}))
    result = run(lake, clock, act("c", "Copy", source={"table": "src"}, sink={"table": "dst", "mode": "error"},
                                  policy={"retry": 2}))
    assert result.status == "Failed" and result.activities[0]["attempt"] == 1
    assert "exists" in result.activities[0]["error"]["message"]


def test_script_runs_statements_in_both_forms(lake, clock):
    lake.write("t", pl.DataFrame({"a": [1, 2, 3]}))
    result = run(lake, clock, act("s", "Script", sql=["SELECT * FROM t", "SELECT a FROM t WHERE a > 1"]),
                 act("c", "Script", scripts=[{"type": "Query", "text": "SELECT 1 AS one"}]))
    assert result.status == "Succeeded", result.message
    assert result.output("s")["rowsAffected"] == [3, 2]
    assert result.output("c")["rowsAffected"] == [1]


def test_script_bad_sql_fails_at_once(lake, clock):
    result = run(lake, clock, act("s", "Script", policy={"retry": 3}, sql="SELEKT 1"))
    assert result.status == "Failed" and result.activities[0]["attempt"] == 1


def test_lookup_first_row_and_all_rows_feed_expressions(lake, clock):
    lake.write("t", pl.DataFrame({"a": [1, 2, 3], "d": ["2013-01-01", "2013-01-02", "2013-01-03"]}))
    result = run(lake, clock,
                 act("one", "Lookup", sql="SELECT COUNT(*) AS n FROM t"),
                 act("all", "Lookup", sql="SELECT a FROM t ORDER BY a", firstRowOnly=False),
                 act("loop", "ForEach", deps={"all": "Succeeded"}, isSequential=True,
                     items="@activity('all').output.value",
                     activities=[act("add", "AppendVariable", variableName="xs", value="@item().a")]),
                 act("check", "IfCondition", deps={"one": "Succeeded"},
                     expression="@equals(activity('one').output.firstRow.n, 3)",
                     ifFalseActivities=[act("no", "Fail", message="wrong", errorCode="X")]),
                 variables={"xs": {"type": "Array"}})
    assert result.status == "Succeeded", result.message
    assert result.output("one") == {"firstRow": {"n": 3}}
    assert result.output("all") == {"count": 3, "value": [{"a": 1}, {"a": 2}, {"a": 3}]}
    assert lake.pipelines.get(result.run_id)["variables"]["xs"] == [1, 2, 3]


def test_get_metadata_of_a_table_and_of_paths(lake, clock, tmp_path):
    lake.write("t", pl.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    month_files(tmp_path / "lake" / "raw", [1, 2], rows=3)
    all_fields = ["exists", "itemName", "itemType", "lastModified", "size", "childItems", "columnCount", "structure",
                  "rowCount"]
    result = run(lake, clock, act("table", "GetMetadata", table="t", fieldList=all_fields),
                 act("folder", "GetMetadata", path="raw", fieldList=["exists", "itemType", "childItems", "size"]),
                 act("file", "GetMetadata", path="raw/m01.csv", fieldList=all_fields),
                 act("missing", "GetMetadata", path="nope", fieldList=["exists"]),
                 act("no_table", "GetMetadata", table="nope", fieldList=["exists"]))
    assert result.status == "Succeeded", result.message
    table = result.output("table")
    assert table["exists"] and table["itemType"] == "Table" and table["rowCount"] == 2
    assert table["columnCount"] == 2 and table["structure"][0] == {"name": "a", "type": "Int64"}
    assert table["size"] > 0 and table["lastModified"].startswith("20")
    folder = result.output("folder")
    assert folder["itemType"] == "Folder" and {c["name"] for c in folder["childItems"]} == {"m01.csv", "m02.csv"}
    file = result.output("file")
    assert file["itemType"] == "File" and file["itemName"] == "m01.csv" and file["rowCount"] == 3
    assert file["columnCount"] == 4
    assert result.output("missing") == {"exists": False} and result.output("no_table") == {"exists": False}


def training_table(lake, n=300):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    lake.write("train", pl.DataFrame({"x": x, "z": rng.normal(size=n), "late": (x + rng.normal(scale=0.3, size=n)
                                                                                 > 0).astype(int)}))


def test_train_predict_and_profile(lake, clock):
    training_table(lake)
    result = run(lake, clock,
                 act("train", "Train", data="train", target="late", model="logistic", register="late_model",
                     alias="champion"),
                 act("score", "Predict", deps={"train": "Succeeded"}, model="late_model@champion",
                     source="SELECT x, z FROM train", target="scored"),
                 act("profile", "Profile", table="train", target="late"))
    assert result.status == "Succeeded", result.message
    assert result.output("train")["model"] == "late_model:1" and "auc" in result.output("train")["metrics"]
    assert result.output("score")["rowsScored"] == 300
    assert lake.table("scored").select(pl.len()).collect().item() == 300
    path = result.output("profile")["reportPath"]
    assert lake.storage.read_bytes(path).startswith(b"<!")


@pytest.mark.slow
def test_automl_registers_the_best_model(lake, clock):
    training_table(lake)
    result = run(lake, clock, act("auto", "AutoML", data="train", target="late", timeBudget=30, maxTrials=2, seed=1,
                                  allowed=["logistic"], register="auto_model"))
    assert result.status == "Succeeded", result.message
    out = result.output("auto")
    assert out["model"] == "auto_model:1" and out["runId"] and out["bestFamily"] == "logistic"


def test_python_activity_gets_the_lake_and_parameters(lake, clock, tmp_path):
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "steps.py").write_text("def count(lake, table, extra=0):\n"
                                     "    return {'rows': lake.table(table).collect().height + extra}\n")
    (folder / "p.json").write_text(json.dumps(pipeline(
        act("py", "Python", script="steps.py", function="count", parameters={"table": "t", "extra": 1}))))
    lake.write("t", pl.DataFrame({"a": [1, 2]}))
    result = lake.pipelines.run(str(folder / "p.json"), clock=clock)
    assert result.output("py") == {"rows": 3}
    lake.pipelines.create(str(folder / "p.json"))  # stored: the script is still found next to the definition
    assert lake.pipelines.run("p", clock=clock).output("py") == {"rows": 3}


def test_python_activity_refuses_non_json_results(lake, clock, tmp_path):
    (tmp_path / "s.py").write_text("def main(lake):\n    return {'x': object()}\n")
    result = run(lake, clock, act("py", "Python", script=str(tmp_path / "s.py")))
    assert result.status == "Failed" and "JSON" in result.activities[0]["error"]["message"]


def test_script_writes_tables_with_sql(lake, clock):
    lake.write("src", pl.DataFrame({"a": [1, 2, 3, 4]}))
    result = run(lake, clock, act("s", "Script", sql=[
        "CREATE OR REPLACE TABLE big AS SELECT a FROM src WHERE a > 1",
        "INSERT INTO big SELECT a FROM src WHERE a = 1",
        "DROP TABLE IF EXISTS nothing_here"]))
    assert result.status == "Succeeded", result.message
    assert result.output("s")["rowsAffected"][:2] == [3, 1]
    assert lake.table("big").select(pl.len()).collect().item() == 4


def test_copy_from_a_delta_folder(lake, clock, tmp_path):
    lake.write("d", pl.DataFrame({"k": [1, 2, 3]}), format="delta")
    location = lake.catalog.info("d").location
    result = run(lake, clock, act("c", "Copy", source={"path": location, "format": "delta"},
                                  sink={"table": "copied", "mode": "overwrite"}))
    assert result.status == "Succeeded", result.message
    assert sorted(lake.table("copied").collect()["k"].to_list()) == [1, 2, 3]
