"""Very wide tables: profiling and the report stay within the stated memory budget whatever the width."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import lakeml
from lakeml.errors import ConfigError
from lakeml.explore.engine import DEFAULT_MEMORY_BUDGET, ProfileOptions, compute_profile
from lakeml.explore.profile import Profile
from lakeml.explore.report import MAX_ALERT_ROWS, MAX_COLUMN_SECTIONS, MAX_TARGET_ROWS

_CHILD = textwrap.dedent("""
    import json, sys, threading, time
    import psutil
    import lakeml

    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    done = threading.Event()

    def watch():
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.02)

    lake = lakeml.connect(sys.argv[1])
    threading.Thread(target=watch, daemon=True).start()
    p = lake.profile("wide")
    text = p.to_html(sys.argv[2], max_column_charts=5).read_text(encoding="utf-8")
    done.set()
    peak[0] = max(peak[0], proc.memory_info().rss)
    print(json.dumps({"peak": peak[0], "columns": p.overview["columns"], "notes": p.overview["notes"],
                      "correlated": p.correlations["x"].n_unique(), "html_bytes": len(text)}))
""")


@pytest.mark.slow
def test_profile_of_10000_columns_stays_within_the_memory_budget(tmp_path: Path) -> None:
    width, rows = 10_000, 200
    rng = np.random.default_rng(5)
    columns: dict[str, object] = {}
    for i in range(width):
        if i % 3 == 0:
            columns[f"f{i}"] = rng.normal(i, 1, rows)
        elif i % 3 == 1:
            columns[f"i{i}"] = rng.integers(0, 50, rows)
        else:
            columns[f"s{i}"] = rng.choice(["a", "b", "c"], rows)
    lakeml.connect(tmp_path / "lake").write("wide", pl.DataFrame(columns))
    report = tmp_path / "wide.html"
    out = subprocess.run([sys.executable, "-c", _CHILD, str(tmp_path / "lake"), str(report)],
                         capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["columns"] == width
    # The whole child process (interpreter, Polars, matplotlib, the profile) under the default budget.
    assert result["peak"] < DEFAULT_MEMORY_BUDGET, f"peak RSS {result['peak'] / 2**20:.0f} MiB"
    assert result["correlated"] == 40
    assert any("Correlations cover the first 40 of" in note for note in result["notes"])
    html = report.read_text(encoding="utf-8")
    assert f"Detailed sections are shown for the first {MAX_COLUMN_SECTIONS} of 10,000 columns" in html
    assert "Charts are shown for the first 5 of 10000 columns" in html
    assert 'id="col-9999"' in html  # every column is in the compact table
    assert html.count('class="col"') == MAX_COLUMN_SECTIONS


@pytest.fixture(scope="module")
def wide_frame() -> pl.DataFrame:
    """450 columns (three column groups) of 120 rows, with three duplicated rows."""
    rng = np.random.default_rng(9)
    frame = pl.DataFrame({
        **{f"x{i}": rng.normal(i, 1, 120) for i in range(300)},
        **{f"k{i}": rng.integers(0, 6, 120) for i in range(100)},
        **{f"s{i}": rng.choice(["p", "q", "r"], 120) for i in range(50)},
    })
    return pl.concat([frame, frame.head(3)])


def test_column_groups_held_or_streamed_give_the_same_numbers(wide_frame: pl.DataFrame) -> None:
    held = compute_profile(wide_frame.lazy(), target="x1")
    # A budget too small to hold any column: every group is streamed from the source.
    streamed = compute_profile(wide_frame.lazy(), target="x1", options=ProfileOptions(memory_budget=4096))
    assert held.overview["duplicate_rows"] == 3
    numeric = held.columns.filter(pl.col("kind") == "numeric")
    assert numeric["mean"].to_list() == pytest.approx(wide_frame.select(numeric["column"].to_list()).mean().row(0))
    assert held.columns.drop("median", "p5", "p25", "p75", "p95").equals(
        streamed.columns.drop("median", "p5", "p25", "p75", "p95"))
    assert held.columns["median"].to_list() == pytest.approx(streamed.columns["median"].to_list())
    assert held.histograms.equals(streamed.histograms) and held.top_values.equals(streamed.top_values)
    assert held.target_relations is not None and streamed.target_relations is not None
    assert held.target_relations["association"].to_list() == pytest.approx(
        streamed.target_relations["association"].to_list())
    x5 = held.target_relations.filter(pl.col("feature") == "x5")["pearson"][0]
    assert x5 == pytest.approx(np.corrcoef(wide_frame["x5"].to_numpy(), wide_frame["x1"].to_numpy())[0, 1])
    # 64 KiB: small groups held in memory, and the table is too big for one hashing query, so
    # duplicate rows are found by chaining the groups' row hashes.
    chained = compute_profile(wide_frame.lazy(), target="x1", options=ProfileOptions(memory_budget=64 * 2**10))
    assert chained.overview["duplicate_rows"] == 3
    assert chained.columns.equals(held.columns) and chained.histograms.equals(held.histograms)
    # Hashing 123 rows of 450 columns needs 2 KiB, more than this budget allows: stated, not guessed.
    assert streamed.overview["duplicate_rows"] is None
    assert any("Duplicate rows were not counted" in note for note in streamed.notes)
    assert "not counted" in Profile(streamed).to_html(max_column_charts=0)


def test_report_caps_sections_alerts_and_target_rows(wide_frame: pl.DataFrame) -> None:
    constant = wide_frame.with_columns(pl.lit(1).alias(f"c{i}") for i in range(520))
    p = Profile(compute_profile(constant.lazy(), target="x1"))
    assert p.alerts.height > MAX_ALERT_ROWS and p.target_relations is not None
    assert p.target_relations.height > MAX_TARGET_ROWS
    text = p.to_html(max_column_charts=2, max_column_sections=30)
    assert "Detailed sections are shown for the first 30 of 970 columns; the other 940 are summarised" in text
    assert text.count('class="col"') == 30 and f'id="col-{p.columns.height - 1}"' in text
    assert f"Showing the first {MAX_ALERT_ROWS:,} of {p.alerts.height:,} alerts" in text
    assert f"Showing the {MAX_TARGET_ROWS:,} strongest of {p.target_relations.height:,} features" in text
    # every alert links to an anchor that exists
    for anchor in set(re.findall(r'href="#(col-\d+)"', text)):
        assert f'id="{anchor}"' in text


def test_memory_budget_is_validated(lake) -> None:
    lake.write("t", pl.DataFrame({"a": [1, 2, 3]}))
    with pytest.raises(ConfigError, match="memory_budget"):
        lake.profile("t", memory_budget=1000)
    assert lake.profile("t", memory_budget=64 * 2**20).overview["rows"] == 3
