"""``lakeml profile`` and ``lakeml chart`` through the real entry point."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import lakeml
from lakeml.cli.main import main


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    rng = np.random.default_rng(5)
    frame = pl.DataFrame({"city": rng.choice(["Oslo", "Lima", "Pune"], 500), "temp": rng.normal(15, 8, 500),
                          "rain": rng.random(500) < 0.4})
    lakeml.connect(root).write("weather", frame)
    return root


def _run(args: list[str]) -> int:
    try:
        main(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_profile_command_writes_report_and_json(lake_dir: Path, tmp_path: Path, capsys) -> None:
    out, js = tmp_path / "report.html", tmp_path / "p.json"
    code = _run(["--lake", str(lake_dir), "profile", "weather", "--target", "rain", "--output", str(out),
                 "--json", str(js)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "500 rows x 3 columns" in printed and str(out) in printed
    assert "<h3>temp</h3>" in out.read_text(encoding="utf-8")
    assert json.loads(js.read_text(encoding="utf-8"))["target"]["column"] == "rain"


def test_profile_command_default_output_name(lake_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _run(["--lake", str(lake_dir), "profile", "weather", "--sample", "0.5"]) == 0
    assert (tmp_path / "weather_profile.html").exists()
    assert _run(["--lake", str(lake_dir), "profile", "SELECT city, temp FROM weather WHERE temp > 10"]) == 0
    assert (tmp_path / "profile.html").exists()


def test_chart_command(lake_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "chart.svg"
    code = _run(["--lake", str(lake_dir), "chart", "SELECT city, AVG(temp) AS t FROM weather GROUP BY city",
                 "--kind", "bar", "--x", "city", "--y", "t", "--output", str(out)])
    assert code == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert str(out) in capsys.readouterr().out


def test_cli_errors_are_one_line_exit_1(lake_dir: Path, tmp_path: Path, capsys) -> None:
    code = _run(["--lake", str(lake_dir), "profile", "weather", "--target", "tmp", "-o", str(tmp_path / "r.html")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("error: Target column 'tmp'") and "Hint:" in err
    assert len(err.strip().splitlines()) == 1
    code = _run(["--lake", str(lake_dir), "profile", "weather", "--sample", "lots"])
    assert code == 1 and "Invalid --sample 'lots'" in capsys.readouterr().err
    code = _run(["--lake", str(lake_dir), "chart", "weather", "--kind", "hist", "--x", "city",
                 "--output", str(tmp_path / "c.png")])
    assert code == 1 and "not numeric" in capsys.readouterr().err
    code = _run(["--lake", str(lake_dir), "chart", "weather", "--kind", "pie", "--output", "c.png"])
    assert code == 2  # usage error from click
