"""The explore stage of ``lakeml demo``."""

from __future__ import annotations

import io

import numpy as np
import polars as pl
import pytest
from rich.console import Console

from lakeml.demo.explore import CHART_PATH, REPORT_PATH, demo_step


def _console() -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, width=200, color_system=None), buffer


def test_demo_step_writes_report_into_the_lake(lake) -> None:
    rng = np.random.default_rng(2)
    n = 3000
    dep = rng.gamma(1.5, 12, n) - 5
    lake.write("flights", pl.DataFrame({
        "month": rng.integers(1, 13, n), "carrier": rng.choice(["UA", "AA", "DL"], n),
        "dep_delay": dep, "arr_delay": dep + rng.normal(0, 5, n), "distance": rng.integers(100, 3000, n)}))
    console, buffer = _console()
    demo_step(lake, console)
    html = lake.storage.read_bytes(REPORT_PATH).decode("utf-8")
    assert "Profile of flights" in html and "arr_delay" in html
    assert lake.storage.read_bytes(CHART_PATH).startswith(b"\x89PNG")
    text = buffer.getvalue()
    assert "profiled 3,000 rows x 5 columns" in text
    assert "most associated with arr_delay: dep_delay" in text
    assert lake.storage.uri(*REPORT_PATH.split("/")) in text


@pytest.mark.slow
def test_demo_step_on_real_flights(lake) -> None:
    from lakeml.demo import load_demo_tables

    console, buffer = _console()
    load_demo_tables(lake, console)
    demo_step(lake, console)
    text = buffer.getvalue()
    assert "profiled 336,776 rows x 19 columns" in text
    assert "most associated with arr_delay: dep_delay" in text
    assert "<h3>tailnum</h3>" in lake.storage.read_bytes(REPORT_PATH).decode("utf-8")
