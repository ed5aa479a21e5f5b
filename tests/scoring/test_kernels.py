"""Compiled tree kernels (issue #15): parity with ONNX Runtime per family, the fallbacks, the cache.

Every test here compiles real C code with the machine's compiler (treelite + tl2cgen + gcc) and
compares with a real ONNX Runtime session; the cache is a tmp dir (``LAKEML_CACHE_DIR``).
"""

from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import lightgbm
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from lakeml.ml.featurize import ToFloat32
from lakeml.ml.onnx_export import to_onnx
from lakeml.scoring import kernels
from lakeml.scoring.kernels import compiled
from lakeml.scoring.kernels.trees import TreeGraph, Unsupported
from lakeml.session import Lake

pytest.importorskip("treelite")
pytest.importorskip("tl2cgen")
if shutil.which("gcc") is None:
    pytest.skip("no C compiler", allow_module_level=True)

FEATURES = ["f0", "f1", "f2", "f3"]


@pytest.fixture(autouse=True)
def kernel_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh kernel cache per test, compiled mode, no choices left from other tests."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("LAKEML_CACHE_DIR", str(cache))
    monkeypatch.setenv("LAKEML_KERNEL", "compiled")
    kernels.forget()
    yield cache
    kernels.forget()


def data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, len(FEATURES))).astype(np.float32)
    y2 = (x[:, 0] + x[:, 1] > 0).astype(int)
    y3 = (x[:, 0] > 0).astype(int) + (x[:, 2] > 0.5)
    yr = 2 * x[:, 0] - x[:, 3] + rng.normal(0, 0.1, n)
    return x, y2, y3, yr


def with_nans(x: np.ndarray, seed: int = 1) -> np.ndarray:
    x = x.copy()
    x[np.random.default_rng(seed).random(x.shape) < 0.05] = np.nan
    return x


FAMILIES = {
    "rf": lambda: RandomForestClassifier(n_estimators=8, max_depth=5, random_state=0),
    "rf_reg": lambda: RandomForestRegressor(n_estimators=8, max_depth=5, random_state=0),
    "et": lambda: ExtraTreesClassifier(n_estimators=8, max_depth=5, random_state=0),
    "et_reg": lambda: ExtraTreesRegressor(n_estimators=8, max_depth=5, random_state=0),
    "lgbm": lambda: lightgbm.LGBMClassifier(n_estimators=20, verbose=-1),
    "lgbm_multi": lambda: lightgbm.LGBMClassifier(n_estimators=10, verbose=-1),
    "lgbm_reg": lambda: lightgbm.LGBMRegressor(n_estimators=20, verbose=-1),
    "hgb": lambda: HistGradientBoostingClassifier(max_iter=20),
    "hgb_multi": lambda: HistGradientBoostingClassifier(max_iter=10),
    "hgb_reg": lambda: HistGradientBoostingRegressor(max_iter=20),
}


def fitted(family: str, seed: int = 0) -> bytes:
    x, y2, y3, yr = data(seed=seed)
    y = yr if family.endswith("_reg") else y3 if family.endswith("_multi") else y2
    nan_ok = family.startswith(("lgbm", "hgb"))
    model = FAMILIES[family]().fit(with_nans(x) if nan_ok else x, y)
    return to_onnx(model, n_features=len(FEATURES))


def ort_outputs(onnx: bytes, x: np.ndarray) -> dict[str, np.ndarray]:
    from lakeml.scoring.session import new_session

    sess = new_session(onnx, threads=1)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {sess.get_inputs()[0].name: x}), strict=True))


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_compiled_kernel_matches_onnx_runtime(family: str) -> None:
    """Each family, classification and regression: the compiled kernel gives ONNX Runtime's outputs,
    on fresh rows with NaN in them."""
    onnx = fitted(family)
    kernel = kernels.get_kernel(onnx, threads=1)
    assert kernels.choice_of(_sha(onnx), 1) == kernels.Choice("compiled", kernel_reason(onnx, 1))
    assert kernel.kind == "compiled"
    x = with_nans(data(n=5000, seed=7)[0], seed=3)
    want = ort_outputs(onnx, x)
    got = dict(zip(want, kernel.run(list(want), {"input": x}), strict=True))
    for name, ref in want.items():
        if ref.dtype.kind == "f":
            np.testing.assert_allclose(got[name].reshape(ref.shape), ref, rtol=1e-5, atol=1e-6)
        else:
            np.testing.assert_array_equal(got[name].reshape(ref.shape), ref)
        assert got[name].dtype == ref.dtype


