"""A process that updates lake metadata many times, for the concurrent-writer tests.

usage: python -m tests.faults.metadata_writer ROOT OPTIONS_JSON KIND START COUNT
  KIND=alias     set aliases a<START>..a<START+COUNT-1> on model 'm' (version 1)
  KIND=catalog   register external tables e<START>.. pointing at the files of table 'src'
  KIND=register  register COUNT distinct versions of model 'm' (MODEL_PATH in $LAKEML_TEST_MODEL)
"""

from __future__ import annotations

import json
import os
import sys

import onnx

import lakeml


def main() -> None:
    root, options, kind, start, count = sys.argv[1:6]
    lake = lakeml.connect(root, storage_options=json.loads(options) or None)
    uri = lake.catalog.info("src").location + "/data/*/*.parquet" if kind == "catalog" else ""
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    for n in range(int(start), int(start) + int(count)):
        if kind == "alias":
            lake.models.set_alias("m", 1, f"a{n}")
        elif kind == "register":
            model = onnx.load_model(os.environ["LAKEML_TEST_MODEL"])
            model.doc_string = f"writer version {n}"
            lake.models.register(model, name="m", features=["a", "b"])
        else:
            lake.register_table(f"e{n}", uri, format="parquet")


if __name__ == "__main__":
    main()
