"""Child process of test_memory: score ROWS narrow rows from a Parquet file, print the peak RSS.

``python -m tests.scoring.memory_child FOLDER ROWS file|table`` writes ``ROWS`` rows of
``WIDTH`` float32 columns (``a``, ``b`` feed the model ``FOLDER/model.onnx``, the rest pass through)
in small row groups, scores them with ``lake.score`` into a Parquet file or a lake table, and
prints one JSON line: the process's peak resident set (VmHWM, MiB) before and after scoring.
"""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

BATCH = 65_536  # the default batch size; the data is written in row groups of this size
WIDTH = 16


def peak_mib() -> float:
    """This process's peak resident set so far (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def main(folder: Path, rows: int, target: str) -> None:
    """Write the data, score it, print the peaks."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    import lakeml
    from lakeml.config import LakeConfig

    names = ["a", "b", *(f"c{i:02d}" for i in range(WIDTH - 2))]
    data = folder / f"data-{rows}.parquet"
    rng = np.random.default_rng(0)
    block = pa.table({n: rng.normal(size=BATCH).astype(np.float32) for n in names})
    with pq.ParquetWriter(data, block.schema) as writer:
        for start in range(0, rows, BATCH):  # one block over and over: memory, not values, is measured
            writer.write_table(block.slice(0, min(BATCH, rows - start)))
    lake = lakeml.connect(folder / f"lake-{uuid.uuid4().hex[:8]}", config=LakeConfig(batch_size=BATCH))
    lake.models.register((folder / "model.onnx").read_bytes(), name="churn", features=["a", "b"])
    lake.register_table("src", str(data))
    before = peak_mib()
    dest = str(folder / f"scores-{rows}.parquet") if target == "file" else "scores"
    result = lake.score("churn", "src", dest)
    print(json.dumps({"rows": result.rows, "before_mib": before, "peak_mib": peak_mib()}))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
