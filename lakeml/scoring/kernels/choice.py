"""The one place that decides which kernel scores a model: a compiled tree kernel or ONNX Runtime.

Every scoring path asks :func:`get_kernel` (``lake.predict``, ``lake.score``, SQL ``PREDICT`` in
both forms, and engines through :func:`lakeml.scoring.kernels.kernel_for`). The answer is cached
per (model bytes, thread count) for the process, with the reason (:func:`choice_of`):

- ``LAKEML_KERNEL=ort``: ONNX Runtime, always.
- default (``auto``): a tree ensemble whose compiled kernel is in the local cache, matches ONNX
  Runtime on the sample and was faster there, runs compiled. Without a cached kernel, scoring
  starts on ONNX Runtime at once and the kernel is built in a background thread; later scoring
  calls in the process (and every later process) use it. Nothing is ever compiled on the
  scoring hot path.
- ``LAKEML_KERNEL=sync``: as ``auto``, but a missing kernel is built before the first batch (a
  warm-up step, benchmarks).
- ``LAKEML_KERNEL=compiled``: as ``sync``, and the compiled kernel is used whenever it matches ONNX
  Runtime, faster or not (tests, comparisons).

No compiler, a model the compiler does not take, a failed build or a parity miss mean ONNX Runtime,
with the reason logged on the ``lakeml.scoring.kernels`` logger.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakeml.errors import ConfigError
from lakeml.scoring.kernels import compiled
from lakeml.scoring.kernels.cache import CacheUnavailable, kernel_dir
from lakeml.scoring.kernels.trees import TreeGraph, Unsupported
from lakeml.scoring.session import get_session, new_session

KERNEL_ENV = "LAKEML_KERNEL"
MODES = ("auto", "ort", "sync", "compiled")
log = logging.getLogger("lakeml.scoring.kernels")


@dataclass(frozen=True)
class Choice:
    """Which kernel scores a model here, and why."""

    kind: str  # "compiled" or "onnxruntime"
    reason: str


_chosen: dict[tuple[str, int], tuple[Any, Choice]] = {}
_pending: dict[tuple[str, int], threading.Thread] = {}
_lock = threading.Lock()


def kernel_mode() -> str:
    """``LAKEML_KERNEL``: ``auto`` (default), ``ort``, ``sync`` or ``compiled``.

    Raises:
        ConfigError: any other value.
    """
    mode = os.environ.get(KERNEL_ENV, "").strip().lower() or "auto"
    if mode not in MODES:
        raise ConfigError(f"{KERNEL_ENV}={mode!r} is not a kernel mode.",
                          hint=f"Set {KERNEL_ENV} to one of {', '.join(MODES)} (or leave it unset for auto).")
    return mode


def choice_of(sha256: str, threads: int) -> Choice | None:
    """The settled choice for a model's bytes (by sha256) at a thread count, if one was made."""
    with _lock:
        hit = _chosen.get((sha256, threads))
        if hit is not None:
            return hit[1]
        return Choice("onnxruntime", "compiling in the background") if (sha256, threads) in _pending else None


def get_kernel(data: bytes, *, threads: int, sha256: str | None = None) -> Any:
    """The kernel for these model bytes: an object with ``run(outputs, feeds)`` and ``session``.

    Raises:
        ModelError: ONNX Runtime cannot load the model.
        ConfigError: ``LAKEML_KERNEL`` is not a mode.
    """
    sha = sha256 or hashlib.sha256(data).hexdigest()
    key = (sha, threads)
    with _lock:
        hit = _chosen.get(key)
    if hit is not None:
        return hit[0]
    ort_kernel = get_session(data, threads=threads, sha256=sha)
    mode = kernel_mode()
    with _lock:
        if key in _pending:
            return ort_kernel
    if mode == "ort":
        return _settle(key, ort_kernel, Choice("onnxruntime", f"{KERNEL_ENV}=ort"), logging.DEBUG)
    missing = compiled.available()
    if missing:
        return _settle(key, ort_kernel, Choice("onnxruntime", missing), logging.INFO)
    try:
        folder = kernel_dir(sha, compiled.builder_tag())
        stored = compiled.load_verdict(folder, threads)
        if mode != "compiled" and stored is not None and stored.parity and not stored.faster:
            # measured before on this machine: not worth loading (or parsing) the trees again
            return _settle(key, ort_kernel, Choice("onnxruntime", f"ONNX Runtime was faster ({_timing(stored)})"))
        graph = TreeGraph.parse(data)
        graph.check()
    except (Unsupported, CacheUnavailable) as exc:
        return _settle(key, ort_kernel, Choice("onnxruntime", f"not compiled: {exc}"), logging.DEBUG)
    if (folder / compiled.LIB).exists() or mode in ("sync", "compiled"):
        return _settle(key, *_build_and_load(graph, folder, ort_kernel, threads, any_speed=mode == "compiled"))
    thread = threading.Thread(target=_background, args=(key, graph, folder, ort_kernel, threads),
                              name=f"lakeml-kernel-{sha[:8]}", daemon=True)
    with _lock:
        if key in _pending or key in _chosen:
            return ort_kernel
        _pending[key] = thread
    log.info("model %s: scoring with ONNX Runtime while its compiled kernel builds in the background", sha[:12])
    thread.start()
    return ort_kernel


