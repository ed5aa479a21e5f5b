"""One pipeline run in its own process, so the exactly-once test can kill it with -9.

usage: python -m tests.pipeline.copy_child SPEC_JSON  (SPEC: {"root", "pipeline", "point"})

The kill points are those of tests/faults/child.py. Prints ``ready`` once the lake is open and
``done STATUS`` when the run ended.
"""

from __future__ import annotations

import json
import sys

import lakeml
from tests.faults.child import _kill_at


def main() -> None:
    spec = json.loads(sys.argv[1])
    lake = lakeml.connect(spec["root"])
    if spec.get("point"):
        _kill_at(spec["point"])
    print("ready", flush=True)
    result = lake.pipelines.run(spec["pipeline"])
    print("done", result.status, flush=True)


if __name__ == "__main__":
    main()
