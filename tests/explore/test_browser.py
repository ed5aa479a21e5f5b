"""Render the HTML report in headless Chromium: it must show its sections and actually paint charts."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from PIL import Image

pytestmark = pytest.mark.browser

_CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-dev-shm-usage"]


@pytest.mark.skipif(_CHROMIUM is None, reason="Chromium is not installed (`make chromium` installs it on Debian)")
def test_report_renders_in_chromium(lake, tmp_path: Path) -> None:
    rng = np.random.default_rng(11)
    frame = pl.DataFrame({"amount": rng.lognormal(3, 1, 2000), "segment": rng.choice(["retail", "pro"], 2000),
                          "score": rng.normal(size=2000), "churn": rng.random(2000) < 0.2,
                          "empty": [None] * 2000}).with_columns(pl.col("empty").cast(pl.Float64))
    report = tmp_path / "report.html"
    lake.profile(frame, target="churn").to_html(report)
    assert _CHROMIUM is not None
    common = [_CHROMIUM, *_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run([*common, "--dump-dom", report.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    for text in ("Overview", "Alerts", "Target", "Correlations", "Columns", "amount", "segment",
                 "Every value is missing."):
        assert text in dom, text
    shot = tmp_path / "shot.png"
    subprocess.run([*common, f"--screenshot={shot}", "--window-size=1280,2000", report.as_uri()],
                   capture_output=True, timeout=120, check=True)
    image = Image.open(shot).convert("RGB")
    assert image.size == (1280, 2000)
    colors = image.getcolors(maxcolors=1 << 20) or []
    assert len(colors) > 500  # text, charts and anti-aliasing: far from a blank page
    header = image.crop((0, 0, 1280, 60)).resize((1, 1)).getpixel((0, 0))
    assert header[2] > header[0] + 60  # the blue title band painted
