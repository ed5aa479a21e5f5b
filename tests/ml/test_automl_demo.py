"""The AutoML stage of ``lakeml demo`` on the real flights table (short budget)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console


@pytest.mark.slow
def test_demo_step_trains_registers_and_scores_with_sql_predict(lake) -> None:
    from lakeml.demo import load_demo_tables
    from lakeml.demo.automl import MODEL_NAME, demo_step

    lake.storage.ensure_root()
    out = io.StringIO()
    console = Console(file=out, width=200)
    load_demo_tables(lake, console)
    demo_step(lake, console, budget=20)
    text = out.getvalue()
    assert "run tables under _lakeml/runs/" in text  # tables go to stdout via render_table
    assert f"registered {MODEL_NAME}:1" in text
    assert "November AUC" in text
    auc = float(text.split("November AUC ")[1].split()[0])
    assert 0.55 < auc < 1.0  # schedule features carry some signal; never a leak-level score
    manifest = lake.models.get(MODEL_NAME).manifest
    assert "dep_delay" not in [i.name for i in manifest.inputs]
    assert manifest.extra["parity"]["passed"] is True
