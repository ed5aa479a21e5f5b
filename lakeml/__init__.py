"""lakeml: a single-machine lakehouse ML engine.

Lake tables on local disk or Azure Data Lake Storage, SQL over them, training and AutoML,
a versioned ONNX model registry and streaming SQL ``PREDICT`` batch scoring.

>>> import lakeml
>>> lake = lakeml.connect("./lake")          # doctest: +SKIP
>>> lake.sql("SELECT COUNT(*) FROM flights").collect()   # doctest: +SKIP
"""

from __future__ import annotations

from lakeml.errors import LakeMLError

__version__ = "0.1.0"
__all__ = ["Lake", "LakeMLError", "Transaction", "WriteResult", "__version__", "connect"]


def __getattr__(name: str) -> object:
    # Lazy so that `import lakeml` stays cheap and never pulls in heavy optional engines.
    if name in ("Lake", "connect"):
        import lakeml.session as _lake

        return getattr(_lake, name)
    if name in ("Transaction", "WriteResult"):
        import lakeml.storage.transactions as _transactions

        return getattr(_transactions, name)
    raise AttributeError(f"module 'lakeml' has no attribute {name!r}")
