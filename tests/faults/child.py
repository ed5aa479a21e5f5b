"""One write of the fault-injection suite, run in its own process so that it can be killed with -9.

usage: python -m tests.faults.child SPEC_JSON

SPEC is {"root", "options", "op", "k", "ctx", "point"}: the lake, the operation (a key of
:data:`OPS`), a trial number that makes the written values unique, the files the operations read,
and optionally a kill point
``{"call": "write_bytes" | "delete" | "sink" | "link", "n": N, "when": "before" | "after"}``: the
process sends itself SIGKILL at the N-th such call. Without a point, the parent kills it at a random
moment. The process prints ``ready`` once lakeml is imported and the lake is open, and ``done`` when
the operation returned.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

import lakeml
from lakeml.session import Lake
from lakeml.storage import lakefs
from lakeml.storage.transactions import Transaction

ROWS = 200_000
TXN_ROWS = 50_000  # rows of one transactional load: kills still land inside the write, trials run faster


def rows(k: int, n: int = ROWS) -> pl.LazyFrame:
    """``n`` rows whose ``i`` values are unique to trial ``k``."""
    return pl.LazyFrame({"i": pl.int_range(k * n, (k + 1) * n, eager=True)}).with_columns(
        part=pl.col("i") % 8, payload=pl.col("i").cast(pl.String) + "-payload")


def csv_path(ctx: Context, k: int) -> str:
    """The CSV file the ingest of trial ``k`` reads."""
    return str(Path(ctx["workdir"]) / f"ingest-{k}.csv")


def model_bytes(ctx: Context, k: int) -> bytes:
    """The test model with a doc string naming trial ``k`` (the registry refuses identical bytes twice)."""
    import onnx

    model = onnx.load_model_from_string(Path(ctx["model"]).read_bytes())
    model.doc_string = f"fault trial {k}"
    return model.SerializeToString()


Context = dict[str, str]  # workdir, model (an .onnx file), external (a glob of Parquet files)
OPS: dict[str, Callable[[Lake, int, Context], Any]] = {
    "parquet_create": lambda lake, k, ctx: lake.write(f"c{k}", rows(k)),
    "parquet_append": lambda lake, k, ctx: lake.write("t", rows(k), mode="append"),
    "parquet_overwrite": lambda lake, k, ctx: lake.write("t", rows(k), mode="overwrite"),
    "parquet_partitioned": lambda lake, k, ctx: lake.write(f"c{k}", rows(k), partition_by="part"),
    "delta_create": lambda lake, k, ctx: lake.write(f"c{k}", rows(k), format="delta"),
    "delta_append": lambda lake, k, ctx: lake.write("d", rows(k), mode="append", format="delta"),
    "delta_overwrite": lambda lake, k, ctx: lake.write("d", rows(k), mode="overwrite", format="delta"),
    "delta_partitioned": lambda lake, k, ctx: lake.write(f"c{k}", rows(k), format="delta", partition_by="part"),
    "ingest": lambda lake, k, ctx: lake.ingest(csv_path(ctx, k), "ing", mode="append"),
    "score": lambda lake, k, ctx: lake.score("m", "src", f"s{k}"),
    "register": lambda lake, k, ctx: lake.models.register(model_bytes(ctx, k), name="m", features=["a", "b"]),
    "alias": lambda lake, k, ctx: lake.models.set_alias("m", 1 + k % 2, f"a{k}"),
    "catalog": lambda lake, k, ctx: lake.register_table(f"e{k}", ctx["external"], format="parquet"),
}


def load_marker(k: int) -> Transaction:
    """The transaction of incremental load ``k``: app "load", version k, the watermark it reached."""
    return Transaction("load", k, {"watermark": k, "rows": ROWS})


def load_rows(k: int, merge: bool) -> pl.LazyFrame:
    """Load ``k``'s TXN_ROWS rows; a merge also updates the first 1,000 rows of the seed data ``rows(1)``.

    Loads are numbered from 1000 up, so their ``i`` values never meet the seed's.
    """
    new = rows(k, TXN_ROWS)
    if not merge:
        return new
    return pl.concat([new, rows(1).head(1000).with_columns(payload=pl.lit(f"update-{k}"))])


# Transactional loads (tests/faults/test_transaction_kills.py): the rows and the marker in one commit.
def _load(fmt: str, mode: str) -> Callable[[Lake, int, Context], Any]:
    def load(lake: Lake, k: int, ctx: Context) -> Any:
        return lake.write(f"x_{fmt}_{mode}", load_rows(k, mode == "merge"), mode=mode, format=fmt,
                          keys=["i"] if mode == "merge" else None, transaction=load_marker(k))

    return load


TXN_OPS: dict[str, Callable[[Lake, int, Context], Any]] = {
    f"txn_{fmt}_{mode}": _load(fmt, mode) for fmt in ("parquet", "delta") for mode in ("append", "merge")
}


def _kill_at(point: dict[str, Any]) -> None:
    """Make the process SIGKILL itself at the chosen call."""
    calls = {"count": 0}

    def trip(when: str) -> None:
        if when == point.get("when", "before"):
            calls["count"] += 1
            if calls["count"] == point["n"]:
                os.kill(os.getpid(), signal.SIGKILL)

    def wrap(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            trip("before")
            result = original(*args, **kwargs)
            trip("after")
            return result

        setattr(owner, name, wrapper)

    call = point["call"]
    if call in ("write_bytes", "delete"):
        for cls in (lakefs.LocalStorage, lakefs.AzureStorage):
            wrap(cls, call)
    elif call == "sink":
        wrap(pl.LazyFrame, "sink_parquet")
        wrap(pl.LazyFrame, "sink_delta")
    elif call == "link":
        wrap(os, "link")
    else:
        raise SystemExit(f"unknown kill point {call}")


def main() -> None:
    spec = json.loads(sys.argv[1])
    lake = lakeml.connect(spec["root"], storage_options=spec["options"])
    if spec.get("point"):
        _kill_at(spec["point"])
    print("ready", flush=True)
    (OPS.get(spec["op"]) or TXN_OPS[spec["op"]])(lake, int(spec["k"]), spec["ctx"])
    print("done", flush=True)


if __name__ == "__main__":
    main()