def wait_for_builds(timeout: float | None = None) -> None:
    """Wait for background kernel builds started so far (tests and warm-up steps)."""
    with _lock:
        threads = list(_pending.values())
    for t in threads:
        t.join(timeout)


def forget() -> None:
    """Drop every settled choice (the next request decides again; the disk cache stays)."""
    wait_for_builds()
    with _lock:
        _chosen.clear()


def _background(key: tuple[str, int], graph: TreeGraph, folder: Path, ort_kernel: Any, threads: int) -> None:
    try:
        kernel, choice = _build_and_load(graph, folder, ort_kernel, threads)
        _settle(key, kernel, choice)
    finally:
        with _lock:
            _pending.pop(key, None)


def _settle(key: tuple[str, int], kernel: Any, choice: Choice, level: int = logging.INFO) -> Any:
    with _lock:
        _chosen[key] = (kernel, choice)
    log.log(level, "model %s (%d threads): %s (%s)", key[0][:12], key[1], choice.kind, choice.reason)
    return kernel


def _build_and_load(graph: TreeGraph, folder: Path, ort_kernel: Any, threads: int, *,
                    any_speed: bool = False) -> tuple[Any, Choice]:
    """Build (if not cached), load, verify and time the compiled kernel; ONNX Runtime on any miss."""
    lib = folder / compiled.LIB
    if not lib.exists():
        try:
            compiled.build(graph, folder)
        except Unsupported as exc:
            return ort_kernel, Choice("onnxruntime", f"not compiled: {exc}")
        except Exception as exc:  # a compiler failure of any kind: score with ONNX Runtime
            log.warning("compiling model %s failed: %s", folder.name[:12], _first_line(exc))
            return ort_kernel, Choice("onnxruntime", f"build failed: {_first_line(exc)}")
    try:
        pre_bytes = graph.pre_bytes()
        pre = get_session(pre_bytes, threads=threads) if pre_bytes is not None else None
        kernel = compiled.CompiledTrees(graph, lib, threads=threads, session=ort_kernel.session, pre=pre)
        reference = new_session(graph.tree_only_bytes(), threads=threads)
        stored = compiled.load_verdict(folder, threads)
        # a stored verdict was timed on the full sample; a reload re-checks parity on a smaller one
        verdict = compiled.verify(kernel, reference, reps=0 if stored else 3,
                                  rows=compiled.RECHECK_ROWS if stored else compiled.SAMPLE_ROWS)
    except Exception as exc:  # a library that will not load or run: ONNX Runtime
        log.warning("the compiled kernel %s could not run: %s", lib, _first_line(exc))
        return ort_kernel, Choice("onnxruntime", f"compiled kernel unusable: {_first_line(exc)}")
    if not verdict.parity:
        log.warning("the compiled kernel %s does not match ONNX Runtime (%s); using ONNX Runtime", lib,
                    verdict.detail)
        return ort_kernel, Choice("onnxruntime", f"parity miss: {verdict.detail}")
    if stored is None:
        compiled.save_verdict(folder, verdict)
        stored = verdict
    if not stored.faster and not any_speed:
        return ort_kernel, Choice("onnxruntime", f"ONNX Runtime was faster ({_timing(stored)})")
    return kernel, Choice("compiled", f"matches ONNX Runtime; {_timing(stored)}")


def _timing(v: compiled.Verdict) -> str:
    return f"compiled {v.compiled_s * 1e3:.1f} ms vs ONNX Runtime {v.ort_s * 1e3:.1f} ms on the sample"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]
