"""The pipeline stage of ``lakeml demo`` on the real flights table, and the README's example pipeline."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from lakeml.pipeline import load_pipeline

REPO = Path(__file__).resolve().parents[2]


def test_the_example_pipeline_validates():
    pipeline = load_pipeline(REPO / "examples" / "pipelines" / "flights_daily.json")
    assert pipeline.name == "flights_daily"


def test_the_demo_pipeline_validates():
    from lakeml.demo.pipeline import DEMO_PIPELINE

    assert load_pipeline(DEMO_PIPELINE).name == "flights_monthly"


@pytest.mark.slow
def test_demo_step_loads_incrementally_trains_and_scores(lake) -> None:
    from lakeml.demo import load_demo_tables
    from lakeml.demo.pipeline import demo_step

    lake.storage.ensure_root()
    out = io.StringIO()
    console = Console(file=out, width=200)
    load_demo_tables(lake, console)
    demo_step(lake, console)
    text = out.getvalue()
    assert "✓ score (Predict)" in text
    runs = lake.pipelines.runs("flights_monthly")
    assert runs["status"].to_list() == ["Succeeded", "Succeeded"]
    copied = lake.sql("SELECT output FROM activity_runs WHERE activityName = 'load' ORDER BY start").collect()
    months_1_4 = lake.sql("SELECT COUNT(*) AS n FROM flights WHERE month <= 4").collect().item()
    months_5_6 = lake.sql("SELECT COUNT(*) AS n FROM flights WHERE month IN (5, 6)").collect().item()
    assert [json.loads(row)["rowsCopied"] for row in copied["output"]] == [months_1_4, months_5_6]
    assert lake.table("flights_raw").collect().height == months_1_4 + months_5_6
    assert lake.table("flights_scored").collect().height > 0
