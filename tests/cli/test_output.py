"""Terminal tables: values never split across lines, compact type names, decimals as numbers."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import polars as pl
import pytest

from lakeml.cli.output import render_table, type_name
from lakeml.session import Lake


def _render(frame: pl.DataFrame, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
            width: int = 80) -> str:
    monkeypatch.setenv("COLUMNS", str(width))
    render_table(frame)
    return capsys.readouterr().out


def _wide() -> pl.DataFrame:
    return pl.DataFrame({
        "flight_identifier": ["UA-1545-2013-01-01", "AA-1141-2013-01-01"],
        "scheduled_departure": [datetime(2013, 1, 1, 5, 15, tzinfo=UTC), datetime(2013, 1, 1, 5, 29, tzinfo=UTC)],
        "departure_delay_minutes": [123456.789, -98765.4321],
        "arrival_delay_minutes": [1234567890, -987654321],
        "carrier_full_name": ["United Air Lines Inc.", "American Airlines Inc."],
        "distance_in_miles": [1400, 1416],
    })


def test_a_table_too_wide_for_80_columns_never_splits_a_value(capsys, monkeypatch) -> None:
    out = _render(_wide(), capsys, monkeypatch)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    for value in ("UA-1545-2013-01-01", "123456.789", "-98765.4321", "1234567890", "-987654321",
                  "United Air Lines Inc.", "American Airlines Inc.", "2013-01-01 05:15:00+00:00",
                  "departure_delay_minutes", "datetime[us, UTC]"):
        assert any(value in line for line in lines), f"{value!r} was split:\n{out}"
    assert "2 rows" in out


def test_a_table_that_fits_is_a_grid_with_one_line_per_row(capsys, monkeypatch) -> None:
    frame = pl.DataFrame({"carrier": ["UA", "AA", "DL"], "flights": [58665, 32729, 48110]})
    out = _render(frame, capsys, monkeypatch)
    rows = [line for line in out.splitlines() if "UA" in line or "AA" in line or "DL" in line]
    assert len(rows) == 3 and all("│" in line for line in rows)
    assert "58665" in rows[0] and "i64" in out and "str" in out


def test_compact_type_names() -> None:
    assert type_name(pl.Datetime("us", "UTC")) == "datetime[us, UTC]"
    assert type_name(pl.Datetime("ns")) == "datetime[ns]"
    assert type_name(pl.Int64()) == "i64" and type_name(pl.Float32) == "f32"
    assert type_name(pl.String()) == "str" and type_name(pl.Boolean()) == "bool"
    assert type_name(pl.Decimal(38, 9)) == "decimal[38,9]"
    assert type_name(pl.List(pl.String)) == "list[str]"
    assert type_name(pl.Array(pl.Float32, 2)) == "array[f32, 2]"
    assert type_name(pl.Duration("ms")) == "duration[ms]"
    assert type_name(pl.Struct({"a": pl.Int64, "b": pl.String})) == "struct[2]"


def test_decimals_print_as_the_number(lake: Lake, capsys, monkeypatch) -> None:
    lake.write("temps", pl.DataFrame({"x": [21.5, 22.3, 21.9], "n": [21, 22, 23]}))
    result = lake.sql("SELECT CAST(ROUND(AVG(x), 1) AS DECIMAL(38, 9)) AS avg_x, "
                      "CAST(ROUND(AVG(n), 1) AS DECIMAL(38, 9)) AS avg_n FROM temps").collect()
    assert result.schema["avg_n"] == pl.Decimal(38, 9)
    out = _render(result, capsys, monkeypatch)
    assert "21.900000000" not in out and "22.000000000" not in out
    assert [c.strip() for c in next(line for line in out.splitlines() if "21.9" in line).split("│")[1:3]] == \
        ["21.9", "22"]
    frame = pl.DataFrame({"d": [Decimal("100.000"), Decimal("0E-9"), Decimal("-0.050"), None]},
                         schema={"d": pl.Decimal(38, 9)})
    out = _render(frame, capsys, monkeypatch)
    cells = [line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│")][-4:]
    assert cells == ["100", "0", "-0.05", "∅"]


def test_describe_prints_compact_type_names(tmp_path) -> None:
    import lakeml
    from tests.cli.test_cli_lake import run

    lakeml.connect(tmp_path / "lake").write("t", pl.DataFrame({
        "at": [datetime(2013, 1, 1, 5, 15, tzinfo=UTC)], "d": [Decimal("1.50")], "n": [1]}))
    out = run("describe", "t", cwd=tmp_path, env={"COLUMNS": "80"})
    assert out.returncode == 0, out.stderr
    assert "datetime[us, UTC]" in out.stdout and "time_unit" not in out.stdout
    assert "i64" in out.stdout and "Int64" not in out.stdout


def test_sql_to_a_file_prints_its_summary_on_stdout(tmp_path) -> None:
    from tests.cli.test_cli_lake import run

    for fmt, name in (("csv", "out.csv"), ("parquet", "out.parquet")):
        out = run("sql", "SELECT 1 AS a UNION ALL SELECT 2", "--format", fmt, "-o", name, cwd=tmp_path)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("wrote ") and name in out.stdout and out.stderr == ""
    assert sorted((tmp_path / "out.csv").read_text().split()) == ["1", "2", "a"]


def test_text_with_spaces_wraps_between_words_and_numbers_stay_whole(capsys, monkeypatch) -> None:
    detail = ("The target column has 12.5% missing values; rows without a target are dropped before "
              "training and validation, which leaves 8,750,123 rows.")
    frame = pl.DataFrame({"name": ["missing_target", "class_balance"], "status": ["warning", "ok"],
                          "detail": [detail, "Classes are balanced."], "rows": [8750123456, 1]})
    out = _render(frame, capsys, monkeypatch)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert any("│" in line and "missing_target" in line for line in lines)  # still a grid
    words = " ".join(line.split("│")[3].strip() for line in lines if line.count("│") == 5)
    assert detail in " ".join(words.split())  # wrapped only between words
    for value in ("8750123456", "8,750,123", "12.5%"):
        assert any(value in line for line in lines)