def kernel_reason(onnx: bytes, threads: int) -> str:
    choice = kernels.choice_of(_sha(onnx), threads)
    assert choice is not None
    return choice.reason


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_a_pipeline_runs_its_featurizer_in_onnx_runtime_and_its_trees_compiled(lake: Lake) -> None:
    """Per-column inputs through a ColumnTransformer and lakeml's float32 cast (as lakeml's own exports):
    the part before the trees stays in ONNX Runtime."""
    x, y2, _, _ = data()
    frame = pl.DataFrame(x, schema=FEATURES)
    pipe = Pipeline([("pre", ColumnTransformer([("num", StandardScaler(), FEATURES)])), ("f32", ToFloat32()),
                     ("clf", RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0))])
    pipe.fit(frame.to_pandas(), y2)
    mv = lake.models.register(to_onnx(pipe, sample=frame.head(5)), name="pipe")
    compiled_out = lake.predict("pipe", frame)
    assert kernels.choice_of(mv.sha256, _threads(lake)).kind == "compiled"  # type: ignore[union-attr]
    kernels.forget()
    import os

    os.environ["LAKEML_KERNEL"] = "ort"
    ort_out = lake.predict("pipe", frame)
    assert_frames_close(compiled_out, ort_out)


def _threads(lake: Lake) -> int:
    from lakeml.scoring.session import default_threads

    return default_threads(lake.config)


def assert_frames_close(a: pl.DataFrame, b: pl.DataFrame) -> None:
    assert a.schema == b.schema
    for col in a.columns:
        left, right = a[col], b[col]
        if isinstance(left.dtype, pl.Array):
            left, right = left.arr.explode(), right.arr.explode()
        if left.dtype.is_float():
            np.testing.assert_allclose(left.to_numpy(), right.to_numpy(), rtol=1e-5, atol=1e-6)
        else:
            assert left.to_list() == right.to_list()


def test_every_entry_point_uses_the_one_kernel_choice(lake: Lake, tmp_path: Path) -> None:
    """lake.predict, lake.score, SQL PREDICT (table and bound forms) and kernel_for get the same
    kernel object from get_kernel, and agree row for row."""
    x = data()[0]
    frame = pl.DataFrame(x, schema=FEATURES).with_row_index("id")
    mv = lake.models.register(fitted("lgbm"), name="g", features=FEATURES)
    lake.write("t", frame)
    kernel = kernels.get_kernel(mv.onnx_bytes(), threads=_threads(lake), sha256=mv.sha256)
    assert kernel.kind == "compiled"
    p = lake.predict("g", "t", outputs="probabilities array(real, 2)")
    lake.score("g", "t", "scored", outputs="probabilities array(real, 2)")
    s = lake.table("scored").sort("id").collect()
    q = lake.sql("SELECT d.id, p.probabilities FROM PREDICT(MODEL = 'g', DATA = t AS d) "
                 "WITH (probabilities array(real, 2)) AS p ORDER BY d.id").collect()
    lake.models.bind("g", alias="gb", output="probabilities[1]", return_type="real")
    b = lake.sql(f"SELECT id, PREDICT('gb', {', '.join(FEATURES)}) AS p1 FROM t ORDER BY id").collect()
    batch = lake.table("t").collect().to_arrow().combine_chunks().to_batches()[0]
    fn = pickle.loads(pickle.dumps(kernels.kernel_for(mv, batch.schema, outputs="probabilities array(real, 2)")))
    k = pl.from_arrow(fn(batch))
    assert kernels.get_kernel(mv.onnx_bytes(), threads=_threads(lake), sha256=mv.sha256) is kernel
    ref = p["probabilities"].arr.get(1).to_numpy()
    for other in (s["probabilities"].arr.get(1), q["probabilities"].arr.get(1), b["p1"],
                  k["probabilities"].arr.get(1)):  # type: ignore[index]
        np.testing.assert_array_equal(other.to_numpy(), ref)
    assert fn.output_schema().names == [*batch.schema.names, "probabilities"]


