"""lakeml AutoML vs FLAML, side by side: same data, splits, budget, seeds and n_jobs=2.

Protocol: five development datasets (breast_cancer AUC, digits log
loss, diabetes RMSE, penguins log loss, flights AUC with schedule-time features only). For each
budget, dataset and split, each tool runs in its own child process (so its memory is its own) on
the same 75/25 train/test split; the test metric is computed here from the tool's best model.
Reported: test metric (mean and standard deviation over splits), the paired difference lakeml -
FLAML per split (mean and standard deviation), "ok" when lakeml's mean is at least FLAML's mean,
wall time of the call and of the whole child process vs the budget (overrun %), peak memory,
trials, lakeml's ONNX parity, and a deterministic rerun (lakeml, ``max_trials`` + seed, twice).
The results files are rewritten after every run, so an interrupted run leaves partial results.

Usage::

    python benchmarks/bench_automl.py                     # 3 splits x budgets 30 s and 60 s (~1 h)
    python benchmarks/bench_automl.py --quick             # 1 split x 15 s, no rerun (development)
    python benchmarks/bench_automl.py --budgets 60 --splits 3 --datasets breast_cancer digits

Needs the ``bench`` extra (``pip install 'lakeml[bench]'``: flaml, xgboost-cpu, palmerpenguins).
Memory is the peak of the summed PSS of the tool's whole process tree (lakeml's zygote and forked
workers included), sampled every 0.2 s; ``peak_rss_mib`` in the JSON is ``run_child``'s wait4 figure.
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

DATASETS = {  # name -> (task, metric, greater_is_better)
    "breast_cancer": ("classification", "auc", True),
    "digits": ("classification", "log_loss", False),
    "diabetes": ("regression", "rmse", False),
    "penguins": ("classification", "log_loss", False),
    "flights": ("classification", "auc", True),
}
FLAML_METRIC = {"auc": "roc_auc", "log_loss": "log_loss", "rmse": "rmse"}


def load(name: str) -> tuple[Any, str]:
    """The dataset as a Polars frame and the target column name."""
    import polars as pl
    from sklearn import datasets

    if name in ("breast_cancer", "digits", "diabetes"):
        loader = {"breast_cancer": datasets.load_breast_cancer, "digits": datasets.load_digits,
                  "diabetes": datasets.load_diabetes}[name]
        bunch = loader(as_frame=True)
        frame = pl.from_pandas(bunch.frame)
        # lakeml's ONNX input names must be plain identifiers today (see the report).
        return frame.rename({c: c.replace(" ", "_") for c in frame.columns}), "target"
    if name == "penguins":
        import palmerpenguins

        frame = pl.from_pandas(palmerpenguins.load_penguins().astype({"species": str, "island": str}))
        return frame.with_columns(pl.col("sex").cast(pl.String)), "species"
    return flights_frame(), "late"


def split(frame: Any, target: str, task: str, seed: int) -> tuple[Any, Any]:
    """A 75/25 train/test split (stratified for classification), the same for both tools."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    idx = np.arange(frame.height)
    strat = frame[target].to_numpy() if task == "classification" else None
    train, test = train_test_split(idx, test_size=0.25, random_state=seed, stratify=strat)
    return frame[np.sort(train)], frame[np.sort(test)]


def test_metric(metric: str, y: Any, pred: Any, classes: Any = None) -> float:
    """The benchmark's test metric from probabilities (classification) or predictions."""
    import numpy as np
    from sklearn import metrics as skm

    if metric == "auc":
        return float(skm.roc_auc_score(y, np.asarray(pred)[:, 1]))
    if metric == "log_loss":
        return float(skm.log_loss(y, pred, labels=classes))
    return float(np.sqrt(skm.mean_squared_error(y, pred)))


