"""A Spark writer to kill: ``python -m tests.faults.spark_writer ROOT`` overwrites table t slowly.

It prints ``writing`` once Spark has started, then every task sleeps between batches, so the
parent can kill -9 the process group while Spark's files are being written.
"""

from __future__ import annotations

import sys
import time

import lakeml


def _slow(batches):  # runs in the Python workers
    for batch in batches:
        time.sleep(0.5)
        yield batch


def main() -> None:
    lake = lakeml.connect(sys.argv[1], backend="spark", spark_conf={"spark.master": "local[2]",
                                                                    "spark.sql.shuffle.partitions": "2"})
    spark = lake.engine.spark
    frame = spark.range(0, 200_000, numPartitions=8).selectExpr("id", "id % 7 AS part")
    frame = frame.mapInArrow(_slow, frame.schema)
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
    print("writing", flush=True)
    lake.write("t", frame, mode="overwrite", partition_by="part")
    print("done", flush=True)


if __name__ == "__main__":
    main()
