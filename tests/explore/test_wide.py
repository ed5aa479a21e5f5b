"""Very wide tables: profiling and the report stay within the stated memory budget whatever the width."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import lakeml
from lakeml.explore.engine import DEFAULT_MEMORY_BUDGET
from lakeml.explore.report import MAX_COLUMN_SECTIONS

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
    text = p.to_html(sys.argv[2], max_column_charts=5)
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