def track_memory() -> tuple[list[float], Any]:
    """Sample the summed PSS of this process and all its descendants every 0.2 s (in a thread).

    PSS splits shared pages between the processes sharing them, so lakeml's forked workers (which
    share the training data with their parent copy-on-write) are not double-counted, and FLAML's
    single process is measured the same way. Returns ``([peak MiB], stop event)``.
    """
    import threading

    import psutil

    me, peak, stop = psutil.Process(), [0.0], threading.Event()

    def loop() -> None:
        while not stop.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    total += proc.memory_full_info().pss
                except (psutil.Error, AttributeError):
                    continue
            peak[0] = max(peak[0], total / 2**20)
            stop.wait(0.2)

    threading.Thread(target=loop, daemon=True).start()
    return peak, stop


def child(tool: str, dataset: str, seed: int, budget: float, out: str) -> None:
    """Run one tool on one split and write its result JSON to ``out``."""
    import numpy as np

    loaded = time.perf_counter()
    task, metric, _ = DATASETS[dataset]
    frame, target = load(dataset)
    train, test = split(frame, target, task, seed)
    result: dict[str, Any] = {"tool": tool, "dataset": dataset, "seed": seed, "budget_s": budget,
                              "load_s": time.perf_counter() - loaded}
    peak, stop = track_memory()
    if tool == "lakeml":
        import lakeml
        import lakeml.ml.automl.data
        import lakeml.ml.automl.engine
        import lakeml.ml.automl.finish  # imported before the timer, like FLAML
        from lakeml.ml.featurize import to_pandas

        with tempfile.TemporaryDirectory() as tmp:
            lake = lakeml.connect(Path(tmp) / "lake")
            start = time.perf_counter()
            res = lake.automl(train, target=target, task=task, metric=metric, time_budget=budget, seed=seed,
                              n_jobs=2)
            res.register(f"bench_{dataset}")  # registration is inside the budget contract
            result["wall_s"] = time.perf_counter() - start
            x_test = to_pandas(test, res.plan)
            y_test = test[target].to_numpy()
            pred = res.pipeline.predict_proba(x_test) if task == "classification" else res.pipeline.predict(x_test)
            classes = list(res.pipeline.classes_) if task == "classification" else None
            result.update(test_metric=test_metric(metric, y_test, pred, classes), trials=res.trials.height,
                          best=res.best_family, parity_passed=bool(res.parity.passed),
                          parity_max_abs_diff=float(res.parity.max_abs_diff), internal_wall_s=res.wall_time_s,
                          stop_reason=res.stop_reason, timings=res.timings)
    elif tool == "lakeml-rerun":
        import lakeml

        with tempfile.TemporaryDirectory() as tmp:
            lake = lakeml.connect(Path(tmp) / "lake")
            boards = []
            for _ in range(2):
                res = lake.automl(train, target=target, task=task, metric=metric, time_budget=None, max_trials=8,
                                  seed=seed, n_jobs=2)
                boards.append(res.leaderboard.drop("fit_time_s", "started_s"))
            result.update(identical=bool(boards[0].equals(boards[1])), trials=boards[0].height)
    else:
        from flaml import AutoML

        x_train = train.drop(target).to_pandas()
        x_test = test.drop(target).to_pandas()
        for col in x_train.columns:
            if x_train[col].dtype.kind not in "biuf":
                x_train[col] = x_train[col].astype("category")
                x_test[col] = x_test[col].astype(x_train[col].dtype)
        y_train, y_test = train[target].to_numpy(), test[target].to_numpy()
        automl = AutoML()
        start = time.perf_counter()
        automl.fit(x_train, y_train, task=task, metric=FLAML_METRIC[metric], time_budget=budget, seed=seed,
                   n_jobs=2, verbose=0)
        result["wall_s"] = time.perf_counter() - start
        pred = automl.predict_proba(x_test) if task == "classification" else automl.predict(x_test)
        classes = list(automl.classes_) if task == "classification" else None
        result.update(test_metric=test_metric(metric, y_test, np.asarray(pred), classes),
                      trials=sum(getattr(automl, "_iter_per_learner", {}).values()) or len(automl.config_history),
                      best=automl.best_estimator)
    stop.set()
    result["peak_pss_mib"] = peak[0]
    Path(out).write_text(json.dumps(result, default=str))


