"""The layering rules of docs/architecture.md, read from its table: every import points down, no
import cycles, and a plain ``import lakeml`` stays light (no pyspark, no heavy engines)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "lakeml"
DOC = PACKAGE.parent / "docs" / "architecture.md"


@dataclass(frozen=True)
class Layer:
    name: str
    paths: tuple[str, ...]  # repository paths: a folder ending in "/" or a module file
    planned: bool
    may_import: frozenset[str]


def _doc_layers() -> dict[str, Layer]:
    """The layer table of docs/architecture.md: the one statement of the layering."""
    layers: dict[str, Layer] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) != 4 or cells[0] in ("layer", "---"):
            continue
        name = cells[0].strip("`")
        paths = tuple(re.findall(r"`([^`]+)`", cells[1]))
        may = frozenset(n.strip().strip("`") for n in cells[3].split(","))
        layers[name] = Layer(name, paths, "(planned)" in cells[1], may)
    return layers


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in PACKAGE.rglob("*.py")}


def _layer_of(path: Path, layers: dict[str, Layer]) -> str | None:
    rel = str(path.relative_to(PACKAGE.parent))
    for layer in layers.values():
        if any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in layer.paths):
            return layer.name
    return None


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _imports(path: Path, modules: dict[str, Path], *, typing_only: bool = True) -> list[tuple[str, int]]:
    """Every lakeml module ``path`` imports, anywhere in the file (functions, TYPE_CHECKING blocks too).

    ``from lakeml.a import b`` names module ``lakeml.a.b`` when it is one, else ``lakeml.a``.
    With ``typing_only=False``, imports under ``if TYPE_CHECKING:`` (never run) are left out.
    """
    found: list[tuple[str, int]] = []
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if not typing_only and _type_checking_block(node):
            for child in getattr(node, "orelse", []):
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((a.name, node.lineno) for a in node.names if a.name.split(".")[0] == "lakeml")
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, *([base] if base else [])])
            if base.split(".")[0] == "lakeml":
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    found.append((sub if sub in modules else base, node.lineno))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return found


def test_the_layer_table_covers_every_module_and_names_only_real_code():
    layers = _doc_layers()
    assert "leaves" in layers and "session" in layers, "docs/architecture.md lost its layer table"
    unplaced = [str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py") if _layer_of(p, layers) is None]
    assert not unplaced, f"modules in no layer of docs/architecture.md: {unplaced}"
    for layer in layers.values():
        missing = [p for p in layer.paths if not (PACKAGE.parent / p).exists()]
        assert layer.planned or not missing, f"layer {layer.name!r} names code that does not exist: {missing}"
        unknown = layer.may_import - set(layers)
        assert not unknown, f"layer {layer.name!r} may import unknown layers {sorted(unknown)}"
        assert layer.name == "leaves" or layer.name not in layer.may_import


def test_the_layer_table_is_a_strict_order():
    """Layers form a DAG: no layer may (even indirectly) import itself, so lower never reaches upper."""
    layers = _doc_layers()
    for layer in layers.values():
        seen: set[str] = set()
        todo = [n for n in layer.may_import if n != "leaves"]
        while todo:
            name = todo.pop()
            assert name != layer.name, f"layer {layer.name!r} can reach itself through {sorted(seen)}"
            if name not in seen:
                seen.add(name)
                todo.extend(n for n in layers[name].may_import if n != "leaves")


def test_every_import_points_down_the_layer_table():
    """Every import, module level, inside functions or under TYPE_CHECKING, follows docs/architecture.md."""
    layers, modules = _doc_layers(), _modules()
    problems = []
    for path in modules.values():
        source = _layer_of(path, layers)
        assert source is not None
        for target, line in _imports(path, modules):
            target_path = modules.get(target) or modules.get(target.rpartition(".")[0])
            if target == "lakeml":
                target_path = PACKAGE / "__init__.py"
            assert target_path is not None, f"{path}:{line} imports unknown lakeml module {target}"
            dest = _layer_of(target_path, layers)
            if dest != source and dest not in layers[source].may_import:
                problems.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target} ({source} -> {dest})")
    assert not problems, "\n".join(problems)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return out


def test_lakeml_modules_import_each_other_without_cycles():
    """No two modules import each other, directly or around a circle, even lazily (TYPE_CHECKING aside)."""
    modules = _modules()
    graph = {m: {t for t, _ in _imports(p, modules, typing_only=False) if t in modules and t != m}
             for m, p in modules.items()}
    # a package's __init__ re-exporting its own submodules is not a circle: Python loads the package first
    graph = {m: {t for t in targets if not m.startswith(t + ".") and not t.startswith(m + ".")}
             for m, targets in graph.items()}
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_import_lakeml_is_light():
    code = ("import sys, lakeml; lake = lakeml.connect; "
            "heavy = [m for m in ('pyspark', 'onnxruntime', 'sklearn', 'lightgbm', 'matplotlib', 'hyperopt') "
            "if m in sys.modules]; print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# Modules that a plain first query in a fresh process never needs: each costs tens to hundreds of
# milliseconds to import (pyarrow with numpy ~0.3 s, sqlglot ~0.1 s), more than the query itself.
HEAVY = ("sqlglot", "pyarrow", "numpy", "pandas", "deltalake", "fsspec", "adlfs", "azure", "onnx", "onnxruntime",
         "sklearn", "lightgbm", "pyspark", "click")
_LOADED = "print(','.join(sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[2].split(',')))))"


def test_connect_imports_no_heavy_module(tmp_path):
    code = f"import sys, lakeml; lakeml.connect(sys.argv[1]); {_LOADED}"
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lake"), ",".join(HEAVY)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_plain_first_query_imports_no_heavy_module(tmp_path):
    import polars as pl

    import lakeml

    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(tmp_path / "t.parquet")
    lake = lakeml.connect(tmp_path / "lake")
    lake.register_table("t", str(tmp_path / "t.parquet"), format="parquet")
    lake.write("m", pl.DataFrame({"b": [4, 5]}))
    code = ("import sys, lakeml; lake = lakeml.connect(sys.argv[1]); "
            "assert lake.sql('SELECT SUM(a) AS s FROM t').collect().item() == 6; "
            f"assert lake.sql('SELECT SUM(b) AS s FROM m').collect().item() == 9; {_LOADED}")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lake"), ",".join(HEAVY)],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_a_polars_lake_never_imports_pyspark(tmp_path):
    code = ("import sys, lakeml; lake = lakeml.connect(sys.argv[1]); "
            "lake.write('t', __import__('polars').DataFrame({'a': [1, 2]})); "
            "assert lake.sql('SELECT SUM(a) AS s FROM t').collect().item() == 3; "
            "print('pyspark' in sys.modules, any(m.startswith('lakeml.engines.spark') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "lake")], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False False"


def test_only_the_polars_engine_runs_polars_engine_apis():
    """Scans, SQLContext and sinks live in lakeml/engines/polars/ (plus the CLI writing a user's result file)."""
    apis = re.compile(r"\bpl\.(scan_\w+|SQLContext)\b|\.sink_(parquet|delta|csv|ipc|ndjson)\(")
    users = {str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py") if apis.search(p.read_text())}
    assert {u for u in users if not u.startswith("lakeml/engines/polars/")} <= {"lakeml/cli/output.py",
                                                                               "lakeml/scoring/api.py"}


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


_CONTEXT_NAMES = ("lake", "ctx", "context")


def _is_any(annotation: ast.expr | None) -> bool:
    """``Any``, ``typing.Any``, ``"Any"``, or a union with one of them (``Any | None``, ``Optional[Any]``)."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        try:
            annotation = ast.parse(annotation.value, mode="eval").body
        except SyntaxError:
            return False
    if isinstance(annotation, ast.Name):
        return annotation.id == "Any"
    if isinstance(annotation, ast.Attribute):
        return annotation.attr == "Any"
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _is_any(annotation.left) or _is_any(annotation.right)
    if isinstance(annotation, ast.Subscript) and isinstance(annotation.value, ast.Name | ast.Attribute):
        name = annotation.value.id if isinstance(annotation.value, ast.Name) else annotation.value.attr
        if name in ("Optional", "Union"):
            items = annotation.slice.elts if isinstance(annotation.slice, ast.Tuple) else [annotation.slice]
            return any(_is_any(i) for i in items)
    return False


def _lake_typed_as_any(source: str, filename: str = "<source>") -> list[str]:
    """Every parameter, class attribute or property named lake, ctx or context in ``source`` typed ``Any``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name in _CONTEXT_NAMES and _is_any(node.returns):
                found.append(f"{filename}:{node.lineno} {node.name}() -> Any")
            a = node.args
            params = [*a.posonlyargs, *a.args, *a.kwonlyargs, *([a.vararg] if a.vararg else []),
                      *([a.kwarg] if a.kwarg else [])]
            found += [f"{filename}:{p.lineno} {node.name}({p.arg}: Any)" for p in params
                      if p.arg in _CONTEXT_NAMES and _is_any(p.annotation)]
        elif isinstance(node, ast.ClassDef):
            found += [f"{filename}:{s.lineno} {node.name}.{s.target.id}: Any" for s in node.body
                      if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                      and s.target.id in _CONTEXT_NAMES and _is_any(s.annotation)]
    return found


def test_the_any_finder_finds_a_lake_typed_as_any():
    source = ("from typing import Any, Optional\nimport typing\n"
              "def a(lake: Any): ...\nasync def b(*, ctx: 'Any'): ...\ndef c(context: typing.Any | None): ...\n"
              "def d(lake: Optional[Any]): ...\nclass E:\n    lake: Any\n    @property\n    def ctx(self) -> Any: ...\n"
              "def ok(lake: LakeContext[FrameT], data: Any, ctx: dict[str, Any]): ...\n")
    assert [f.split(" ", 1)[1] for f in _lake_typed_as_any(source)] == [
        "a(lake: Any)", "b(ctx: Any)", "c(context: Any)", "d(lake: Any)", "E.lake: Any", "ctx() -> Any"]


def test_no_lake_or_context_is_typed_any():
    """Issue #14: the layers take a typed lake (``lakeml/context.py`` and the Protocols that extend it), not Any."""
    found = [hit for path in sorted(PACKAGE.rglob("*.py"))
             for hit in _lake_typed_as_any(path.read_text(), str(path.relative_to(PACKAGE.parent)))]
    assert not found, "\n".join(found)