def test_no_compiler_scores_with_onnx_runtime(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                              caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("LAKEML_KERNEL_CC", "/nonexistent/cc")
    mv = lake.models.register(fitted("rf"), name="f", features=FEATURES)
    frame = pl.DataFrame(data()[0], schema=FEATURES)
    with caplog.at_level(logging.INFO, logger="lakeml.scoring.kernels"):
        out = lake.predict("f", frame)
    choice = kernels.choice_of(mv.sha256, _threads(lake))
    assert choice == kernels.Choice("onnxruntime", "no C compiler '/nonexistent/cc' on PATH")
    assert "no C compiler" in caplog.text
    assert out.height == frame.height


def test_disabled_by_env_scores_with_onnx_runtime(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                  kernel_env: Path) -> None:
    monkeypatch.setenv("LAKEML_KERNEL", "ort")
    mv = lake.models.register(fitted("rf"), name="f", features=FEATURES)
    lake.predict("f", pl.DataFrame(data()[0], schema=FEATURES))
    assert kernels.choice_of(mv.sha256, _threads(lake)) == kernels.Choice("onnxruntime", "LAKEML_KERNEL=ort")
    assert not kernel_env.exists()


def test_a_failed_build_falls_back_with_the_reason(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A compiler that exists but fails (here ``false``): ONNX Runtime scores, the reason is logged."""
    monkeypatch.setenv("LAKEML_KERNEL_CC", "false")
    mv = lake.models.register(fitted("lgbm"), name="g", features=FEATURES)
    frame = pl.DataFrame(data()[0], schema=FEATURES)
    with caplog.at_level(logging.WARNING, logger="lakeml.scoring.kernels"):
        out = lake.predict("g", frame)
    choice = kernels.choice_of(mv.sha256, _threads(lake))
    assert choice is not None and choice.kind == "onnxruntime"
    assert choice.reason.startswith("build failed")
    assert "failed" in caplog.text
    kernels.forget()
    monkeypatch.setenv("LAKEML_KERNEL", "ort")
    assert_frames_close(out, lake.predict("g", frame))


def test_a_kernel_that_does_not_match_onnx_runtime_is_not_used(lake: Lake, kernel_env: Path,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    """A cached library whose trees are not the model's (here another model's, planted under this
    model's key) fails the parity check: ONNX Runtime scores, the miss is logged."""
    first = lake.models.register(fitted("lgbm", seed=0), name="g", features=FEATURES)
    lake.predict("g", pl.DataFrame(data()[0], schema=FEATURES))
    second = fitted("lgbm", seed=5)
    folder = kernel_env / "kernels" / f"{_sha(second)}-{compiled.builder_tag()}"
    folder.mkdir(parents=True)
    shutil.copy(kernel_env / "kernels" / f"{first.sha256}-{compiled.builder_tag()}" / compiled.LIB,
                folder / compiled.LIB)
    mv = lake.models.register(second, name="g", features=FEATURES)
    with caplog.at_level(logging.WARNING, logger="lakeml.scoring.kernels"):
        lake.predict("g", pl.DataFrame(data()[0], schema=FEATURES))
    choice = kernels.choice_of(mv.sha256, _threads(lake))
    assert choice is not None and choice.kind == "onnxruntime" and choice.reason.startswith("parity miss")
    assert "does not match ONNX Runtime" in caplog.text


def test_a_new_model_version_gets_its_own_kernel(lake: Lake, kernel_env: Path) -> None:
    """The cache key is the ONNX bytes' sha256: version 2 never runs version 1's library."""
    v1 = lake.models.register(fitted("rf", seed=0), name="f", features=FEATURES)
    frame = pl.DataFrame(data()[0], schema=FEATURES)
    lake.predict("f", frame)
    v2 = lake.models.register(fitted("rf", seed=9), name="f", features=FEATURES)
    out2 = lake.predict("f", frame)
    folders = sorted(p.name.split("-")[0] for p in (kernel_env / "kernels").iterdir())
    assert folders == sorted([v1.sha256, v2.sha256])
    k2 = kernels.get_kernel(v2.onnx_bytes(), threads=_threads(lake), sha256=v2.sha256)
    assert k2.kind == "compiled" and v2.sha256 in str(k2.lib)
    want = ort_outputs(v2.onnx_bytes(), frame.to_numpy())["probabilities"]
    np.testing.assert_allclose(out2["probabilities"].to_numpy(), want, rtol=1e-5, atol=1e-6)


def test_the_cache_is_local_and_never_in_the_lake(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                  kernel_env: Path) -> None:
    mv = lake.models.register(fitted("lgbm"), name="g", features=FEATURES)
    frame = pl.DataFrame(data()[0], schema=FEATURES)
    lake.predict("g", frame)
    assert (kernel_env / "kernels").is_dir()
    lake_files = [p for p in Path(lake.root).rglob("*") if p.is_file()]
    assert lake_files and not [p for p in lake_files if p.suffix in (".so", ".json") and "kernel" in str(p)]
    kernels.forget()
    monkeypatch.setenv("LAKEML_CACHE_DIR", "abfss://c@a.dfs.core.windows.net/cache")
    lake.predict("g", frame)
    choice = kernels.choice_of(mv.sha256, _threads(lake))
    assert choice is not None and choice.kind == "onnxruntime" and "local disk only" in choice.reason


def test_background_build_scores_with_onnx_runtime_meanwhile(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                                             kernel_env: Path) -> None:
    """auto mode with nothing cached: the first call gets ONNX Runtime at once; the build finishes in
    a background thread and later calls get the settled choice."""
    monkeypatch.setenv("LAKEML_KERNEL", "auto")
    mv = lake.models.register(fitted("hgb"), name="h", features=FEATURES)
    first = kernels.get_kernel(mv.onnx_bytes(), threads=1, sha256=mv.sha256)
    assert first.kind == "onnxruntime"
    kernels.wait_for_builds()
    choice = kernels.choice_of(mv.sha256, 1)
    assert choice is not None and choice.reason  # compiled, or ONNX Runtime when it was faster
    later = kernels.get_kernel(mv.onnx_bytes(), threads=1, sha256=mv.sha256)
    assert later.kind == choice.kind
    assert list((kernel_env / "kernels").glob(f"{mv.sha256}-*/{compiled.LIB}"))


def test_a_double_tree_input_is_left_to_onnx_runtime() -> None:
    x, y2, _, _ = data()
    model = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y2)
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import DoubleTensorType

    onx = convert_sklearn(model, initial_types=[("input", DoubleTensorType([None, 4]))],
                          options={id(model): {"zipmap": False}}, target_opset=15)
    with pytest.raises(Unsupported, match="double tree input"):
        TreeGraph.parse(onx.SerializeToString())


@pytest.mark.parametrize(("attr", "value", "reason"), [
    ("nodes_modes", b"BRANCH_NEQ", "BRANCH_NEQ"),
    ("aggregate_function", b"MAX", "MIN/MAX"),
])
def test_what_the_compiler_does_not_reproduce_is_left_to_onnx_runtime(attr: str, value: bytes,
                                                                      reason: str) -> None:
    graph = TreeGraph.parse(fitted("rf_reg"))
    if attr == "nodes_modes":
        graph.attrs[attr] = [value if m != b"LEAF" else m for m in graph.attrs[attr]]
    else:
        graph.attrs[attr] = value
    with pytest.raises(Unsupported, match=reason):
        graph.check()


def test_a_model_without_trees_is_not_compiled(lake: Lake) -> None:
    from tests.scoring.models import packed_logreg

    mv = lake.models.register(packed_logreg()[0], name="lr", features=["a", "b"])
    lake.predict("lr", pl.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.1]}, schema={"a": pl.Float32, "b": pl.Float32}))
    choice = kernels.choice_of(mv.sha256, _threads(lake))
    assert choice is not None and choice.kind == "onnxruntime" and "0 TreeEnsemble nodes" in choice.reason