def run(tool: str, dataset: str, seed: int, budget: float) -> dict[str, Any]:
    """Run :func:`child` in a fresh process; add its wall time and peak RSS."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    res = run_child([sys.executable, __file__, "--child", tool, dataset, str(seed), str(budget), out],
                    timeout=budget * 4 + 600)
    try:
        data: dict[str, Any] = json.loads(Path(out).read_text())
    except (OSError, json.JSONDecodeError):
        data = {"tool": tool, "dataset": dataset, "seed": seed, "error": res.stderr[-2000:]}
    data["process_s"] = res.seconds
    data["peak_rss_mib"] = res.peak_rss_bytes / 2**20
    Path(out).unlink(missing_ok=True)
    print(json.dumps({k: v for k, v in data.items() if k != "timings"}, default=str), flush=True)
    return data


def _better_or_equal(a: float, b: float, greater: bool) -> bool:
    return a >= b if greater else a <= b


def summarize(rows: list[dict[str, Any]], reruns: dict[str, Any], budgets: list[float]
              ) -> tuple[list[list[Any]], list[str]]:
    """One table row per budget and dataset (splits both tools finished), and the verdict lines."""
    table, verdicts = [], []
    for budget in budgets:
        for name, (_task, metric, greater) in DATASETS.items():
            got = {t: {r["seed"]: r for r in rows if r["dataset"] == name and r["tool"] == t
                       and r.get("budget_s") == budget and "test_metric" in r} for t in ("lakeml", "flaml")}
            seeds = sorted(set(got["lakeml"]) & set(got["flaml"]))
            if not seeds:
                continue

            def stats(vals: list[float]) -> tuple[float, float]:
                return statistics.mean(vals), statistics.stdev(vals) if len(vals) > 1 else 0.0

            lm, ls = stats([float(got["lakeml"][s]["test_metric"]) for s in seeds])
            fm, fs = stats([float(got["flaml"][s]["test_metric"]) for s in seeds])
            dm, ds = stats([float(got["lakeml"][s]["test_metric"]) - float(got["flaml"][s]["test_metric"])
                            for s in seeds])
            over = {t: max(0.0, max(got[t][s]["wall_s"] for s in seeds) / budget - 1) * 100 for t in got}
            proc_over = {t: max(0.0, max(got[t][s]["process_s"] - got[t][s].get("load_s", 0.0) for s in seeds)
                                / budget - 1) * 100 for t in got}
            ok = _better_or_equal(lm, fm, greater)
            parity = all(got["lakeml"][s].get("parity_passed") for s in seeds)
            rerun = reruns.get(name, {}).get("identical", "n/a")
            mem = {t: round(max(got[t][s].get("peak_pss_mib", 0.0) for s in seeds)) for t in got}
            table.append([name, metric, budget, len(seeds), f"{lm:.4f} ± {ls:.4f}", f"{fm:.4f} ± {fs:.4f}",
                          f"{dm:+.4f} ± {ds:.4f}", "yes" if ok else "NO",
                          f"{over['lakeml']:.1f}% / {over['flaml']:.1f}%",
                          f"{proc_over['lakeml']:.1f}% / {proc_over['flaml']:.1f}%",
                          f"{mem['lakeml']} / {mem['flaml']} ({mem['lakeml'] / max(mem['flaml'], 1):.2f}x)",
                          f"{round(statistics.mean(got['lakeml'][s]['trials'] for s in seeds))} / "
                          f"{round(statistics.mean(got['flaml'][s]['trials'] for s in seeds))}",
                          "pass" if parity else "FAIL", rerun])
            verdicts.append(f"{name} at {budget:g} s: lakeml {'matches or beats' if ok else 'LOSES TO'} FLAML "
                            f"({metric} {lm:.4f} vs {fm:.4f}; paired difference {dm:+.4f} ± {ds:.4f}).")
    return table, verdicts


HEADERS = ["dataset", "metric", "budget s", "splits", "lakeml test", "FLAML test", "paired diff (lakeml - FLAML)",
           "lakeml ok", "call overrun lakeml / FLAML", "process overrun lakeml / FLAML",
           "memory MiB lakeml / FLAML", "trials lakeml / FLAML", "ONNX parity", "rerun identical"]


def report(args: argparse.Namespace, rows: list[dict[str, Any]], reruns: dict[str, Any],
           load: dict[str, Any], complete: bool) -> str:
    """Write the results files (JSON and Markdown) and return the Markdown."""
    table, verdicts = summarize(rows, reruns, args.budgets)
    md = "\n".join([
        "# AutoML: lakeml vs FLAML", "",
        ("" if complete else "**PARTIAL RESULTS: the run did not finish; rows below are the splits that did.**\n"),
        f"Same splits (75/25, seeds 0..{args.splits - 1}), same budget, n_jobs=2. Test metric: mean ± "
        "standard deviation over splits; paired diff: lakeml minus FLAML on the same split (positive is "
        "better for AUC, negative for log loss and RMSE). 'lakeml ok': lakeml's mean at least as good as "
        "FLAML's mean. Call overrun: worst wall time of the AutoML call over the budget; process overrun: "
        "worst wall time of the whole child process minus the dataset loading (imports, the call, the "
        "test predictions, exit) over the budget. Memory: peak of the summed PSS of the tool's process "
        "tree (lakeml's forked workers included, shared pages not double-counted), sampled every 0.2 s. "
        "Rerun: lakeml with max_trials=8 and a seed, twice (flights: not run).", "",
        f"**The machine was shared** with 7 other engineers working at the same time (2 cores; load "
        f"average {load.get('start', '?')} at the start, {load.get('end', '?')} at the end), so absolute "
        "times are inflated and noisy; both tools ran under the same conditions, one after the other on "
        "each split.", "",
        markdown_table(HEADERS, table), "", *[f"- {v}" for v in verdicts]])
    write_results(args.name, {"rows": rows, "reruns": reruns, "table": table, "headers": HEADERS,
                              "load_average": load, "complete": complete,
                              "budgets": args.budgets, "splits": args.splits}, md)
    return md


def _load_average() -> str:
    import os

    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    """Parse arguments and run the benchmark (or one child run)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", nargs=5, metavar=("TOOL", "DATASET", "SEED", "BUDGET", "OUT"))
    parser.add_argument("--budgets", type=float, nargs="+", default=[30.0, 60.0])
    parser.add_argument("--splits", type=int, default=3)
    parser.add_argument("--datasets", nargs="*", default=list(DATASETS))
    parser.add_argument("--no-rerun", action="store_true")
    parser.add_argument("--quick", action="store_true", help="Development: 1 split, a 15 s budget, no rerun.")
    parser.add_argument("--name", default=None, help="Result file name under benchmarks/results/.")
    args = parser.parse_args()
    if args.child:
        tool, dataset, seed, budget, out = args.child
        child(tool, dataset, int(seed), float(budget), out)
        return
    if args.quick:
        args.splits, args.budgets, args.no_rerun = 1, [15.0], True
    args.name = args.name or ("bench_automl_quick" if args.quick else "bench_automl")
    rows: list[dict[str, Any]] = []
    reruns: dict[str, Any] = {}
    load = {"start": _load_average()}
    # Split by split over every dataset, so partial results (written after every pair of runs)
    # cover all datasets.
    for budget in args.budgets:
        for seed in range(args.splits):
            for name in args.datasets:
                for tool in ("lakeml", "flaml"):
                    rows.append(run(tool, name, seed, budget))
                report(args, rows, reruns, {**load, "end": _load_average()}, complete=False)
    if not args.no_rerun:
        for name in args.datasets:
            if name != "flights":
                reruns[name] = run("lakeml-rerun", name, 0, 0.0)
    print(report(args, rows, reruns, {**load, "end": _load_average()}, complete=True))


if __name__ == "__main__":
    main()
