"""Report files: ``to_html(path)`` returns the path, and files lakeml writes are readable (0644)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from lakeml.session import Lake


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_to_html_with_a_path_returns_the_path(lake: Lake, tmp_path: Path, umask_022: None) -> None:
    profile = lake.profile(pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}))
    out = tmp_path / "sub" / "report.html"
    written = profile.to_html(out)
    assert written == out and isinstance(written, Path)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert _mode(out) == 0o644
    assert profile.to_html().startswith("<!DOCTYPE html>")  # no path: the HTML itself


def test_files_written_into_a_local_lake_are_readable(lake: Lake, umask_022: None) -> None:
    lake.storage.write_bytes("_lakeml/reports/r.html", b"<html></html>")
    assert _mode(Path(lake.storage.uri("_lakeml", "reports", "r.html"))) == 0o644
    lake.write("t", pl.DataFrame({"a": [1]}))
    data = [p for p in Path(lake.storage.uri("tables", "t")).rglob("*") if p.is_file()]
    assert data and all(_mode(p) == 0o644 for p in data)
