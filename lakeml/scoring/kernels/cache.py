"""Where compiled kernels live: a per-user cache on this machine, never the lake.

``LAKEML_CACHE_DIR`` when set, else ``$XDG_CACHE_HOME/lakeml`` or ``~/.cache/lakeml``; kernels go
in its ``kernels/`` folder, one folder per ONNX content hash. Only a local absolute path is
accepted: a URI (``abfss://``, ``s3://``...) is refused, so a kernel is never loaded from
remote storage (the lake holds ONNX bytes only).
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LAKEML_CACHE_DIR"


class CacheUnavailable(Exception):
    """The cache location is not a local directory this process may use."""


def cache_root() -> Path:
    """The lakeml cache directory (not created here).

    Raises:
        CacheUnavailable: ``LAKEML_CACHE_DIR`` is a URI or a relative path.
    """
    text = os.environ.get(CACHE_ENV, "").strip()
    if text:
        if "://" in text:
            raise CacheUnavailable(f"{CACHE_ENV}={text!r} is a URI; compiled kernels are cached on local disk only")
        path = Path(text).expanduser()
        if not path.is_absolute():
            raise CacheUnavailable(f"{CACHE_ENV}={text!r} is not an absolute path")
        return path
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "lakeml"


def kernel_dir(sha256: str, builder: str) -> Path:
    """The folder of one model's compiled kernel: keyed by the ONNX bytes' sha256 and the builder."""
    return cache_root() / "kernels" / f"{sha256}-{builder}"
