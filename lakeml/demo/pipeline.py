"""The pipeline stage of ``lakeml demo``: an incremental monthly load, a SQL transform, AutoML and scoring.

The flights table is split into one Parquet file per month under ``raw/flights_by_month/`` in the
lake. The pipeline copies new rows incrementally (watermark ``time_hour``), builds a feature table
with SQL, trains with AutoML on a short budget (on the first week of each month, to keep the demo
quick) and scores the last month. It runs twice: over the first months, and after two more months
arrive, when the Copy reads only the new rows.
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeml.session import Lake

RAW = "raw/flights_by_month"
FEATURES = "month, day, hour, sched_dep_time, sched_arr_time, carrier, origin, dest, distance"
#: AutoML budget of the demo pipeline (seconds).
DEMO_BUDGET = 30
DEMO_PIPELINE: dict[str, Any] = {
    "name": "flights_monthly",
    "properties": {
        "parameters": {"budget": {"type": "int", "defaultValue": DEMO_BUDGET}},
        "activities": [
            {"name": "load", "type": "Copy",
             "policy": {"retry": 2, "retryIntervalInSeconds": 5, "timeout": "0.00:10:00"},
             "typeProperties": {"source": {"path": f"{RAW}/*.parquet", "format": "parquet"},
                                "sink": {"table": "flights_raw", "mode": "append"},
                                "watermark": {"column": "time_hour"}}},
            {"name": "features", "type": "Script",
             "dependsOn": [{"activity": "load", "dependencyConditions": ["Succeeded"]}],
             "typeProperties": {"sql": f"CREATE OR REPLACE TABLE flights_features AS SELECT {FEATURES}, "
                                       "CASE WHEN arr_delay > 15 THEN 1 ELSE 0 END AS late FROM flights_raw "
                                       "WHERE arr_delay IS NOT NULL"}},
            {"name": "latest", "type": "Lookup",
             "dependsOn": [{"activity": "features", "dependencyConditions": ["Succeeded"]}],
             "typeProperties": {"sql": "SELECT MAX(month) AS month, COUNT(*) AS n FROM flights_features"}},
            {"name": "train", "type": "AutoML",
             "dependsOn": [{"activity": "latest", "dependencyConditions": ["Succeeded"]}],
             "typeProperties": {
                 "data": f"@concat('SELECT {FEATURES}, late FROM flights_features WHERE day <= 7 AND month < ', "
                         "string(activity('latest').output.firstRow.month))",
                 "target": "late", "timeBudget": "@pipeline().parameters.budget", "seed": 7,
                 "allowed": ["lightgbm"], "register": "flights_pipeline_model"}},
            {"name": "score", "type": "Predict",
             "dependsOn": [{"activity": "train", "dependencyConditions": ["Succeeded"]}],
             "typeProperties": {
                 "model": "@activity('train').output.model",
                 "source": f"@concat('SELECT {FEATURES} FROM flights_features WHERE month = ', "
                           "string(activity('latest').output.firstRow.month))",
                 "target": "flights_scored", "outputs": "label bigint", "mode": "overwrite"}},
        ]}}


def write_months(lake: Lake, months: range) -> None:
    """Write one Parquet file per month of the demo ``flights`` table under ``raw/flights_by_month/``."""
    import polars as pl

    for month in months:
        buffer = io.BytesIO()
        lake.table("flights").filter(pl.col("month") == month).collect().write_parquet(buffer)
        lake.storage.write_bytes(f"{RAW}/month={month:02d}.parquet", buffer.getvalue())


def demo_step(lake: Lake, console: Any, *, budget: int = DEMO_BUDGET) -> None:
    """Create and run the demo pipeline twice (months 1-4, then 1-6) and print its run tree."""
    from lakeml.pipeline.show import format_tree

    for name in ("flights_raw", "flights_features", "flights_scored"):
        if name in lake.tables():
            lake.drop(name)
    lake.storage.delete(RAW, recursive=True)
    lake.pipelines.create(DEMO_PIPELINE)
    console.print("stored pipeline [bold]flights_monthly[/bold]: Copy (incremental) → Script → Lookup → AutoML "
                  "→ Predict")
    for months in (range(1, 5), range(5, 7)):
        write_months(lake, months)
        console.print(f"new files in {RAW}/: months {months.start}-{months.stop - 1}")
        started = time.perf_counter()
        result = lake.pipelines.run("flights_monthly", {"budget": budget})
        console.print(format_tree(lake.pipelines.get(result.run_id)), highlight=False, markup=False)
        copied = result.output("load") or {}
        console.print(f"run {result.status} in {time.perf_counter() - started:.1f}s; the Copy read "
                      f"{copied.get('rowsCopied', 0):,} new rows (watermark {copied.get('watermark', {}).get('new')})")
    console.print(f"[dim]Runs are SQL tables: lakeml --lake {lake.root} sql \"SELECT activityName, status, "
                  "durationInMs FROM activity_runs\"[/dim]")
