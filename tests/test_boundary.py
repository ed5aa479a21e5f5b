"""The one error boundary (lakeml/boundary.py), hints per audience (lakeml/errors.py), and ``--debug``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import lakeml
from lakeml.boundary import first_line, translate
from lakeml.cli.main import split_debug
from lakeml.errors import (
    ColumnNotFoundError,
    ConfigError,
    DataFormatError,
    LakeMLError,
    LakePathNotFoundError,
    ModelError,
    SchemaError,
    SQLSyntaxError,
    choices_hint,
    render_for,
)
from lakeml.session import Lake

REPO = Path(__file__).resolve().parents[1]


# -- hints written once, rendered per audience -------------------------------------------------------
@pytest.mark.parametrize(("text", "python", "cli"), [
    ("Use [[mode='append']].", "Use mode='append'.", "Use --mode append."),
    ("Pass [[time_budget=60|--budget 60]].", "Pass time_budget=60.", "Pass --budget 60."),
    ("Pass [[auto_cast=True]].", "Pass auto_cast=True.", "Pass --auto-cast."),
    ("Pass [[ensemble=False]].", "Pass ensemble=False.", "Pass --no-ensemble."),
    ("Set [[batch_size=100]].", "Set batch_size=100.", "Set --batch-size 100."),
    ("Try it[[; in Python only|]].", "Try it; in Python only.", "Try it."),
    ("No placeholders, x=1.", "No placeholders, x=1.", "No placeholders, x=1."),
])
def test_placeholders_render_for_each_audience(text: str, python: str, cli: str) -> None:
    assert render_for(text, "python") == python
    assert render_for(text, "cli") == cli


def test_errors_show_python_by_default_and_cli_on_request() -> None:
    err = ConfigError("Table 't' exists.", hint="Use [[mode='append']] or [[mode='overwrite']].")
    assert str(err) == "Table 't' exists.\nHint: Use mode='append' or mode='overwrite'."
    assert err.hint == "Use mode='append' or mode='overwrite'."
    assert err.one_line("cli") == "Table 't' exists. Hint: Use --mode append or --mode overwrite."
    assert "[[" in (err.hint_source or "")


def test_plural_of_alias_in_choices() -> None:
    assert choices_hint("x", ["champion", "staging", "prod"], kind="alias").startswith("Available aliases:")
    assert choices_hint("x", [], kind="alias") == "There are no aliases yet."
    assert choices_hint("x", ["a1"], kind="table") == "Available tables: a1."


# -- translating engine errors -----------------------------------------------------------------------
def test_engine_exceptions_map_to_lakeml_errors() -> None:
    import onnxruntime
    import pyarrow as pa
    import sqlglot.errors

    with pytest.raises(Exception) as onnx_error:
        onnxruntime.InferenceSession(b"not an onnx model")
    cases = [
        (pl.exceptions.ColumnNotFoundError("unable to find column 'x'"), ColumnNotFoundError),
        (pl.exceptions.InvalidOperationError("conversion from `str` to `i64` failed"), SchemaError),
        (pa.ArrowInvalid("could not convert 'x'"), DataFormatError),
        (sqlglot.errors.ParseError("Invalid expression"), SQLSyntaxError),
        (onnx_error.value, ModelError),
        (FileNotFoundError(2, "No such file", "x.csv"), LakePathNotFoundError),
    ]
    for exc, kind in cases:
        wrapped = translate(exc, what="testing")
        assert isinstance(wrapped, kind), (exc, wrapped)
        assert wrapped.hint and "while testing" in wrapped.message


def test_engine_messages_lose_advice_about_polars_settings() -> None:
    text = ("\nobject-store error: HEAD failed (path: az://c/x.parquet); note: if you are using Python, consider "
            "setting POLARS_AUTO_USE_AZURE_STORAGE_ACCOUNT_KEY=1\nmore")
    assert first_line(text) == "object-store error: HEAD failed (path: az://c/x.parquet)"


def test_non_engine_exceptions_are_not_translated() -> None:
    assert translate(TypeError("unexpected keyword argument")) is None
    assert translate(KeyError("x")) is None
    err = ConfigError("already lakeml")
    assert translate(err) is err


def test_lake_methods_raise_lakeml_errors_for_engine_failures(tmp_path: Path) -> None:
    lake = lakeml.connect(tmp_path / "lake")
    lake.write("people", pl.DataFrame({"name": ["ann", "NA"], "age": ["31", "NA"]}))
    with pytest.raises(SchemaError) as info:
        lake.write("ages", lake.sql("SELECT CAST(age AS INT) AS age FROM people"))
    assert isinstance(info.value.__cause__, pl.exceptions.PolarsError)  # raise ... from exc
    assert "lake.describe(table)" in (info.value.hint or "")
    with pytest.raises(LakeMLError) as automl:  # the example: string-typed numbers in AutoML
        lake.automl("SELECT CAST(age AS INT) AS age, name FROM people", target="name", max_trials=1)
    assert not isinstance(automl.value, pl.exceptions.PolarsError)


def test_boundary_translates_once_at_the_outermost_call(tmp_path: Path) -> None:
    # Lake.ingest calls Lake.write: the ingest code between them still sees the Polars error and
    # reports the CSV line, instead of the inner boundary's generic translation
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    lake = lakeml.connect(tmp_path / "lake")
    with pytest.raises(DataFormatError, match="line 3"):
        lake.ingest(tmp_path / "bad.csv", "t", schema={"b": "int64"})


def test_public_methods_keep_their_names_and_docs() -> None:
    assert Lake.sql.__name__ == "sql" and "SQL" in (Lake.sql.__doc__ or "")
    assert getattr(Lake.sql, "__lakeml_boundary__", False)
    assert getattr(lakeml.connect, "__lakeml_boundary__", False)


# -- --debug anywhere, and LAKEML_DEBUG -------------------------------------------------------------
def test_debug_flag_is_found_anywhere_before_a_double_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAKEML_DEBUG", raising=False)
    assert split_debug(["sql", "SELECT 1", "--debug"]) == (["sql", "SELECT 1"], True)
    assert split_debug(["--debug", "tables"]) == (["tables"], True)
    assert split_debug(["tables"]) == (["tables"], False)
    assert split_debug(["sql", "--", "--debug"]) == (["sql", "--", "--debug"], False)
    monkeypatch.setenv("LAKEML_DEBUG", "1")
    assert split_debug(["tables"]) == (["tables"], True)


def _cli(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    return subprocess.run([sys.executable, "-m", "lakeml.cli.main", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**base, **env})


def test_cli_shows_a_traceback_only_with_debug(tmp_path: Path) -> None:
    lakeml.connect(tmp_path / "lake").write("t", pl.DataFrame({"a": [1]}))
    plain = _cli(["sql", "SELECT nope FROM t"], tmp_path)
    after = _cli(["sql", "SELECT nope FROM t", "--debug"], tmp_path)
    by_env = _cli(["sql", "SELECT nope FROM t"], tmp_path, LAKEML_DEBUG="1")
    assert plain.returncode == 1 and "Traceback" not in plain.stderr
    assert plain.stderr.startswith("error: Unknown column 'nope'") and len(plain.stderr.splitlines()) == 1
    for run in (after, by_env):
        assert run.returncode == 1 and "Traceback" in run.stderr and "ColumnNotFoundError" in run.stderr
