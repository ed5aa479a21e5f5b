"""Compile a tree ensemble (treelite + tl2cgen + a C compiler), load it, check it against ONNX Runtime.

A compiled kernel is a shared library built on this machine from the ONNX bytes and cached by their
sha256 (:mod:`lakeml.scoring.kernels.cache`). Before first use it is run beside ONNX Runtime on a
sample that exercises every split (each threshold, a float step either side, NaN); it must match
(labels exactly, scores within 1e-5), and it is kept only when it was faster on that sample. The
verdict is stored beside the library, per thread count.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lakeml.scoring.kernels.trees import TreeGraph, Unsupported, cast_output

TOOLCHAIN_ENV = "LAKEML_KERNEL_CC"
SAMPLE_ROWS = 32_768
#: rows of the parity re-check when a process loads a library that was checked and timed before
RECHECK_ROWS = 4_096
#: a compiled kernel must take at most this fraction of ONNX Runtime's time on the sample
FASTER = 0.95
LIB = "kernel.so"


def builder_tag() -> str:
    """What built a library (part of its cache key): this module's format and the tool versions."""
    import tl2cgen
    import treelite

    return f"k1-treelite{treelite.__version__}-tl2cgen{tl2cgen.__version__}"


def toolchain() -> str:
    """The C compiler tl2cgen calls (``LAKEML_KERNEL_CC``, default ``gcc``)."""
    return os.environ.get(TOOLCHAIN_ENV, "").strip() or "gcc"


def available() -> str | None:
    """None when kernels can be compiled here, else the reason they cannot."""
    try:
        import tl2cgen  # noqa: F401
        import treelite  # noqa: F401
    except ImportError:
        return "treelite/tl2cgen are not installed (pip install 'lakeml[kernels]')"
    if shutil.which(toolchain()) is None:
        return f"no C compiler {toolchain()!r} on PATH"
    return None


def build(graph: TreeGraph, dest: Path) -> Path:
    """Compile ``graph``'s trees into ``dest/kernel.so`` (atomically: built aside, then renamed).

    Raises:
        Unsupported: the trees use something this compiler does not reproduce.
        Exception: the C build failed (the caller logs it and uses ONNX Runtime).
    """
    import tl2cgen

    model = graph.to_treelite()
    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        params: dict[str, Any] = {"parallel_comp": max(1, min(os.cpu_count() or 1, 8))}
        tl2cgen.export_lib(model, toolchain(), str(work / LIB), params=params, nthread=1)
        with contextlib.suppress(OSError):  # another process finished first: keep theirs
            os.replace(work, dest)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
    return dest / LIB


class CompiledTrees:
    """A compiled tree kernel with the same ``run(outputs, feeds)`` as an ONNX Runtime session.

    The graph before the trees (featurizers) still runs in ONNX Runtime (``pre``); the trees run in
    the compiled library; the node's outputs are finished as ONNX Runtime does (:meth:`TreeGraph.finish`).
    """

    kind = "compiled"

    def __init__(self, graph: TreeGraph, lib: Path, *, threads: int, session: Any, pre: Any | None) -> None:
        import tl2cgen

        self.graph = graph
        self.lib = lib
        self.threads = threads
        self.session = session  # the full model's ONNX Runtime session: metadata, and the fallback
        self.pre = pre
        self.predictor = tl2cgen.Predictor(str(lib), nthread=threads)
        self.lock = threading.Lock()
        self.reason = ""

    def trees(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """The tree node's outputs for tree input ``x``."""
        import tl2cgen

        x = np.ascontiguousarray(x, dtype=self.graph.x_dtype)
        with self.lock:  # a tl2cgen predictor may be called by one thread at a time
            margins = self.predictor.predict(tl2cgen.DMatrix(x), pred_margin=True)
        return self.graph.finish(margins)

    def run(self, outputs: list[str], feeds: dict[str, Any]) -> list[Any]:
        """The graph outputs ``outputs`` for ``feeds`` (graph input name -> array)."""
        g = self.graph
        x = feeds[g.x_name] if self.pre is None else self.pre.run([g.x_name], feeds)[0]
        got = self.trees(x)
        return [cast_output(got[g.chains[n][0]], g.chains[n][1]) for n in outputs]


@dataclass
class Verdict:
    """The check of a compiled kernel against ONNX Runtime on the sample, and the timing."""

    parity: bool
    detail: str
    ort_s: float
    compiled_s: float
    threads: int

    @property
    def faster(self) -> bool:
        """Whether the compiled kernel was fast enough on the sample to be used."""
        return self.parity and self.compiled_s <= FASTER * self.ort_s


def verify(kernel: CompiledTrees, reference: Any, *, reps: int = 3, rows: int = SAMPLE_ROWS) -> Verdict:
    """Run ``kernel`` beside ``reference`` (an ONNX Runtime session of the tree node alone) on a
    split-covering sample: compare, then (``reps`` > 0) time both, interleaved, medians."""
    g = kernel.graph
    x = g.sample(rows)
    want = dict(zip(g.tree_outputs, reference.run(g.tree_outputs, {g.x_name: x}), strict=True))
    got = kernel.trees(x)
    for name in g.tree_outputs:
        a, b = np.asarray(got[name]), np.asarray(want[name])
        if a.size != b.size:
            return Verdict(False, f"output {name!r} has {a.size} values, ONNX Runtime {b.size}", 0.0, 0.0,
                           kernel.threads)
        a = a.reshape(b.shape)
        if b.dtype.kind in "fc":
            close = np.isclose(a, b, rtol=1e-5, atol=1e-5, equal_nan=True)
            if not close.all():
                err = float(np.nanmax(np.abs(a.astype(np.float64) - b)))
                return Verdict(False, f"output {name!r} differs from ONNX Runtime by up to {err:.3g} "
                                      f"({int((~close).sum())} values)", 0.0, 0.0, kernel.threads)
        elif not np.array_equal(a.astype(b.dtype), b):
            return Verdict(False, f"output {name!r}: {int((a.astype(b.dtype) != b).sum())} labels differ from "
                                  "ONNX Runtime", 0.0, 0.0, kernel.threads)
    ort_t, comp_t = [0.0], [0.0]
    if reps:
        ort_t, comp_t = [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        reference.run(g.tree_outputs, {g.x_name: x})
        ort_t.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        kernel.trees(x)
        comp_t.append(time.perf_counter() - t0)
    return Verdict(True, "matches ONNX Runtime", statistics.median(ort_t), statistics.median(comp_t),
                   kernel.threads)


def load_verdict(folder: Path, threads: int) -> Verdict | None:
    """The stored verdict for this thread count, if any."""
    path = folder / f"verdict-{threads}.json"
    try:
        return Verdict(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def save_verdict(folder: Path, verdict: Verdict) -> None:
    """Store a verdict (written aside, then renamed)."""
    path = folder / f"verdict-{verdict.threads}.json"
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(asdict(verdict)))
    os.replace(tmp, path)


__all__ = ["CompiledTrees", "Unsupported", "Verdict", "available", "build", "builder_tag", "verify"]
