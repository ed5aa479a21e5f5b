"""Batch scoring benchmark: lakeml ``score`` vs the I/O + ONNX Runtime limit, native predict, PySpark.

1M rows x 20 float features in Parquet; LogisticRegression, RandomForest (100 trees, depth 10),
LightGBM (100 trees), HistGradientBoosting (100 iterations). Every configuration runs in a fresh
process (peak RSS is that process's own),
repetitions are interleaved, medians reported. A 10M-row lakeml run checks that memory is bounded
by the batch size, not the table size.

    python benchmarks/bench_scoring.py                 # full run (several minutes on 2 cores)
    python benchmarks/bench_scoring.py --reps 1 --skip-spark --skip-big   # quick look

Configurations:
  lakeml   Lake.score: Parquet table -> model -> Parquet lake table (streaming, one pass)
  io       Polars scan_parquet -> sink_parquet of the same file, no model
  ort      ONNX Runtime alone on the same rows already in memory as float32 numpy (100k batches)
  limit    io + ort: what a perfect sequential pipeline would take
  native   pandas.read_parquet + the library's own predict_proba + writing the result with pandas
           (timed with its write, as lakeml's time includes its own; read+predict alone is reported too)
  spark    PySpark local[2]: read Parquet, ORT inside mapInArrow, write Parquet
  kernels  the kernels alone on the same 1M rows in memory, paired in one process: native
           predict_proba, ONNX Runtime with lakeml's session options, the compiled tree kernel
           (treelite + tl2cgen, from the local cache the setup step warmed), and lakeml's choice
  polars_ort  a hand-written table-to-table loop: scan_parquet -> map_batches(ONNX Runtime) -> sink_parquet

Compiled kernels need the 'kernels' extra (treelite, tl2cgen) and a C compiler; the setup step
builds them into benchmarks/data/scoring/kernel-cache (LAKEML_CACHE_DIR for every child) and
records the build time, so the timed runs measure a warm cache as a second scoring run would.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DATA_DIR, markdown_table, run_child, write_results

N_FEATURES = 20
TRAIN_ROWS = 50_000
BATCH = 100_000
MODELS = ("logreg", "forest", "lightgbm", "hgb")
FEATURES = [f"f{i:02d}" for i in range(N_FEATURES)]


# ---- setup (parent) -----------------------------------------------------------------------------
def make_data(path: Path, rows: int) -> None:
    """Write ``rows`` x 20 float32 features plus nothing else, in 100k-row groups (streamed)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(42)
    schema = pa.schema([(f, pa.float32()) for f in FEATURES])
    tmp = path.with_suffix(".tmp")
    with pq.ParquetWriter(tmp, schema) as writer:
        for start in range(0, rows, BATCH):
            n = min(BATCH, rows - start)
            x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
            writer.write_table(pa.Table.from_arrays([pa.array(x[:, i]) for i in range(N_FEATURES)], schema=schema))
    tmp.rename(path)


def train_models(data: Path, work: Path) -> None:
    """Fit the three models on the first 50k rows; save native (joblib, bench-only) and ONNX files."""
    import joblib
    import lightgbm
    import numpy as np
    import polars as pl
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from lakeml.ml.onnx_export import to_onnx

    x = pl.read_parquet(data, n_rows=TRAIN_ROWS).to_numpy()
    w = np.linspace(-1, 1, N_FEATURES)
    y = ((x @ w + 0.5 * np.sin(3 * x[:, 0]) + np.random.default_rng(1).normal(0, 0.5, len(x))) > 0).astype(int)
    fitted = {
        "logreg": LogisticRegression(max_iter=500),
        "forest": RandomForestClassifier(n_estimators=100, max_depth=10, n_jobs=2, random_state=0),
        "lightgbm": lightgbm.LGBMClassifier(n_estimators=100, verbose=-1, n_jobs=2),
        "hgb": HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0),
    }
    for name, model in fitted.items():
        if (work / f"{name}.onnx").exists():
            continue
        model.fit(x, y)
        joblib.dump(model, work / f"{name}.joblib")
        (work / f"{name}.onnx").write_bytes(to_onnx(model, n_features=N_FEATURES))


