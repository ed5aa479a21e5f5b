"""Where ``Lake.score`` may write: a table name, or an explicit absolute path or URI. Relative paths
are refused (they would land wherever the scoring process happens to run). Every engine refuses the
same targets (tests/conftest.py ``engine``); writing a file is the Polars engine's."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from lakeml.errors import ConfigError, InvalidNameError
from lakeml.session import Lake


@pytest.mark.parametrize("target", ["../x/evil", "x/evil", "out.parquet", "./out.parquet", "sub\\out.parquet",
                                    "..", "_hidden", "a b"])
def test_relative_paths_and_bad_names_are_refused(engine_scoring_lake: Lake, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, target: str) -> None:
    work = tmp_path / "work" / "cwd"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    with pytest.raises(InvalidNameError, match="neither a table name nor an absolute path") as info:
        engine_scoring_lake.score("churn", "cust", target, outputs="label bigint")
    assert "absolute path" in (info.value.hint or "")
    written = [p for p in (tmp_path / "work").rglob("*") if p.is_file()]
    assert written == [] and engine_scoring_lake.tables() == ["cust"]


@pytest.mark.engine_gap("spark", "file_targets", reason="Spark writes folders of files; lake.score on Spark "
                                                        "writes lake tables, and says so for a file target")
def test_absolute_path_and_file_uri_are_written(engine_scoring_lake: Lake, tmp_path: Path) -> None:
    scoring_lake = engine_scoring_lake
    scoring_lake.score("churn", "cust", str(tmp_path / "a" / "s.parquet"), outputs="label bigint")
    scoring_lake.score("churn", "cust", (tmp_path / "b" / "s.parquet").as_uri(), outputs="label bigint")
    assert pl.read_parquet(tmp_path / "a" / "s.parquet").height == 300
    assert pl.read_parquet(tmp_path / "b" / "s.parquet").height == 300


def test_unknown_scheme_is_refused(engine_scoring_lake: Lake) -> None:
    with pytest.raises(ConfigError, match="Unsupported"):
        engine_scoring_lake.score("churn", "cust", "s3://bucket/s.parquet", outputs="label bigint")