def test_kernel_for_scores_arrow_batches_like_predict(lake: Lake) -> None:
    x = data()[0]
    mv = lake.models.register(fitted("rf"), name="f", features=FEATURES)
    table = pa.table({f: x[:, i] for i, f in enumerate(FEATURES)})
    fn = kernels.kernel_for(mv, table.schema)
    out = pl.from_arrow(fn(table.to_batches()[0]))
    assert_frames_close(out, lake.predict("f", pl.from_arrow(table)))  # type: ignore[arg-type]
    empty = fn(pa.RecordBatch.from_pylist([], table.schema))
    assert empty.num_rows == 0 and empty.schema == fn.output_schema()


def test_auto_follows_the_stored_speed_verdict(lake: Lake, monkeypatch: pytest.MonkeyPatch,
                                               kernel_env: Path) -> None:
    """auto mode uses a cached kernel that was faster on the sample, and skips one that was slower
    without loading it again (the verdicts here are written as the first check would write them)."""
    mv = lake.models.register(fitted("lgbm"), name="g", features=FEATURES)
    threads = _threads(lake)
    kernels.get_kernel(mv.onnx_bytes(), threads=threads, sha256=mv.sha256)  # compiled mode: built, checked
    folder = kernel_env / "kernels" / f"{mv.sha256}-{compiled.builder_tag()}"
    monkeypatch.setenv("LAKEML_KERNEL", "auto")
    for compiled_s, kind in ((0.5, "compiled"), (2.0, "onnxruntime")):
        compiled.save_verdict(folder, compiled.Verdict(True, "matches ONNX Runtime", 1.0, compiled_s, threads))
        kernels.forget()
        lake.predict("g", pl.DataFrame(data()[0], schema=FEATURES))
        choice = kernels.choice_of(mv.sha256, threads)
        assert choice is not None and choice.kind == kind
    assert choice.reason.startswith("ONNX Runtime was faster (compiled 2000.0 ms vs ONNX Runtime 1000.0 ms")


