"""One cached ONNX Runtime InferenceSession per distinct model bytes (keyed by content hash)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

from lakeml.config import LakeConfig, default_ort_threads
from lakeml.errors import ModelError
from lakeml.registry.manifest import check_self_contained

_MAX_SESSIONS = 16
_cache: OrderedDict[tuple[str, int], CachedSession] = OrderedDict()
_cache_lock = threading.Lock()


class Kernel(Protocol):
    """What scores a model's batches: an ONNX Runtime session or a compiled kernel
    (:func:`lakeml.scoring.kernels.get_kernel` chooses). ``session`` is the model's ONNX Runtime
    session either way (its metadata; the reference a compiled kernel was checked against)."""

    session: Any
    threads: int

    def run(self, outputs: list[str], feeds: dict[str, Any]) -> list[Any]:
        """The named graph outputs for ``feeds`` (graph input name -> array)."""
        ...


@dataclass
class CachedSession:
    """A session plus the lock that serialises ``run`` calls.

    Polars may call a batch function on several morsels at once; each ``run`` already uses
    ``threads`` intra-op threads, so running them concurrently would oversubscribe the cores.
    """

    session: Any
    threads: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    kind = "onnxruntime"

    def run(self, outputs: list[str], feeds: dict[str, Any]) -> list[Any]:
        """``session.run`` under the lock."""
        with self.lock:
            return list(self.session.run(outputs, feeds))


def default_threads(config: LakeConfig | None = None) -> int:
    """ORT intra-op threads: ``config.ort_threads`` when set, else :func:`lakeml.config.default_ort_threads`."""
    value = getattr(config, "ort_threads", None) if config is not None else None
    return int(value) if value else default_ort_threads()


def get_session(data: bytes, *, threads: int, sha256: str | None = None) -> CachedSession:
    """Return the cached session for these bytes and thread count, creating it on first use.

    CPU provider, full graph optimisation, ``threads`` intra-op threads, thread spinning off.

    Raises:
        ModelError: ONNX Runtime cannot load the model.
    """
    key = (sha256 or hashlib.sha256(data).hexdigest(), threads)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    cached = CachedSession(new_session(data, threads=threads), threads)
    with _cache_lock:
        cached = _cache.setdefault(key, cached)
        while len(_cache) > _MAX_SESSIONS:
            _cache.popitem(last=False)
    return cached


def new_session(data: bytes, *, threads: int = 1) -> Any:
    """A new ONNX Runtime session for model bytes: the one place lakeml builds sessions.

    Refuses models with external data (before ONNX Runtime could read any file), turns ONNX
    Runtime's telemetry off, and uses the CPU provider, full graph optimisation, ``threads``
    intra-op threads and no thread spinning.

    Raises:
        ModelError: external data, or ONNX Runtime cannot load the model.
    """
    check_self_contained(data)
    import onnxruntime as ort

    ort.disable_telemetry_events()  # a no-op on Linux builds today; explicit so no build ever reports home
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3
    try:
        return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"ONNX Runtime cannot load the model: {str(exc).splitlines()[0][:300]}",
                         hint="Re-export the model with a supported opset (<= 21) and input types.") from exc


def cache_size() -> int:
    """Number of sessions currently cached."""
    return len(_cache)
