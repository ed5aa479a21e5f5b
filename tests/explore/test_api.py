"""``Lake.profile`` / ``Lake.chart`` on a real lake: sources, sampling, exports, charts, errors."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

from lakeml.errors import ColumnNotFoundError, ConfigError, TableNotFoundError
from lakeml.explore.api import CHART_KINDS
from lakeml.explore.chart import Chart
from lakeml.explore.profile import Profile


@pytest.fixture
def sales(lake):
    rng = np.random.default_rng(3)
    n = 4000
    frame = pl.DataFrame({
        "region": rng.choice(["north", "south", "east", "west"], n),
        "units": rng.integers(1, 50, n),
        "price": rng.gamma(2.0, 10.0, n),
        "day": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 12, 31), eager=True).sample(n, with_replacement=True,
                                                                                             seed=1),
        "customer": [f"c{i:05d}" for i in range(n)],
    }).with_columns((pl.col("units") * pl.col("price")).alias("revenue"),
                    (pl.col("units") > 25).alias("big"))
    lake.write("sales", frame)
    return frame


def test_profile_table_by_name(lake, sales) -> None:
    p = lake.profile("sales")
    assert isinstance(p, Profile)
    assert p.overview["rows"] == sales.height and p.overview["columns"] == sales.width
    assert p.column("units")["mean"] == pytest.approx(sales["units"].mean())
    assert p.source == "sales"
    assert "unique" in p.alerts.filter(pl.col("column") == "customer")["kind"].to_list()
    assert "skewed" not in p.alerts.filter(pl.col("column") == "units")["kind"].to_list()


def test_profile_sql_query_and_frames(lake, sales) -> None:
    p = lake.profile("SELECT region, SUM(revenue) AS revenue FROM sales GROUP BY region")
    assert p.overview["rows"] == 4
    expected = sales.group_by("region").agg(pl.col("revenue").sum())["revenue"]
    assert p.column("revenue")["max"] == pytest.approx(expected.max())
    for data in (sales, sales.lazy(), sales.to_arrow()):
        assert lake.profile(data).overview["rows"] == sales.height


def test_profile_sample(lake, sales) -> None:
    p = lake.profile("sales", sample=1000)
    assert 0 < p.overview["rows"] <= 1000
    assert "sample" in p.overview["sample"]
    again = lake.profile("sales", sample=1000)
    assert again.overview["rows"] == p.overview["rows"]  # deterministic
    half = lake.profile("sales", sample=0.5)
    assert 0.4 * sales.height < half.overview["rows"] < 0.6 * sales.height
    whole = lake.profile("sales", sample=10**6)
    assert whole.overview["rows"] == sales.height


@pytest.mark.parametrize("bad", [0, -5, 1.5, "10", True])
def test_profile_rejects_bad_sample(lake, sales, bad) -> None:
    with pytest.raises(ConfigError, match="Invalid sample") as info:
        lake.profile("sales", sample=bad)
    assert "fraction" in str(info.value)


def test_profile_errors(lake, sales) -> None:
    with pytest.raises(TableNotFoundError):
        lake.profile("sale")
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'revenue'"):
        lake.profile("sales", target="revenu")
    with pytest.raises(ConfigError, match="bins"):
        lake.profile("sales", bins=0)
    p = lake.profile("sales")
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'price'"):
        p.column("Price")
    with pytest.raises(ConfigError, match="no target"):
        p.target_chart("units")


def test_target_profile(lake, sales) -> None:
    p = lake.profile("sales", target="big")
    assert p.target["task"] == "classification"
    rel = p.target_relations
    assert rel["feature"][0] == "units"  # big is defined by units
    assert rel["association"][0] > 0.95  # one histogram bin straddles the threshold
    assert "customer" not in rel["feature"].to_list()  # identifier-like text is skipped
    chart = p.target_chart("region")
    assert chart.to_png().startswith(b"\x89PNG")


def test_to_json_round_trip(lake, sales, tmp_path: Path) -> None:
    p = lake.profile("sales", target="revenue")
    text = p.to_json(tmp_path / "p.json")
    data = json.loads(text)
    assert json.loads((tmp_path / "p.json").read_text(encoding="utf-8")) == data
    assert data["overview"]["rows"] == sales.height
    assert {c["column"] for c in data["columns"]} == set(sales.columns)
    assert data["target"]["task"] == "regression"
    assert "NaN" not in text and "Infinity" not in text
    hist = [h for h in data["histograms"] if h["column"] == "price"]
    assert sum(h["count"] for h in hist) == sales.height


def test_html_report_is_self_contained(lake, sales, tmp_path: Path) -> None:
    p = lake.profile("sales", target="revenue")
    out = tmp_path / "sub" / "report.html"
    assert p.to_html(out) == out
    text = out.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # nothing fetched from a network
    assert "<link" not in text and "<script" not in text
    images = re.findall(r'src="data:image/png;base64,', text)
    assert len(images) >= sales.width + 1  # a chart per column plus the heatmap and target charts
    for section in ("Overview", "Alerts", "Target", "Correlations", "Columns"):
        assert f">{section}" in text
    assert "<h3>customer</h3>" in text
    fragment = p._repr_html_()
    assert fragment.startswith('<div class="lkp">') and "<html" not in fragment


def test_html_escapes_names(lake) -> None:
    frame = pl.DataFrame({"<b>bold</b>": [1, 2, 3], "naïve & \"quoted\"": ["x", "<y>", "z"]})
    text = lake.profile(frame).to_html()
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text
    assert "&lt;y&gt;" in text


def test_column_charts_and_heatmap(lake, sales, tmp_path: Path) -> None:
    p = lake.profile("sales", target="revenue")
    png = p.chart("price").to_png()
    image = Image.open(io.BytesIO(png))
    assert image.size[0] > 300 and image.size[1] > 150
    assert len(set(image.convert("RGB").getdata())) > 20  # actually drawn, not blank
    svg = p.chart("region").to_svg()
    assert ET.fromstring(svg).tag.endswith("svg")
    assert p.correlation_chart().to_png().startswith(b"\x89PNG")
    written = p.save_charts(tmp_path / "charts", format="svg")
    assert len(written) >= sales.width + 1 and all(f.suffix == ".svg" and f.stat().st_size > 0 for f in written)


@pytest.mark.parametrize("kind", CHART_KINDS)
def test_chart_kinds_write_png_and_svg(lake, sales, tmp_path: Path, kind: str) -> None:
    args = {"bar": dict(x="region", y="revenue"), "line": dict(x="day", y="revenue"),
            "scatter": dict(x="price", y="revenue"), "hist": dict(x="price")}[kind]
    query = "SELECT region, SUM(revenue) AS revenue FROM sales GROUP BY region" if kind == "bar" else "sales"
    chart = lake.chart(query, kind=kind, output=tmp_path / f"{kind}.png", **args)
    assert isinstance(chart, Chart)
    assert (tmp_path / f"{kind}.png").read_bytes().startswith(b"\x89PNG")
    chart.save(tmp_path / f"{kind}.svg")
    assert ET.parse(tmp_path / f"{kind}.svg").getroot().tag.endswith("svg")
    assert chart._repr_html_().startswith("<img")


def test_bar_chart_counts_rows_without_y(lake, sales) -> None:
    chart = lake.chart("sales", kind="bar", x="region", title="Rows per region")
    axes = chart.figure.axes[0]
    heights = sorted(round(b.get_height()) for b in axes.patches)
    assert heights == sorted(sales["region"].value_counts()["count"].to_list())


def test_hist_chart_counts_every_row(lake, sales) -> None:
    chart = lake.chart("sales", kind="hist", x="price", bins=12)
    assert sum(chart.figure.axes[0].patches[0].get_path().vertices[:, 1]) > 0
    # the bars of the lazily binned histogram add up to the row count
    from lakeml.explore.api import _histogram

    hist = _histogram(sales.lazy(), "price", pl.Float64, 12)
    assert hist["count"].sum() == sales.height and hist.height == 12


def test_hist_chart_of_dates_labels_dates(lake, sales) -> None:
    chart = lake.chart("sales", kind="hist", x="day", bins=6)
    labels = [t.get_text() for t in chart.figure.axes[0].get_xticklabels()]
    assert labels and all(label.startswith("2024-") for label in labels)


def test_scatter_samples_big_results(lake) -> None:
    frame = pl.DataFrame({"a": np.arange(30_000, dtype=float), "b": np.arange(30_000, dtype=float) * 2})
    chart = lake.chart(frame, kind="scatter", x="a", y="b", max_points=2000)
    offsets = chart.figure.axes[0].collections[0].get_offsets()
    assert 0 < len(offsets) <= 2000


def test_chart_errors(lake, sales, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Unknown chart kind 'bars'") as info:
        lake.chart("sales", kind="bars", x="region")
    assert "Did you mean 'bar'" in str(info.value)
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'region'"):
        lake.chart("sales", kind="bar", x="regoin")
    with pytest.raises(ConfigError, match="not numeric"):
        lake.chart("sales", kind="line", x="day", y="region")
    with pytest.raises(ConfigError, match="needs y"):
        lake.chart("sales", kind="scatter", x="price")
    with pytest.raises(ConfigError, match="not numeric: no histogram"):
        lake.chart("sales", kind="hist", x="region")
    with pytest.raises(ConfigError, match="no rows"):
        lake.chart("SELECT * FROM sales WHERE units > 1000", kind="line", x="day", y="units")
    with pytest.raises(ConfigError, match="image format"):
        lake.chart("sales", kind="hist", x="price", output=tmp_path / "chart.jpg")


def test_profile_and_demo_report_on_any_lake(any_lake) -> None:
    """Local disk and Azure (Azurite): the lazy scan is profiled and the report lands in the lake."""
    from io import StringIO

    from rich.console import Console

    from lakeml.demo.explore import REPORT_PATH, demo_step

    rng = np.random.default_rng(9)
    dep = rng.normal(10, 20, 800)
    frame = pl.DataFrame({"month": rng.integers(1, 13, 800), "dep_delay": dep,
                          "arr_delay": dep + rng.normal(0, 3, 800), "carrier": rng.choice(["AA", "B6"], 800)})
    any_lake.write("flights", frame)
    p = any_lake.profile("flights", target="arr_delay")
    assert p.overview["rows"] == 800
    assert p.column("dep_delay")["std"] == pytest.approx(frame["dep_delay"].std())
    demo_step(any_lake, Console(file=StringIO(), color_system=None))
    assert b"Profile of flights" in any_lake.storage.read_bytes(REPORT_PATH)


# -- conformance: the same profile and charts on every engine (tolerances: docs/engines.md) --------------------

def _mixed(n: int = 2000) -> pl.DataFrame:
    rng = np.random.default_rng(7)
    x = rng.normal(10, 3, n)
    x[rng.random(n) < 0.1] = np.nan
    frame = pl.DataFrame({
        "x": x, "k": rng.integers(-3, 9, n),
        "s": rng.choice(["red", "green", "blue", "ünïcødé"], n, p=[0.5, 0.25, 0.2, 0.05]),
        "d": pl.date_range(pl.date(2024, 1, 1), pl.date(2024, 3, 31), eager=True).sample(n, with_replacement=True,
                                                                                         seed=2),
        "flag": rng.random(n) < 0.3, "y": rng.normal(size=n),
    }).with_columns(pl.when(pl.col("k") == 0).then(None).otherwise(pl.col("s")).alias("s"),
                    (pl.col("y") + pl.col("k") * 0.5).alias("y"))
    return pl.concat([frame, frame.head(20)])  # 20 duplicate rows


_APPROXIMATE = ("p5", "p25", "median", "p75", "p95")


def test_profiles_are_the_same_on_every_engine(engine_lake) -> None:
    """Exact statistics, bins, top values, correlations and target relations equal the Polars profiler's;
    quantiles are within percentile_approx's stated rank error (docs/engines.md)."""
    from polars.testing import assert_frame_equal

    from lakeml.explore.engine import compute_profile

    frame = _mixed()
    engine_lake.write("mixed", frame)
    for target in ("y", "flag"):
        got = engine_lake.profile("mixed", target=target)
        want = Profile(compute_profile(frame.lazy(), target=target))
        for key in ("rows", "columns", "missing_cells", "duplicate_rows", "memory_bytes", "column_kinds",
                    "distinct_method"):
            assert got.overview[key] == want.overview[key], key
        exact = [c for c in want.columns.columns if c not in _APPROXIMATE]
        assert_frame_equal(got.columns.select(exact), want.columns.select(exact), check_exact=False, rel_tol=1e-9)
        for name in ("histograms", "top_values", "correlations", "alerts", "target_distribution", "target_relations",
                     "target_by_feature"):
            assert_frame_equal(getattr(got, name), getattr(want, name), check_exact=False, rel_tol=1e-9)
        assert got.target == want.target
        for column in ("x", "k", "y"):
            finite = np.sort(frame[column].drop_nulls().drop_nans().to_numpy()) if frame[column].dtype.is_float() \
                else np.sort(frame[column].drop_nulls().to_numpy())
            n, error = len(finite), int(np.ceil(len(finite) / 10_000))
            for name, q in zip(_APPROXIMATE, (0.05, 0.25, 0.5, 0.75, 0.95), strict=True):
                rank = q * (n - 1)  # the exact quantile lies between the values at floor(rank) and ceil(rank)
                low = finite[max(0, int(np.floor(rank)) - error)]
                high = finite[min(n - 1, int(np.ceil(rank)) + error)]
                assert low <= got.column(column)[name] <= high, (column, name)
    assert got.to_html().startswith("<!DOCTYPE html>")


