"""Pipelines on a lake in Azure Blob storage (Azurite) and on local disk: incremental Copy from lake
paths, SQL, lookups, metadata, stored pipelines and run records through the lake's storage."""

from __future__ import annotations

import io

import polars as pl

from lakeml.pipeline.clock import FakeClock
from tests.pipeline.conftest import act, pipeline


def put_month(lake, month: int, rows: int = 50) -> None:
    buffer = io.BytesIO()
    pl.DataFrame({"id": [month * 1000 + i for i in range(rows)], "month": [month] * rows}).write_parquet(buffer)
    lake.storage.write_bytes(f"raw/m{month:02d}.parquet", buffer.getvalue())


def test_incremental_pipeline_on_any_lake(any_lake):
    lake, clock = any_lake, FakeClock()
    lake.storage.ensure_root()
    doc = pipeline(
        act("load", "Copy", source={"path": "raw/*.parquet", "format": "parquet"}, sink={"table": "t"},
            watermark={"column": "id"}),
        act("sum", "Script", deps={"load": "Succeeded"},
            sql="CREATE OR REPLACE TABLE per_month AS SELECT month, COUNT(*) AS n FROM t GROUP BY month"),
        act("count", "Lookup", deps={"sum": "Succeeded"}, sql="SELECT SUM(n) AS n FROM per_month"),
        act("meta", "GetMetadata", path="raw", fieldList=["exists", "itemType", "childItems"]),
        name="remote")
    lake.pipelines.create(doc)
    assert lake.pipelines.list() == ["remote"]
    put_month(lake, 1)
    first = lake.pipelines.run("remote", clock=clock)
    assert first.status == "Succeeded", first.message
    put_month(lake, 2)
    second = lake.pipelines.run("remote", clock=clock)
    assert second.output("load")["rowsCopied"] == 50
    assert second.output("count") == {"firstRow": {"n": 100}}
    assert {c["name"] for c in second.output("meta")["childItems"]} == {"m01.parquet", "m02.parquet"}
    runs = lake.sql("SELECT runId, status FROM pipeline_runs ORDER BY runId").collect()
    assert runs["status"].to_list() == ["Succeeded", "Succeeded"]
    assert "load (Copy)" in lake.pipelines.show(second.run_id)
