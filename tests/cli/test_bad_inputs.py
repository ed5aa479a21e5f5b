"""The CLI's error boundary, driven through a table of bad inputs as a user would type them.

Every case is a separate ``lakeml`` invocation through the real entry point (``main``: the error
handling and exit codes included); a sample of them also runs as a real subprocess. Each must exit
1 with exactly one ``error:`` line (a lakeml error) or 2 with click's usage error, never print a
traceback, and word its hint for the command line: flags, not Python keyword arguments.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import lakeml
from lakeml.cli.main import main
from tests.scoring.models import column_pipeline, training_frame

USAGE, ERROR = 2, 1

CASES: list[tuple[str, list[str], int]] = [
    # tables and SQL
    ("unknown table", ["describe", "nope"], ERROR),
    ("misspelt table", ["describe", "peple"], ERROR),
    ("unknown table in SQL", ["sql", "SELECT * FROM nope"], ERROR),
    ("bad SQL", ["sql", "SELEC * FROM people"], ERROR),
    ("unclosed quote", ["sql", "SELECT 'abc FROM people"], ERROR),
    ("unknown column", ["sql", "SELECT nme FROM people"], ERROR),
    ("unbound parameter", ["sql", "SELECT * FROM people WHERE id = @id"], ERROR),
    ("positional parameter", ["sql", "SELECT * FROM people WHERE id = ?"], ERROR),
    ("unsupported write statement", ["sql", "UPDATE people SET age = 0"], ERROR),
    ("insert into an unknown table", ["sql", "INSERT INTO nope SELECT 1"], ERROR),
    ("insert of the wrong type", ["sql", "INSERT INTO people (age) VALUES ('old')"], ERROR),
    ("empty query", ["sql", "  "], ERROR),
    ("two statements", ["sql", "SELECT 1; SELECT 2"], ERROR),
    ("bad cast at run time", ["sql", "SELECT CAST(name AS INT) AS n FROM people"], ERROR),
    ("missing files in SQL", ["sql", "SELECT * FROM read_parquet('missing/*.parquet')"], ERROR),
    ("unknown output format", ["sql", "SELECT * FROM people", "--format", "xml"], USAGE),
    ("parquet without output", ["sql", "SELECT * FROM people", "--format", "parquet"], ERROR),
    ("param without value", ["sql", "SELECT * FROM people", "--param", "noequals"], USAGE),
    ("unknown table to drop", ["drop", "nope"], ERROR),
    ("bad table name to drop", ["drop", "../etc"], ERROR),
    # ingest
    ("missing file", ["ingest", "missing.csv", "t"], ERROR),
    ("bad value for a typed column", ["ingest", "bad.csv", "t", "--schema", "b=int64"], ERROR),
    ("unknown column type", ["ingest", "people.csv", "t", "--schema", "age=notatype"], ERROR),
    ("schema without type", ["ingest", "people.csv", "t", "--schema", "noequals"], USAGE),
    ("unknown file format", ["ingest", "notes.txt", "t"], ERROR),
    ("unknown --format", ["ingest", "people.csv", "t", "--format", "xls"], USAGE),
    ("path as table name", ["ingest", "people.csv", "../evil"], ERROR),
    ("existing table", ["ingest", "people.csv", "people", "--mode", "error"], ERROR),
    ("unknown --mode", ["ingest", "people.csv", "people", "--mode", "bogus"], USAGE),
    # lake locations and flags
    ("unsupported URI scheme", ["--lake", "ftp://host/lake", "tables"], ERROR),
    ("secret in the lake URI", ["--lake", "abfss://c@acct.dfs.core.windows.net/l?sig=s3cr3t", "tables"], ERROR),
    ("Azure lake without credentials", ["--lake", "az://c/lake", "tables"], ERROR),
    ("unknown flag", ["tables", "--bogus"], USAGE),
    ("unknown command", ["bogus-command"], USAGE),
    ("negative retention", ["vacuum", "--retention-hours", "-1"], USAGE),
    # training and AutoML
    ("unknown target", ["train", "--data", "people", "--target", "agee"], ERROR),
    ("unknown training table", ["train", "--data", "nope", "--target", "age"], ERROR),
    ("unknown model family", ["train", "--data", "people", "--target", "age", "--model", "nosuch"], USAGE),
    ("train param without value", ["train", "--data", "people", "--target", "age", "--param", "bad"], ERROR),
    ("zero budget", ["automl", "--data", "people", "--target", "age", "--budget", "0"], ERROR),
    ("budget not a number", ["automl", "--data", "people", "--target", "age", "--budget", "abc"], USAGE),
    ("zero trials", ["automl", "--data", "people", "--target", "age", "--max-trials", "0"], ERROR),
    ("unknown metric", ["automl", "--data", "cust", "--target", "y", "--metric", "nope"], ERROR),
    ("wrong types in the data", ["automl", "--data", "SELECT CAST(name AS INT) AS n, age FROM people",
                                 "--target", "age", "--max-trials", "1"], ERROR),
    ("unknown run", ["runs", "nope"], ERROR),
    # models and scoring
    ("unknown model", ["predict", "--model", "nope", "--data", "cust"], ERROR),
    ("unknown model version", ["predict", "--model", "pipe:99", "--data", "cust"], ERROR),
    ("malformed model ref", ["predict", "--model", "bad ref!", "--data", "cust"], ERROR),
    ("bad --with clause", ["predict", "--model", "pipe", "--data", "cust", "--with", "label"], ERROR),
    ("unknown --with type", ["predict", "--model", "pipe", "--data", "cust", "--with", "label nosuchtype"], ERROR),
    ("zero batch size", ["predict", "--model", "pipe", "--data", "cust", "--batch-size", "0"], ERROR),
    ("missing input column", ["predict", "--model", "pipe", "--data", "people"], ERROR),
    ("unknown --on-null", ["predict", "--model", "pipe", "--data", "cust", "--on-null", "zero"], USAGE),
    ("unknown model to show", ["models", "show", "nope"], ERROR),
    ("missing model file", ["models", "register", "missing.onnx", "--name", "x"], ERROR),
    ("not an ONNX file", ["models", "register", "notes.txt", "--name", "x"], ERROR),
    ("alias of a missing version", ["models", "alias", "pipe", "99", "champion"], ERROR),
    ("version not a number", ["models", "alias", "pipe", "abc", "champion"], USAGE),
    # explore
    ("unknown table to profile", ["profile", "nope"], ERROR),
    ("negative sample", ["profile", "people", "--sample", "-1"], ERROR),
    ("unknown profile target", ["profile", "people", "--target", "nope"], ERROR),
    ("unknown chart kind", ["chart", "SELECT name, age FROM people", "--kind", "pie", "-o", "c.png"], USAGE),
    ("unknown image format", ["chart", "SELECT name, age FROM people", "--kind", "bar", "--x", "name", "--y", "age",
                              "-o", "c.gif"], ERROR),
    ("chart without y", ["chart", "SELECT name FROM people", "--kind", "line", "--x", "name", "-o", "c.png"], ERROR),
]

# a sample that also runs as real subprocesses (the in-process runs cover the rest)
SUBPROCESS_CASES = ["unknown table", "bad SQL", "unknown column", "bad cast at run time", "unknown model",
                    "bad --with clause", "unknown flag", "zero budget", "missing file"]


def _python_keywords() -> set[str]:
    """Every keyword argument of the public Python API, which a CLI hint must not show as ``name=``."""
    from lakeml.explore import api as explore_api
    from lakeml.ml import api as ml_api
    from lakeml.ml.automl import automl
    from lakeml.query.ingest import ingest
    from lakeml.registry.registry import ModelRegistry
    from lakeml.scoring import api as scoring_api
    from lakeml.session import Lake, connect

    functions = [connect, ingest, automl, ml_api.train, scoring_api.predict, scoring_api.score,
                 explore_api.profile, explore_api.chart]
    for cls in (Lake, ModelRegistry):
        functions += [f for n, f in vars(cls).items() if inspect.isfunction(f) and not n.startswith("_")]
    names = {p for f in functions for p in inspect.signature(inspect.unwrap(f)).parameters}
    return names - {"self", "args", "kwargs", "data", "query", "name"}


PY_KEYWORD = re.compile(r"\b(" + "|".join(sorted(_python_keywords())) + r")=")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("bad_inputs")
    (tmp / "people.csv").write_text("id,name,age\n1,ann,31\n2,bob,42\n3,cy,27\n")
    (tmp / "bad.csv").write_text("a,b\n1,2\n3,x\n")
    (tmp / "notes.txt").write_text("not a table\n")
    (tmp / "pipe.onnx").write_bytes(column_pipeline()[0])
    lake = lakeml.connect(tmp / "lake")
    lake.ingest(tmp / "people.csv", "people")
    lake.write("cust", training_frame(50))
    lake.models.register(tmp / "pipe.onnx", name="pipe")
    return tmp


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}


def _in_process(workdir: Path, args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with monkeypatch.context() as patch:
        patch.chdir(workdir)
        for key in [k for k in os.environ if k.startswith(("AZURE_", "LAKEML_"))]:
            patch.delenv(key)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(["--lake", str(workdir / "lake"), *args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    return code, out.getvalue(), err.getvalue()


def _subprocess(workdir: Path, args: list[str]) -> tuple[int, str, str]:
    done = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", str(workdir / "lake"), *args],
                          cwd=workdir, capture_output=True, text=True, timeout=120, env=_clean_env())
    return done.returncode, done.stdout, done.stderr


def _problems(label: str, expected: int, code: int, err: str) -> list[str]:
    problems = []
    if code != expected:
        problems.append(f"exit {code}, expected {expected}")
    if "Traceback" in err:
        problems.append("printed a traceback")
    lines = [line for line in err.splitlines() if line.strip()]
    if expected == ERROR:
        if len(lines) != 1 or not lines[0].startswith("error: "):
            problems.append(f"not one 'error:' line: {lines}")
        elif "lakeml bug" in lines[0]:
            problems.append("reported as a lakeml bug (an untranslated exception)")
        hint = err.split("Hint:", 1)[1] if "Hint:" in err else ""
        if not hint.strip():
            problems.append("no hint")
        if PY_KEYWORD.search(hint) or re.search(r"\b[Ll]ake\.\w+", hint):
            problems.append(f"hint speaks Python: {hint.strip()}")
        if "[[" in err or "]]" in err or "tables/" in err:
            problems.append(f"internal text leaked: {err.strip()}")
    elif not (lines and lines[0].startswith("Usage: lakeml") and lines[-1].startswith("Error: ")):
        problems.append(f"not click's usage error: {lines}")
    return [f"{label}: {p}\n    {err.strip()}" for p in problems]


def test_the_table_has_enough_distinct_cases() -> None:
    assert len(CASES) >= 40 and len({label for label, _, _ in CASES}) == len(CASES)
    assert set(SUBPROCESS_CASES) <= {label for label, _, _ in CASES}


def test_bad_inputs_give_one_line_errors_and_exit_codes(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problems: list[str] = []
    for label, args, expected in CASES:
        code, _out, err = _in_process(workdir, args, monkeypatch)
        problems += _problems(label, expected, code, err)
    assert not problems, "\n".join(problems)


def test_bad_inputs_in_real_processes(workdir: Path) -> None:
    cases = [(label, args, expected) for label, args, expected in CASES if label in SUBPROCESS_CASES]
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda case: _subprocess(workdir, case[1]), cases))
    problems = [p for (label, _a, expected), (code, _o, err) in zip(cases, results, strict=True)
                for p in _problems(label, expected, code, err)]
    assert not problems, "\n".join(problems)


def test_the_keyword_check_catches_python_hints() -> None:
    assert PY_KEYWORD.search(" Pass mode='append'.") and PY_KEYWORD.search("Increase time_budget=60")
    assert not PY_KEYWORD.search(" Pass --mode append or --param id=3.")