def test_charts_are_the_same_on_every_engine(engine_lake) -> None:
    frame = _mixed()
    engine_lake.write("mixed", frame)
    from lakeml.explore.api import _histogram

    hist = engine_lake.chart("mixed", kind="hist", x="x", bins=12)
    heights = hist.figure.axes[0].patches[0].get_data().values.tolist()
    assert heights == _histogram(frame.lazy(), "x", pl.Float64, 12)["count"].to_list()
    dates = engine_lake.chart("mixed", kind="hist", x="d", bins=6)
    assert all(t.get_text().startswith("2024-") for t in dates.figure.axes[0].get_xticklabels())
    bars = engine_lake.chart("mixed", kind="bar", x="s")
    want = frame.group_by("s").agg(pl.len().alias("n")).sort(["n", "s"], descending=[True, False])
    assert [round(p.get_height()) for p in bars.figure.axes[0].patches] == want["n"].to_list()
    grouped = engine_lake.chart("SELECT k, AVG(y) AS y FROM mixed GROUP BY k", kind="bar", x="k", y="y")
    assert [t.get_text() for t in grouped.figure.axes[0].get_xticklabels()] == [str(v) for v in range(-3, 9)]
    scatter = engine_lake.chart("mixed", kind="scatter", x="x", y="y", max_points=300)
    assert 0 < len(scatter.figure.axes[0].collections[0].get_offsets()) <= 300
    assert engine_lake.chart("mixed", kind="line", x="d", y="y", max_points=300).to_png().startswith(b"\x89PNG")
    with pytest.raises(ConfigError, match="not numeric: no histogram"):
        engine_lake.chart("mixed", kind="hist", x="s")
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'flag'"):
        engine_lake.chart("mixed", kind="bar", x="flga")


def test_profile_samples_on_every_engine(engine_lake) -> None:
    frame = _mixed()
    engine_lake.write("mixed", frame)
    p = engine_lake.profile("mixed", sample=500)
    assert 0 < p.overview["rows"] <= 500 and "sample" in p.overview["sample"]
    assert engine_lake.profile("mixed", sample=500).overview["rows"] == p.overview["rows"]  # deterministic
    assert engine_lake.profile("mixed", sample=10**6).overview["rows"] == frame.height


@pytest.mark.engine_gap("spark", "profile_durations",
                        reason="Spark has no physical value to bin durations by: they are profiled as 'other'")
def test_durations_are_profiled_with_a_histogram(engine_lake) -> None:
    frame = pl.DataFrame({"wait": [dt.timedelta(minutes=m) for m in (1, 5, 5, 30, 90)]})
    p = engine_lake.profile(engine_lake.engine.from_data(frame))
    assert p.column("wait")["kind"] == "datetime"
    assert p.histograms.filter(pl.col("column") == "wait")["count"].sum() == 5
    assert engine_lake.engine.capabilities.profile_durations