# ---- child configurations -------------------------------------------------------------------------
def child_lakeml(model: str, data: Path, work: Path) -> dict[str, Any]:
    if not kernel_built(model, work):  # no background compile inside the timed run (see child_warm)
        os.environ["LAKEML_KERNEL"] = "ort"
    import lakeml

    lake = lakeml.connect(work / f"lake-{uuid.uuid4().hex[:8]}")
    lake.models.register((work / f"{model}.onnx").read_bytes(), name=model, features=FEATURES)
    lake.register_table("src", str(data))
    start = time.perf_counter()
    result = lake.score(model, "src", "scored")
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "rows": result.rows}


def child_io(model: str, data: Path, work: Path) -> dict[str, Any]:
    import polars as pl

    start = time.perf_counter()
    pl.scan_parquet(data).sink_parquet(work / f"io-{uuid.uuid4().hex[:8]}.parquet")
    return {"seconds": time.perf_counter() - start}


def child_ort(model: str, data: Path, work: Path) -> dict[str, Any]:
    import numpy as np
    import onnxruntime as ort
    import polars as pl

    x = np.ascontiguousarray(pl.read_parquet(data).to_numpy(), dtype=np.float32)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = min(os.cpu_count() or 1, 8)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession((work / f"{model}.onnx").read_bytes(), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    start = time.perf_counter()
    for i in range(0, len(x), BATCH):
        sess.run(None, {name: x[i:i + BATCH]})
    return {"seconds": time.perf_counter() - start}


def child_native(model: str, data: Path, work: Path) -> dict[str, Any]:
    import joblib
    import pandas as pd

    est = joblib.load(work / f"{model}.joblib")  # the benchmark's own file, never a lake object
    start = time.perf_counter()
    frame = pd.read_parquet(data)
    proba = est.predict_proba(frame.to_numpy())
    predicted = time.perf_counter() - start
    frame["label"] = proba.argmax(axis=1)
    frame["p1"] = proba[:, 1]
    frame.to_parquet(work / f"native-{uuid.uuid4().hex[:8]}.parquet")
    return {"seconds": time.perf_counter() - start, "predict_s": predicted}


def child_spark(model: str, data: Path, work: Path) -> dict[str, Any]:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["SPARK_LOCAL_IP"] = "127.0.0.1"
    from pyspark.sql import SparkSession

    start = time.perf_counter()
    spark = (SparkSession.builder.master("local[2]").appName("bench")
             .config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
             .config("spark.sql.shuffle.partitions", "2").getOrCreate())
    session_s = time.perf_counter() - start
    onnx_path = str(work / f"{model}.onnx")
    features = list(FEATURES)

    def score(batches: Any) -> Any:
        import numpy as np
        import onnxruntime as ort
        import pyarrow as pa

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(onnx_path, opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        for batch in batches:
            x = np.column_stack([batch.column(f).to_numpy(zero_copy_only=False) for f in features]).astype(np.float32)
            label, proba = sess.run(None, {name: x})[:2]
            yield batch.append_column("label", pa.array(label.astype("int64"))).append_column(
                "p1", pa.array(np.asarray(proba)[:, 1].astype("float64")))

    schema = ", ".join(f"{f} float" for f in features) + ", label long, p1 double"
    job_start = time.perf_counter()
    spark.read.parquet(str(data)).mapInArrow(score, schema).write.mode("overwrite").parquet(
        str(work / f"spark-{uuid.uuid4().hex[:8]}"))
    job_s = time.perf_counter() - job_start
    jvm = spark.sparkContext._gateway.proc.pid  # type: ignore[attr-defined]
    rss = vm_hwm_mib() + tree_hwm_mib(jvm)
    spark.stop()
    return {"seconds": job_s, "session_s": session_s, "rss_mib": rss}


def vm_hwm_mib(pid: int | str = "self") -> float:
    """Peak resident set (VmHWM) of one process, MiB. Read in the child itself: ``ru_maxrss`` from
    ``wait4`` would include the parent's RSS at fork time (Linux keeps it across exec)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_hwm_mib(pid: int) -> float:
    """Sum of VmHWM over a process and its descendants (JVM + Python workers for Spark)."""
    import psutil

    procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    total = 0.0
    for proc in procs:
        try:
            total += vm_hwm_mib(proc.pid)
        except OSError:
            continue
    return total


def child_setup(model: str, data: Path, work: Path) -> dict[str, Any]:
    rows = int(data.stem.split("_")[-1])
    make_data(data, rows)
    train_models(data, work)
    return {"seconds": 0.0}


# ---- kernels (issue #15): in-memory kernel columns, compiled-kernel warm-up, hand-written loop ----
KERNEL_CACHE = "kernel-cache"
WARM_TIMEOUT_S = 300.0


def kernel_env(work: Path) -> None:
    """Every child scores with the benchmark's own kernel cache (never the user's ~/.cache)."""
    os.environ["LAKEML_CACHE_DIR"] = str(work / KERNEL_CACHE)


def kernel_built(model: str, work: Path) -> bool:
    """Whether the warm-up step left a compiled kernel for the model in the benchmark's cache."""
    import hashlib

    sha = hashlib.sha256((work / f"{model}.onnx").read_bytes()).hexdigest()
    return bool(list((work / KERNEL_CACHE / "kernels").glob(f"{sha}-*/kernel.so")))


def child_warm(model: str, data: Path, work: Path) -> dict[str, Any]:
    """Build (or find) the model's compiled kernel and record lakeml's choice: what a first use costs."""
    import hashlib

    from lakeml.scoring import kernels
    from lakeml.scoring.session import default_threads

    onnx = (work / f"{model}.onnx").read_bytes()
    start = time.perf_counter()
    kernels.get_kernel(onnx, threads=default_threads())  # auto: a missing kernel builds in the background
    kernels.wait_for_builds(WARM_TIMEOUT_S)  # a build still running then is reported, and abandoned
    choice = kernels.choice_of(hashlib.sha256(onnx).hexdigest(), default_threads())
    return {"seconds": time.perf_counter() - start, "kind": choice.kind if choice else "-",
            "reason": choice.reason if choice else "-"}


def child_kernels(model: str, data: Path, work: Path) -> dict[str, Any]:
    """The kernels alone on 1M rows in memory (100k batches), paired in one process."""
    import hashlib

    import joblib
    import numpy as np
    import polars as pl

    from lakeml.scoring import kernels
    from lakeml.scoring.session import default_threads, get_session

    x = np.ascontiguousarray(pl.read_parquet(data).to_numpy(), dtype=np.float32)
    onnx = (work / f"{model}.onnx").read_bytes()
    threads = default_threads()
    out: dict[str, Any] = {"seconds": 0.0}

    def timed(fn: Any) -> float:
        start = time.perf_counter()
        for i in range(0, len(x), BATCH):
            fn(x[i:i + BATCH])
        return time.perf_counter() - start

    est = joblib.load(work / f"{model}.joblib")  # the benchmark's own file, never a lake object
    out["native_mem_s"] = timed(est.predict_proba)
    ort = get_session(onnx, threads=threads)
    names = [o.name for o in ort.session.get_outputs()]
    out["ort_mem_s"] = timed(lambda b: ort.run(names, {"input": b}))
    # the compiled kernel whether or not lakeml would pick it, if the warm-up step built it
    os.environ["LAKEML_KERNEL"] = "compiled" if kernel_built(model, work) else "ort"
    compiled = kernels.get_kernel(onnx, threads=threads)
    out["compiled_mem_s"] = timed(lambda b: compiled.run(names, {"input": b})) \
        if getattr(compiled, "kind", "") == "compiled" else None
    kernels.forget()
    os.environ["LAKEML_KERNEL"] = "auto"
    chosen = kernels.get_kernel(onnx, threads=threads)
    choice = kernels.choice_of(hashlib.sha256(onnx).hexdigest(), threads)
    out["choice"] = choice.kind if choice else "-"
    out["choice_reason"] = choice.reason if choice else "-"
    out["chosen_mem_s"] = timed(lambda b: chosen.run(names, {"input": b}))
    return out


def child_polars_ort(model: str, data: Path, work: Path) -> dict[str, Any]:
    """A hand-written table-to-table loop: Polars streaming scan -> ONNX Runtime -> Parquet sink,
    writing the same outputs as lakeml's score (label, probabilities)."""
    import numpy as np
    import onnxruntime as ort
    import polars as pl

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = min(os.cpu_count() or 1, 8)
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession((work / f"{model}.onnx").read_bytes(), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    lf = pl.scan_parquet(data)
    schema = dict(lf.collect_schema())
    schema.update(label=pl.Int64(), probabilities=pl.Array(pl.Float32(), 2))

    def score(df: pl.DataFrame) -> pl.DataFrame:
        label, proba = sess.run(None, {name: np.ascontiguousarray(df.select(FEATURES).to_numpy(), dtype=np.float32)})
        return df.with_columns(pl.Series("label", label.astype(np.int64)),
                               pl.Series("probabilities", np.asarray(proba, dtype=np.float32)))

    start = time.perf_counter()
    lf.map_batches(score, schema=pl.Schema(schema), streamable=True).sink_parquet(
        work / f"polars-ort-{uuid.uuid4().hex[:8]}.parquet")
    return {"seconds": time.perf_counter() - start}


def kernel_summary(model: str, r: dict[str, list[dict[str, Any]]], lakeml_s: float, io_s: float) -> dict[str, Any]:
    """Kernel columns for one model: in-memory seconds per kernel, the limit they set, the loop."""
    k = r["kernels"]
    comp = [x["compiled_mem_s"] for x in k if x.get("compiled_mem_s") is not None]
    entry: dict[str, Any] = {
        "native_mem_s": med(k, "native_mem_s"), "ort_mem_s": med(k, "ort_mem_s"),
        "compiled_mem_s": float(statistics.median(comp)) if comp else None,
        "chosen_mem_s": med(k, "chosen_mem_s"), "choice": k[-1]["choice"], "choice_reason": k[-1]["choice_reason"],
        "polars_ort_s": med(r["polars_ort"], "seconds"),
    }
    fastest = min(v for v in (entry["ort_mem_s"], entry["compiled_mem_s"]) if v is not None)
    entry.update(fastest_mem_s=fastest, limit_fastest_s=io_s + fastest,
                 lakeml_over_limit_fastest=lakeml_s / (io_s + fastest),
                 lakeml_over_polars_ort=lakeml_s / entry["polars_ort_s"])
    return entry


def kernel_table(models: list[str], summary: dict[str, Any], warm: dict[str, Any]) -> list[str]:
    """The kernel section of the results (markdown lines)."""
    rows = []
    for model in models:
        e = summary[model]["kernels"]
        w = warm.get(model, {})
        comp = e["compiled_mem_s"]
        rows.append([model, e["native_mem_s"], e["ort_mem_s"], comp if comp is not None else "-",
                     f"{e['choice']} ({e['choice_reason']})", f"{w.get('seconds', 0.0):.1f}",
                     summary[model]["lakeml_s"], e["limit_fastest_s"], f"{e['lakeml_over_limit_fastest']:.2f}x",
                     e["polars_ort_s"], f"{e['lakeml_over_polars_ort']:.2f}x"])
    headers = ["model", "native in memory s", "ONNX Runtime in memory s", "compiled in memory s",
               "lakeml's choice", "first-use build+check s", "lakeml score s", "io + fastest kernel s",
               "lakeml / (io + fastest)", "Polars+ORT loop s", "lakeml / loop"]
    return ["## Kernels: 1M rows in memory (100k batches), and table to table", "", markdown_table(headers, rows), "",
            "Targets: lakeml / (io + fastest kernel) <= 1.10 for every family. The loop is a hand-written "
            "Polars scan -> map_batches(ONNX Runtime) -> sink_parquet with the same outputs.", ""]


# ---- lakeml backend="spark" beside raw PySpark (same session, same data, one process) ---------------
def child_spark_lakeml(model: str, data: Path, work: Path, reps: int = 3) -> dict[str, Any]:
    """Raw PySpark scoring (mapInArrow + ONNX Runtime, one session per worker) beside ``lake.score`` on Spark.

    Both read the same Parquet file, score label and probabilities with the same ONNX model (one
    intra-op thread per worker, Spark's task slots being the parallelism) and write Parquet; lakeml
    also commits its files to the lake table's log. Warm, interleaved rep by rep.
    """
    import polars as pl

    import lakeml
    from lakeml.engines.spark.runtime import start_session

    spark = start_session("local[2]", {"spark.sql.shuffle.partitions": "2", "spark.driver.host": "127.0.0.1"})
    onnx_bytes = (work / f"{model}.onnx").read_bytes()
    features = list(FEATURES)
    sessions: dict[str, Any] = {}

    def raw_score(batches: Any) -> Any:
        import numpy as np
        import onnxruntime as ort
        import pyarrow as pa

        sess = sessions.get("s")
        if sess is None:  # one session per worker process, as lakeml keeps
            opts = ort.SessionOptions()
            opts.intra_op_num_threads = 1
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
            sess = sessions["s"] = ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
        for batch in batches:
            x = np.column_stack([batch.column(f).to_numpy(zero_copy_only=False) for f in features]).astype(np.float32)
            label, proba = sess.run(None, {name: x})[:2]
            proba = np.asarray(proba, dtype=np.float32)
            offsets = pa.array(np.arange(0, proba.size + 1, proba.shape[1], dtype=np.int32))
            yield batch.append_column("label", pa.array(label.astype("int64"))).append_column(
                "probabilities", pa.ListArray.from_arrays(offsets, pa.array(proba.reshape(-1))))

    schema = ", ".join(f"{f} float" for f in features) + ", label long, probabilities array<float>"
    lake = lakeml.connect(work / f"lake-spark-{uuid.uuid4().hex[:8]}", backend="spark", spark=spark)
    lake.models.register(onnx_bytes, name=model, features=features)
    outputs = "label bigint, probabilities array(real, 2)"
    raw_out = work / f"spark-raw-{uuid.uuid4().hex[:8]}"

    def raw() -> None:
        spark.read.parquet(str(data)).mapInArrow(raw_score, schema).write.mode("overwrite").parquet(str(raw_out))

    def lakeml_run() -> None:
        lake.score(model, spark.read.parquet(str(data)), "scored", outputs=outputs, mode="overwrite")

    runners = {"pyspark": raw, "lakeml_spark": lakeml_run}
    for run in runners.values():
        run()  # warm-up (worker processes, sessions)
    times: dict[str, list[float]] = {name: [] for name in runners}
    for rep in range(reps):
        for name in (list(runners) if rep % 2 == 0 else list(reversed(runners))):
            t0 = time.perf_counter()
            runners[name]()
            times[name].append(time.perf_counter() - t0)
    ours = lakeml.connect(lake.root).table("scored").select("label", "probabilities").collect()
    theirs = pl.read_parquet(f"{raw_out}/*.parquet")  # Spark leaves .crc files beside its parts
    theirs = theirs.select("label", "probabilities")
    same = (ours.height == theirs.height and ours["label"].sum() == theirs["label"].sum()
            and abs(float(ours["probabilities"].list.get(1).sum()) - float(theirs["probabilities"].list.get(1).sum()))
            <= 1e-3 * ours.height)
    spark.stop()
    return {"seconds": 0.0, "runs_s": times, "median_s": {n: statistics.median(t) for n, t in times.items()},
            "paired_ratio": statistics.median(a / b for a, b in zip(times["lakeml_spark"], times["pyspark"],
                                                                     strict=True)),
            "same_result": bool(same), "rows": ours.height}


def spark_lakeml_report(results: dict[str, dict[str, Any]], rows: int, reps: int) -> None:
    """``benchmarks/results/scoring_spark.{json,md}``: the Spark rows and their 1.10x target."""
    table = [[model, r["median_s"]["pyspark"], r["median_s"]["lakeml_spark"], f"{r['paired_ratio']:.3f}x",
              "yes" if r["paired_ratio"] <= 1.10 else "NO", "equal" if r["same_result"] else "DIFFERENT"]
             for model, r in results.items()]
    text = "\n".join([
        f"## Batch scoring on Spark, {rows:,} rows x {N_FEATURES} float features (local[2], medians of {reps} "
        "warm reps)", "",
        markdown_table(["model", "pyspark job s", "lakeml spark score s", "lakeml / pyspark (paired)", "<= 1.10x",
                        "results"], table), "",
        "Raw PySpark: read Parquet, mapInArrow with one ONNX Runtime session per worker, write Parquet. lakeml: "
        "`lake.score(model, spark_frame, table)` on the same session (binding on the driver, the same executor "
        "as Polars in the workers, files committed by the lake's log). Interleaved rep by rep; the ratio is the "
        "median of per-rep ratios.",
        f"Machine load (1-min average) at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; the machine "
        "is shared."])
    print(text)
    write_results("scoring_spark", {"rows": rows, "reps": reps, "models": results}, text)


CHILDREN = {"setup": child_setup, "lakeml": child_lakeml, "io": child_io, "ort": child_ort,
            "native": child_native, "spark": child_spark, "spark_lakeml": child_spark_lakeml, "warm": child_warm,
            "kernels": child_kernels, "polars_ort": child_polars_ort}


# ---- parent ---------------------------------------------------------------------------------------
def run_config(kind: str, model: str, data: Path, work: Path) -> dict[str, Any]:
    res = run_child([sys.executable, __file__, "--child", kind, "--model", model, "--data", str(data),
                     "--work", str(work)])
    if res.returncode != 0:
        raise RuntimeError(f"{kind}/{model} failed:\n{res.stderr[-3000:]}")
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {**out, "process_s": res.seconds, "peak_rss_mib": out["rss_mib"]}


def med(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--big-rows", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--skip-spark", action="store_true")
    parser.add_argument("--skip-big", action="store_true")
    parser.add_argument("--spark-lakeml", action="store_true",
                        help="only the lakeml backend='spark' vs raw PySpark rows (scoring_spark results)")
    parser.add_argument("--child", choices=sorted(CHILDREN))
    parser.add_argument("--model")
    parser.add_argument("--data")
    parser.add_argument("--work")
    args = parser.parse_args()
    if args.child:
        out = CHILDREN[args.child](args.model, Path(args.data), Path(args.work))
        out.setdefault("rss_mib", vm_hwm_mib())
        print(json.dumps(out))
        return

    work = DATA_DIR / "scoring"
    work.mkdir(parents=True, exist_ok=True)
    kernel_env(work)
    data = work / f"features_{args.rows}.parquet"
    setup = run_child([sys.executable, __file__, "--child", "setup", "--model", "-", "--data", str(data),
                       "--work", str(work)])
    if setup.returncode != 0:
        raise RuntimeError(setup.stderr[-3000:])
    models = [m for m in args.models.split(",") if m]
    if args.spark_lakeml:
        results = {m: run_config("spark_lakeml", m, data, work) for m in models}
        spark_lakeml_report(results, args.rows, len(next(iter(results.values()))["runs_s"]["pyspark"]))
        return
    warm = {m: run_config("warm", m, data, work) for m in models}
    for m, w in warm.items():
        print(f"warm {m:9s} {w['seconds']:.1f}s {w['kind']} ({w['reason']})", flush=True)
    kinds = ["lakeml", "io", "native", "kernels", "polars_ort"] + ([] if args.skip_spark else ["spark"])
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    load_before = os.getloadavg()[0]
    for rep in range(args.reps):  # interleaved: every configuration once per repetition
        for model in models:
            for kind in kinds:
                runs.setdefault((model, kind), []).append(run_config(kind, model, data, work))
                print(f"rep {rep + 1} {model:9s} {kind:7s} {runs[(model, kind)][-1]['seconds']:.3f}s", flush=True)

    rows, summary = [], {}
    for model in models:
        r = {k: runs[(model, k)] for k in kinds}
        a, io_s, ort_s = med(r["lakeml"], "seconds"), med(r["io"], "seconds"), med(r["kernels"], "ort_mem_s")
        # like with like: native is timed with its own write (lakeml's score time includes its write);
        # Spark's job (read, score, write) beside lakeml's score call, Spark's process beside lakeml's
        nat, nat_predict = med(r["native"], "seconds"), med(r["native"], "predict_s")
        lake_proc = med(r["lakeml"], "process_s")
        entry: dict[str, Any] = {
            "lakeml_s": a, "io_s": io_s, "ort_s": ort_s, "limit_s": io_s + ort_s, "native_s": nat,
            "native_predict_s": nat_predict, "lakeml_over_limit": a / (io_s + ort_s), "native_over_lakeml": nat / a,
            "lakeml_process_s": lake_proc,
            "peak_rss_mib": {k: med(r[k], "peak_rss_mib") for k in kinds},
        }
        if "spark" in r:
            entry.update(spark_process_s=med(r["spark"], "process_s"), spark_job_s=med(r["spark"], "seconds"),
                         spark_session_s=med(r["spark"], "session_s"))
            entry["spark_job_over_lakeml_score"] = entry["spark_job_s"] / a
            entry["spark_process_over_lakeml_process"] = entry["spark_process_s"] / lake_proc
        entry["kernels"] = kernel_summary(model, r, a, io_s)
        summary[model] = entry
        rows.append([model, a, lake_proc, io_s, ort_s, io_s + ort_s, f"{entry['lakeml_over_limit']:.2f}x", nat,
                     nat_predict, f"{entry['native_over_lakeml']:.2f}x",
                     entry.get("spark_job_s", "-"),
                     f"{entry['spark_job_over_lakeml_score']:.1f}x" if "spark" in r else "-",
                     entry.get("spark_process_s", "-"),
                     f"{entry['spark_process_over_lakeml_process']:.1f}x" if "spark" in r else "-",
                     " / ".join(f"{entry['peak_rss_mib'][k]:.0f}" for k in kinds if k != "kernels")])
    headers = ["model", "lakeml score s", "lakeml process s", "io s", "ort s", "limit s", "lakeml/limit",
               "native s (read+predict+write)", "native read+predict s", "native/lakeml", "spark job s",
               "spark job / lakeml score", "spark process s", "spark process / lakeml process",
               f"peak RSS MiB ({' / '.join(k for k in kinds if k != 'kernels')})"]
    md = [f"## Batch scoring, {args.rows:,} rows x {N_FEATURES} float features (medians of {args.reps})", "",
          markdown_table(headers, rows), ""]
    md += kernel_table(models, summary, warm)

    big: dict[str, Any] = {}
    if not args.skip_big:
        big_data = work / f"features_{args.big_rows}.parquet"
        run_child([sys.executable, __file__, "--child", "setup", "--model", "-", "--data", str(big_data),
                   "--work", str(work)])
        big_run = run_config("lakeml", "logreg", big_data, work)
        small_rss = med(runs[("logreg", "lakeml")], "peak_rss_mib")
        big = {"rows": args.big_rows, "seconds": big_run["seconds"], "peak_rss_mib": big_run["peak_rss_mib"],
               "peak_rss_1m_mib": small_rss, "ratio": big_run["peak_rss_mib"] / small_rss}
        md += [f"## Memory: lakeml score, logreg, {args.big_rows:,} rows vs {args.rows:,}", "",
               markdown_table(["rows", "seconds", "peak RSS MiB", "peak RSS at 1M MiB", "ratio"],
                              [[args.big_rows, big["seconds"], big["peak_rss_mib"], small_rss,
                                f"{big['ratio']:.2f}x"]]), ""]
    md += ["Targets: lakeml/limit <= 1.10; native/lakeml > 1 for every model; spark/lakeml >= 5 at 1M rows "
           "(job beside score call, process beside process); peak RSS at 10M <= 1.2x that at 1M.",
           "limit = io + ort (read+write with no model, plus ONNX Runtime alone on in-memory numpy). "
           "native s = pandas read + predict_proba + pandas write, like lakeml's score, which writes its "
           "result. process s = the whole child process (interpreter start, imports, Spark session). "
           "Spark is local[2]."]
    md.append(f"Machine load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} "
              f"on {os.cpu_count()} cores; timings inflate with it (ratios within one run stay comparable).")
    text = "\n".join(md)
    print(text)
    write_results("scoring", {"rows": args.rows, "reps": args.reps, "summary": summary, "big": big, "warm": warm,
                              "runs": {f"{m}/{k}": v for (m, k), v in runs.items()}}, text)


if __name__ == "__main__":
    main()