def test_the_engine_batch_function_uses_the_one_kernel_choice(lake: Lake) -> None:
    """Spark's mapInArrow function (lakeml.scoring.on_engine) scores with get_kernel's kernel at the
    worker thread count, in the driver and, after pickling, in a worker, like lake.predict."""
    from lakeml.scoring import on_engine
    from lakeml.scoring.types import parse_outputs

    x = data()[0]
    mv = lake.models.register(fitted("lgbm"), name="g", features=FEATURES)
    table = pa.table({f: x[:, i] for i, f in enumerate(FEATURES)})
    schema = on_engine.arrow_to_polars_schema(table.schema)
    spec, plan = on_engine.bind(mv.manifest, mv.onnx_bytes(), schema, parse_outputs("probabilities array(real, 2)"),
                                on_null="error", auto_cast=False, batch_size=1024)
    kernel = kernels.get_kernel(mv.onnx_bytes(), threads=on_engine.WORKER_THREADS, sha256=mv.sha256)
    assert plan.session is kernel and kernel.kind == "compiled"
    on_engine._plans.clear()  # as in a fresh worker process: the unpickled function rebuilds its plan
    scorer = pickle.loads(pickle.dumps(on_engine.BatchScorer(spec)))
    out = pl.from_arrow(scorer(table.combine_chunks().to_batches()[0]))
    assert spec.plan().session is kernel
    ref = lake.predict("g", pl.from_arrow(table), outputs="probabilities array(real, 2)")  # type: ignore[arg-type]
    np.testing.assert_allclose(out["probabilities"].arr.get(1).to_numpy(),  # type: ignore[index]
                               ref["probabilities"].arr.get(1).to_numpy(), rtol=1e-5, atol=1e-6)
