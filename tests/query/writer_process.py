"""A separate writer process for the atomicity and concurrency tests.

usage: python -m tests.query.writer_process ROOT OPTIONS_JSON TABLE ACTION ARG FORMAT
  ACTION=big N     overwrite TABLE with N rows in many files (slow enough to be killed midway)
  ACTION=append K  append K one-row batches tagged with this process id
"""

from __future__ import annotations

import json
import os
import sys
import time

import polars as pl

import lakeml


def main() -> None:
    root, options, table, action, arg, fmt = sys.argv[1:7]
    lake = lakeml.connect(root, storage_options=json.loads(options) or None)
    if action == "big":
        rows = int(arg)
        frame = pl.LazyFrame({"i": range(rows)}).with_columns(
            part=(pl.col("i") % 64), payload=pl.col("i").cast(pl.String) + "-payload-xxxxxxxxxxxxxxxxxxxxxxxx")
        # Slow each batch down so the test can kill the process while files are being written.
        frame = frame.map_batches(lambda df: (time.sleep(0.3), df)[1], streamable=True)
        print("writing", flush=True)
        lake.write(table, frame, mode="overwrite", format=fmt, partition_by="part")
        print("done", flush=True)
    elif action == "append":
        for k in range(int(arg)):
            lake.write(table, pl.DataFrame({"writer": [os.getpid()], "k": [k]}), mode="append", format=fmt)
    else:
        raise SystemExit(f"unknown action {action}")


if __name__ == "__main__":
    main()
