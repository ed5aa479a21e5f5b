"""Bounded memory (issue #15): ``lake.score``'s peak memory follows the batch size, not the table.

Each size is scored in its own fresh process (tests/scoring/memory_child.py), so each peak resident
set (VmHWM) is that process's own. The check is a ratio of peaks, never a timing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.scoring.models import packed_logreg

ROOT = Path(__file__).resolve().parents[2]
SMALL, BIG = 1_000_000, 10_000_000
# docs/scoring.md "Memory budget": the target is 1.2; 1.23 (file) is measured today, and the read-ahead
# this guards against gave 1.5-1.9
MAX_RATIO = 1.35


def peak(folder: Path, rows: int, target: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LAKEML_KERNEL": "ort"}
    out = subprocess.run([sys.executable, "-m", "tests.scoring.memory_child", str(folder), str(rows), target],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rows"] == rows
    return result


@pytest.mark.slow
@pytest.mark.parametrize("target", ["file", "table"])
def test_peak_memory_does_not_grow_with_the_table(tmp_path: Path, target: str) -> None:
    (tmp_path / "model.onnx").write_bytes(packed_logreg()[0])
    small, big = peak(tmp_path, SMALL, target), peak(tmp_path, BIG, target)
    ratio = big["peak_mib"] / small["peak_mib"]
    assert ratio <= MAX_RATIO, (f"peak RSS {big['peak_mib']:.0f} MiB at {BIG:,} rows vs {small['peak_mib']:.0f} "
                                f"MiB at {SMALL:,} rows (x{ratio:.2f})")
