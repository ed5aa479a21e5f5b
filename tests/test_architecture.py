"""The layering rules of docs/architecture.md: module-level imports only point down, and a plain
``import lakeml`` stays light (no pyspark, no heavy engines)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lakeml"

# layer -> the lakeml layers its modules may import at module level (leaves are always allowed)
ALLOWED = {
    "storage": set(),
    "engines": {"storage"},
    "query": {"engines", "storage"},
    "registry": {"storage", "query"},
    "scoring": {"registry", "query", "storage"},
    "ml": {"query", "registry", "scoring", "storage"},
    "sql": {"scoring", "registry", "query", "storage"},
    "explore": {"query", "storage"},
    "pipeline": {"sql", "ml", "scoring", "query", "registry", "storage"},
}
LEAVES = {"errors", "boundary", "config", "context", "redaction", "_deps", "_typing", "_html", "__init__"}


def _module_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names: list[str] = []
    for node in tree.body:  # module level only; imports inside functions are deliberate lazy edges
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return [n for n in names if n == "lakeml" or n.startswith("lakeml.")]


def test_module_level_imports_point_down():
    problems = []
    for layer, allowed in ALLOWED.items():
        folder = PACKAGE / layer
        for path in folder.rglob("*.py") if folder.exists() else []:
            for name in _module_level_imports(path):
                parts = name.split(".")
                target = parts[1] if len(parts) > 1 else "__init__"
                if target in LEAVES or target == layer:
                    continue
                if target not in allowed:
                    problems.append(f"{path.relative_to(PACKAGE.parent)} imports {name} ({layer} -> {target})")
    assert not problems, "\n".join(problems)


def test_import_lakeml_is_light():
    code = ("import sys, lakeml; lake = lakeml.connect; "
            "heavy = [m for m in ('pyspark', 'onnxruntime', 'sklearn', 'lightgbm', 'matplotlib', 'hyperopt') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _files_containing(*needles: str) -> set[str]:
    return {str(path.relative_to(PACKAGE.parent)) for path in PACKAGE.rglob("*.py")
            if any(n in path.read_text() for n in needles)}


def test_onnx_runtime_sessions_are_built_in_one_place():
    assert _files_containing("InferenceSession(", "SessionOptions(") == {"lakeml/scoring/session.py"}


def test_the_default_batch_size_is_written_once():
    assert _files_containing("65536", "65_536", "64 * 1024") == {"lakeml/config.py"}


def test_the_onnx_runtime_thread_default_is_the_config_default():
    from lakeml.config import LakeConfig
    from lakeml.scoring.session import default_threads

    assert default_threads(None) == LakeConfig().ort_threads
    assert default_threads(LakeConfig(ort_threads=3)) == 3
    assert "cpu_count" not in (PACKAGE / "scoring" / "session.py").read_text()


def test_citations_point_inside_the_repository():
    import re

    repo = PACKAGE.parent
    files = [*repo.glob("lakeml/**/*.py"), *repo.glob("tests/**/*.py"), *repo.glob("benchmarks/*.py"),
             *repo.glob("docs/*.md"), repo / "README.md"]
    files = [f for f in files if f != Path(__file__).resolve()]  # this test spells the patterns out
    outside = re.compile(r"\.\./shared|(?<![\w/])spec/\w+\.md|docs/ARCHITECTURE")
    assert [str(f.relative_to(repo)) for f in files if outside.search(f.read_text())] == []
    rules = set(re.findall(r"^\s*(\d+)\. \*\*", (repo / "docs" / "predict.md").read_text(), re.M))
    assert rules == {str(n) for n in range(1, 18)}
    for f in files:
        for n in re.findall(r"docs/predict\.md rule (\d+)", f.read_text()):
            assert n in rules, f"{f.relative_to(repo)} cites docs/predict.md rule {n}"
    for doc in re.findall(r"docs/[\w.]+\.md", "\n".join(f.read_text() for f in files)):
        assert (repo / doc).exists(), doc
