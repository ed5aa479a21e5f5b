"""Bar charts of a query without ORDER BY show x sorted; an ORDER BY (or a frame's own order) is kept."""

from __future__ import annotations

import polars as pl
import pytest

from lakeml.session import Lake


@pytest.fixture
def months(lake: Lake) -> Lake:
    lake.write("m", pl.DataFrame({"month": [3, 11, 1, 12, 2, 10], "d": [3.0, 11.0, 1.0, 12.0, 2.0, 10.0]}))
    return lake


def _labels(chart) -> list[str]:
    return [t.get_text() for t in chart.figure.axes[0].get_xticklabels()]


def test_bar_chart_without_order_by_sorts_x(months: Lake) -> None:
    chart = months.chart("SELECT month, d FROM m", kind="bar", x="month", y="d")
    assert _labels(chart) == ["1", "2", "3", "10", "11", "12"]
    grouped = months.chart("SELECT month, AVG(d) AS d FROM m GROUP BY month", kind="bar", x="month", y="d")
    assert _labels(grouped) == ["1", "2", "3", "10", "11", "12"]
    assert _labels(months.chart("m", kind="bar", x="month", y="d")) == ["1", "2", "3", "10", "11", "12"]


def test_bar_chart_keeps_an_order_by_and_a_frames_order(months: Lake) -> None:
    chart = months.chart("SELECT month, d FROM m ORDER BY d DESC", kind="bar", x="month", y="d")
    assert _labels(chart) == ["12", "11", "10", "3", "2", "1"]
    frame = pl.DataFrame({"month": ["b", "a", "c"], "d": [1.0, 2.0, 3.0]})
    assert _labels(months.chart(frame, kind="bar", x="month", y="d")) == ["b", "a", "c"]


def test_bar_chart_sorts_before_keeping_max_bars(months: Lake) -> None:
    chart = months.chart("SELECT month, d FROM m", kind="bar", x="month", y="d", max_bars=3)
    assert _labels(chart) == ["1", "2", "3"]
