"""Profile benchmark: lakeml's profile vs a hand-written all-quantiles Polars query vs ydata-profiling.

Data: a synthetic 20-column table (``--rows``, default 10M, in 1M-row Parquet files under
``benchmarks/data/``, gitignored): 11 float columns (normal, skewed, with nulls), 4 integer
columns (low and high cardinality), 4 string columns (3 to ~1M distinct values) and a date.

Measured, each configuration in a fresh child process (wall time inside the child for the work
itself, peak RSS of the whole child), ``--reps`` runs interleaved, medians:
- ``lakeml``: ``Lake.profile`` over the lazy Parquet scan (all numbers: counts, nulls, distinct,
  moments, quantiles, histograms, top values, string lengths, duplicates, correlations, memory).
- ``quantiles``: a hand-written query, one streaming ``select`` of count, nulls, min, max and,
  for numeric columns, mean, std and the 25/50/75% quantiles of every column. It is not Polars'
  ``describe()``: it is the cheapest single query we could write for those numbers, a lower bound
  for any profile that includes quantiles.
- ``ydata``: ydata-profiling (its default, full report) on the first ``--sample`` rows, compared
  with lakeml on the same rows. ydata-profiling pins numpy<2.4 and pandas<3, which conflicts with
  lakeml's environment, so it runs from its own virtualenv (``--ydata-python``, default
  ``/work/ydata-venv/bin/python``; created with ``python -m venv ... && pip install ydata-profiling``).

Results go to ``benchmarks/results/bench_profile.json`` and ``.md``.

    python benchmarks/bench_profile.py                   # 10M rows, 100k-row ydata sample, 3 reps
    python benchmarks/bench_profile.py --rows 1000000 --reps 2 --skip-ydata
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # lakeml from this checkout if not installed

from _common import DATA_DIR, markdown_table, run_child, write_results

ROWS_PER_FILE = 1_000_000
# `make bench` builds this venv: ydata-profiling pins numpy<2.4 and pandas<3.
DEFAULT_YDATA_PYTHON = str(Path(__file__).resolve().parents[1] / ".venv-ydata" / "bin" / "python")


# --- data -------------------------------------------------------------------------------------------
def data_dir(rows: int) -> Path:
    return DATA_DIR / f"profile_{rows}"


def generate(rows: int, sample: int) -> tuple[str, Path]:
    """Write the table once (skipped when present); returns (glob of the full table, sample file)."""
    import numpy as np
    import polars as pl

    base = data_dir(rows)
    done = base / "_complete"
    if not done.exists():
        (base / "table").mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng(42)
        for index, first in enumerate(range(0, rows, ROWS_PER_FILE)):
            n = min(ROWS_PER_FILE, rows - first)
            floats = {f"f{i}": rng.normal(i, 1 + i, n) for i in range(8)}
            floats["skewed"] = rng.lognormal(0, 1.5, n)
            floats["uniform"] = rng.uniform(0, 1000, n)
            sparse = rng.normal(0, 1, n)
            sparse[rng.random(n) < 0.3] = np.nan
            frame = pl.DataFrame({
                **floats,
                "sparse": sparse,
                "qty": rng.integers(1, 51, n),
                "store": rng.integers(0, 500, n).astype("int32"),
                "customer_id": rng.integers(0, rows // 4 + 1, n),
                "order_id": np.arange(first, first + n, dtype="int64"),
                "status": rng.choice(["new", "paid", "shipped"], n),
                "city": rng.integers(0, 1000, n),
                "sku": rng.integers(0, 1_000_000, n),
                "day": np.datetime64("2020-01-01") + rng.integers(0, 1500, n).astype("timedelta64[D]"),
            }).with_columns(
                pl.col("sparse").fill_nan(None),
                ("city_" + pl.col("city").cast(pl.String)).alias("city"),
                ("SKU-" + pl.col("sku").cast(pl.String)).alias("sku"),
                pl.when(pl.col("qty") > 45).then(None).otherwise(pl.col("status")).alias("status"),
                pl.col("day").cast(pl.Date),
            ).with_columns((pl.col("order_id") % 97 == 0).alias("flagged"))
            frame = frame.select(frame.columns[:20])
            frame.write_parquet(base / "table" / f"part-{index:05d}.parquet", row_group_size=256_000)
        done.write_text("ok\n")
    sample_path = base / f"sample_{sample}.parquet"
    if not sample_path.exists():
        pl.scan_parquet(str(base / "table" / "*.parquet")).head(sample).sink_parquet(sample_path)
    return str(base / "table" / "*.parquet"), sample_path


# --- children ---------------------------------------------------------------------------------------
def child_lakeml(source: str, html: bool) -> dict[str, Any]:
    import polars as pl

    import lakeml

    lake = lakeml.connect(Path(os.environ.get("TMPDIR", "/tmp")) / "bench_profile_lake")
    start = time.perf_counter()
    profile = lake.profile(pl.scan_parquet(source))
    numbers = time.perf_counter() - start
    out: dict[str, Any] = {"seconds": numbers, "rows": profile.overview["rows"],
                           "columns": profile.overview["columns"]}
    if html:
        start = time.perf_counter()
        profile.to_html()
        out["html_seconds"] = time.perf_counter() - start
        out["total_seconds"] = numbers + out["html_seconds"]
    return out


def child_quantiles(source: str) -> dict[str, Any]:
    import polars as pl

    lf = pl.scan_parquet(source)
    start = time.perf_counter()
    exprs: list[pl.Expr] = []
    for i, (name, dtype) in enumerate(lf.collect_schema().items()):
        col = pl.col(name)
        exprs += [col.count().alias(f"{i}_count"), col.null_count().alias(f"{i}_nulls"),
                  col.min().alias(f"{i}_min"), col.max().alias(f"{i}_max")]
        if dtype.is_numeric():
            exprs += [col.mean().alias(f"{i}_mean"), col.std().alias(f"{i}_std"),
                      col.quantile(0.25, "nearest").alias(f"{i}_p25"),
                      col.quantile(0.5, "nearest").alias(f"{i}_p50"),
                      col.quantile(0.75, "nearest").alias(f"{i}_p75")]
    result = lf.select(exprs).collect(engine="streaming")
    return {"seconds": time.perf_counter() - start, "stats": result.width}


def child_ydata(source: str, html: bool) -> dict[str, Any]:
    import pandas as pd
    from ydata_profiling import ProfileReport

    start = time.perf_counter()
    frame = pd.read_parquet(source)
    report = ProfileReport(frame, title="bench", progress_bar=False)
    report.get_description()
    numbers = time.perf_counter() - start
    out: dict[str, Any] = {"seconds": numbers, "rows": len(frame)}
    if html:
        start = time.perf_counter()
        report.to_html()
        out["html_seconds"] = time.perf_counter() - start
        out["total_seconds"] = numbers + out["html_seconds"]
    return out


def child_main(args: argparse.Namespace) -> None:
    if args.child == "lakeml":
        result = child_lakeml(args.source, args.html)
    elif args.child == "quantiles":
        result = child_quantiles(args.source)
    else:
        result = child_ydata(args.source, args.html)
    print("RESULT " + json.dumps(result))


# --- driver -----------------------------------------------------------------------------------------
def run(python: str, child: str, source: str, *, html: bool = False) -> dict[str, Any]:
    cmd = [python, __file__, "--child", child, "--source", source] + (["--html"] if html else [])
    res = run_child(cmd, env={"POLARS_MAX_THREADS": os.environ.get("POLARS_MAX_THREADS", "2")})
    if res.returncode != 0:
        raise RuntimeError(f"{child} failed:\n{res.stderr[-3000:]}")
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
    return {**json.loads(line[len("RESULT "):]), "wall_s": res.seconds, "peak_rss_mib": res.peak_rss_bytes / 2**20}


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--sample", type=int, default=100_000, help="rows given to ydata-profiling")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ydata-reps", type=int, default=2)
    parser.add_argument("--ydata-python", default=os.environ.get("YDATA_PYTHON", DEFAULT_YDATA_PYTHON))
    parser.add_argument("--skip-ydata", action="store_true")
    parser.add_argument("--child", choices=["lakeml", "quantiles", "ydata"])
    parser.add_argument("--source")
    parser.add_argument("--html", action="store_true")
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return

    started = time.perf_counter()
    full, sample = generate(args.rows, args.sample)
    print(f"data ready: {args.rows:,} rows x 20 columns, sample {args.sample:,} rows "
          f"({time.perf_counter() - started:.1f}s)", flush=True)
    big: dict[str, list[dict[str, Any]]] = {"lakeml": [], "quantiles": []}
    for rep in range(args.reps):  # interleaved so machine noise hits both alike
        for name in ("lakeml", "quantiles"):
            big[name].append(run(sys.executable, name, full))
            print(f"  {args.rows:,} rows rep {rep + 1}: {name} {big[name][-1]['seconds']:.2f}s "
                  f"peak {big[name][-1]['peak_rss_mib']:.0f} MiB", flush=True)
    small: dict[str, list[dict[str, Any]]] = {"lakeml": [], "ydata": []}
    ydata_note = ""
    can_ydata = not args.skip_ydata and Path(args.ydata_python).exists()
    if not can_ydata:
        ydata_note = ("skipped (--skip-ydata)" if args.skip_ydata else
                      f"skipped: no ydata-profiling interpreter at {args.ydata_python}")
    for rep in range(args.ydata_reps if can_ydata else 0):
        small["lakeml"].append(run(sys.executable, "lakeml", str(sample), html=True))
        small["ydata"].append(run(args.ydata_python, "ydata", str(sample), html=True))
        print(f"  {args.sample:,} rows rep {rep + 1}: lakeml {small['lakeml'][-1]['total_seconds']:.2f}s, "
              f"ydata {small['ydata'][-1]['total_seconds']:.2f}s", flush=True)

    lk, ds = median(big["lakeml"], "seconds"), median(big["quantiles"], "seconds")
    lk_mem, ds_mem = median(big["lakeml"], "peak_rss_mib"), median(big["quantiles"], "peak_rss_mib")
    rows = [[f"lakeml profile ({args.rows:,} rows)", lk, lk_mem, "1.00x"],
            [f"hand-written all-quantiles Polars query ({args.rows:,} rows)", ds, ds_mem,
             f"{lk / ds:.2f}x (lakeml / quantiles query)"]]
    summary: dict[str, Any] = {"lakeml_over_quantiles_query_time": lk / ds,
                               "lakeml_over_quantiles_query_peak_rss": lk_mem / ds_mem}
    if small["ydata"]:
        for key, label in (("seconds", "numbers"), ("total_seconds", "numbers + HTML report")):
            a, b = median(small["lakeml"], key), median(small["ydata"], key)
            rows.append([f"lakeml {label} ({args.sample:,} rows)", a, median(small["lakeml"], "peak_rss_mib"), "1.00x"])
            rows.append([f"ydata-profiling {label} ({args.sample:,} rows)", b, median(small["ydata"], "peak_rss_mib"),
                         f"{b / a:.1f}x slower than lakeml"])
            summary[f"ydata_over_lakeml_{key}"] = b / a
        summary["ydata_over_lakeml_peak_rss"] = (median(small["ydata"], "peak_rss_mib")
                                                 / median(small["lakeml"], "peak_rss_mib"))
    table = markdown_table(["configuration", "median seconds", "median peak RSS (MiB)", "ratio"], rows)
    markdown = "\n".join([
        "# Profile benchmark", "",
        f"{args.rows:,} rows x 20 columns (Parquet, {ROWS_PER_FILE:,}-row files); ydata-profiling on the first "
        f"{args.sample:,} rows. Fresh process per run, medians of {args.reps} (ydata: {args.ydata_reps}) runs, "
        "interleaved. Seconds are the work inside the process (imports excluded); peak RSS is the whole process.",
        "", table, "",
        f"lakeml / all-quantiles query time: {summary['lakeml_over_quantiles_query_time']:.2f}x; peak RSS: "
        f"{summary['lakeml_over_quantiles_query_peak_rss']:.2f}x."
        + (f" ydata-profiling: {ydata_note}." if ydata_note else ""),
        "", f"Load average at the end (the machine is shared): {os.getloadavg()[0]:.1f}.",
    ])
    print(markdown)
    write_results("bench_profile", {"args": vars(args), "runs": {"full": big, "sample": small},
                                    "summary": summary, "ydata_note": ydata_note}, markdown)


if __name__ == "__main__":
    main()
