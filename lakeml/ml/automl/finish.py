"""After the search: ensemble choice, final refit (killable), ONNX export, parity proof, run tables."""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from lakeml.errors import LakeMLError, TrainingError
from lakeml.ml.automl import ensemble as ens
from lakeml.ml.automl.data import PreparedData
from lakeml.ml.automl.engine import Clock, TrialRecord
from lakeml.ml.automl.result import AutoMLResult
from lakeml.ml.automl.trial import refit, validation_rows
from lakeml.ml.automl.workers import Job, TrialExecutor
from lakeml.ml.families import idle_cores
from lakeml.ml.guardrails import guardrails_frame
from lakeml.ml.importance import column_importances
from lakeml.ml.metrics import compute_metrics
from lakeml.ml.onnx_export import to_onnx
from lakeml.ml.parity import check_parity
from lakeml.ml.runs import new_run_id, write_run_table

if TYPE_CHECKING:
    from lakeml.registry.context import ModelsContext

#: Rows of validation data the ONNX parity check scores.
PARITY_ROWS = 20_000
#: Best distinct trials considered for the voting ensemble.
ENSEMBLE_CANDIDATES = 6
#: Grace beyond the budget the final refit may use before it is killed: none, the 5% + 2 s slack of
#: the budget contract is for process start-up, registration and exit around the call.
REFIT_GRACE = 0.0
#: Share of a core's speed each further core adds to a refit (tree fitting does not scale perfectly).
CORE_SPEEDUP = 0.3


def _ranked(records: list[TrialRecord], greater: bool) -> list[TrialRecord]:
    ok = [r for r in records if r.status == "ok" and r.score is not None]
    return sorted(ok, key=lambda r: (-(r.score or 0.0) if greater else (r.score or 0.0), r.trial_id))


def refit_estimate(rec: TrialRecord, data: PreparedData, n_jobs: int = 1, rows: int | None = None) -> float:
    """Seconds a refit of ``rec``'s configuration on ``rows`` rows (default: all) should take.

    Scaled from the trial's own time per fold and its sample size; ``n_jobs`` cores speed it up.
    """
    sample = rec.sample or max(len(t) for t, _ in data.folds)
    rows = data.n_rows if rows is None else rows
    speedup = 1.0 + CORE_SPEEDUP * (max(1, n_jobs) - 1)
    return rec.seconds / len(data.folds) * rows / max(sample, 1) / speedup


#: Safety factor on a refit's estimated time (a killed refit wastes all the time it had).
REFIT_SAFETY = 2.0


def refit_rows(rec: TrialRecord, data: PreparedData, n_jobs: int, seconds: float) -> int | None:
    """The rows the final refit can use within ``seconds``: None for all rows, 0 when a refit would
    not reach twice the trial's own sample (its fitted model is then the better use of the time)."""
    if REFIT_SAFETY * refit_estimate(rec, data, n_jobs) <= seconds:
        return None
    per_row = refit_estimate(rec, data, n_jobs, rows=1)
    rows = int(seconds / REFIT_SAFETY / max(per_row, 1e-12))
    sample = rec.sample or data.n_rows
    return rows if rows >= min(2 * sample, data.n_rows) else 0




def _fast_scorer(metric: str, data: PreparedData, y_valid: np.ndarray) -> Callable[[np.ndarray], float] | None:
    """The primary metric alone, for the defaults whose definition is one line (as in lakeml.ml.metrics)."""
    if metric == "rmse":
        return lambda pred: float(np.sqrt(np.mean((y_valid - pred) ** 2)))
    if metric == "log_loss" and data.classes is not None:
        classes = np.asarray(data.classes)
        order = np.argsort(classes, kind="stable")
        true_idx = order[np.clip(np.searchsorted(classes[order], y_valid), 0, len(classes) - 1)]
        if not np.array_equal(classes[true_idx], y_valid):
            return None

        def log_loss(proba: np.ndarray) -> float:
            clipped = np.clip(proba, 1e-15, 1.0)
            clipped = clipped / clipped.sum(axis=1, keepdims=True)
            return float(-np.mean(np.log(clipped[np.arange(len(true_idx)), true_idx])))

        return log_loss
    return None


def _try_ensemble(data: PreparedData, ranked: list[TrialRecord], metric: str, greater: bool
                  ) -> ens.EnsemblePlan | None:
    seen: set[str] = set()
    candidates: list[tuple[int, np.ndarray]] = []
    for rec in ranked:
        key = json.dumps([rec.family, rec.params], sort_keys=True, default=str)
        if key in seen or rec.predictions is None:
            continue
        seen.add(key)
        candidates.append((rec.trial_id, rec.predictions))
        if len(candidates) >= ENSEMBLE_CANDIDATES:
            break
    y_valid = data.y[validation_rows(data.payload())]

    def score(pred: np.ndarray) -> float:
        return float(compute_metrics(data.task, y_valid, pred, data.classes)[metric])

    # The selection scores ~90 blends: with every metric computed each time (a multi-class AUC
    # among them) that took seconds on a loaded machine; the plan's own score is the full one.
    plan = ens.select(candidates, _fast_scorer(metric, data, y_valid) or score, greater_is_better=greater)
    if plan is not None:
        preds = dict(candidates)
        blend = np.zeros_like(candidates[0][1], dtype=np.float64)
        for tid, w in zip(plan.trial_ids, plan.weights, strict=True):
            blend += w * preds[tid]
        plan = dataclasses.replace(plan, score=score(blend / sum(plan.weights)))
    best = ranked[0].score or 0.0
    if plan is None or not (plan.score > best + 1e-6 if greater else plan.score < best - 1e-6):
        return None
    return plan


def _run_refit(pool: TrialExecutor, members: list[tuple[str, dict[str, Any]]], weights: list[float] | None,
               deadline: float, *, rows: int | None = None, n_jobs: int = 1) -> tuple[Any, str | None]:
    """Refit in a worker; returns ``(model, None)``, or ``(None, reason)`` when it failed or ran out of time."""
    pool.respawn = True
    pool.submit(Job(-1, refit, {"members": members, "weights": weights, "rows": rows, "n_jobs": n_jobs}, deadline))
    pool.respawn = False
    while True:
        for result in pool.poll(timeout=0.5):
            if result.value is not None:
                return result.value[0], None
            if result.timed_out:
                return None, "time budget"
            return None, (result.error or "worker died").strip().splitlines()[-1]


def _final_model(pool: TrialExecutor, data: PreparedData, chosen: list[TrialRecord], weights: list[float] | None,
                 best: TrialRecord, clock: Clock, deadline: float, export_reserve: float,
                 notes: list[str], n_jobs: int = 1) -> tuple[Any, str | None]:
    """Refit ``chosen`` on all rows (or as many as time allows), or use the best trial's own fold model."""
    fallback = best.model if len(chosen) == 1 else None
    note = ("no time left to refit on all rows: the final model is the best trial's model, trained on its "
            "training rows only")
    rows: int | None = None
    if len(chosen) == 1:
        rows = refit_rows(best, data, n_jobs, deadline - time.monotonic())
        if rows == 0 and fallback is not None:
            notes.append(note)
            return fallback, None
        if rows == 0:
            rows = min(best.sample or data.n_rows, data.n_rows)
        if rows is not None and rows < data.n_rows:
            notes.append(f"the final model is refit on {rows:,} sampled rows of {data.n_rows:,} (the time left)")
        else:
            rows = None
    model, why = _run_refit(pool, [(r.family, r.params) for r in chosen], weights, deadline, rows=rows,
                            n_jobs=n_jobs)
    if model is None and fallback is not None:
        notes.append(f"{note} (the refit failed: {why})")
        return fallback, None
    return model, why


def finish(lake: ModelsContext, data: PreparedData, records: list[TrialRecord], pool: TrialExecutor, clock: Clock, *,
           metric: str, greater: bool, ensemble: bool, seed: int, stop_reason: str, deterministic: bool,
           settings: dict[str, Any], timings: dict[str, float]) -> AutoMLResult:
    """Pick the final model (single or ensemble), refit it, export and prove it, write the run tables."""
    notes = list(data.notes)
    # The refit runs alone: it may use every core the run was given that is idle (see idle_cores).
    n_jobs = min(int(settings.get("n_jobs") or 1), idle_cores())
    ranked = _ranked(records, greater)
    best = ranked[0]
    chosen: list[TrialRecord] = [best]
    weights: list[float] | None = None
    plan = _try_ensemble(data, ranked, metric, greater) if ensemble else None
    if plan is not None:
        members = [next(r for r in ranked if r.trial_id == t) for t in plan.trial_ids]
        cost = sum(refit_estimate(m, data, n_jobs) for m in members)
        if cost * 1.5 + 2.0 < clock.remaining():
            chosen, weights = members, list(plan.weights)
        else:
            notes.append("ensemble skipped: not enough time left to refit its members")
    timings["search"] = clock.elapsed() - sum(timings.values())
    export_reserve = 1.0 + data.n_rows * 2e-6
    refit_deadline = clock.deadline - export_reserve + REFIT_GRACE * (clock.budget or 0.0)
    # An ensemble refit must leave time for the single best model's refit, should it fail.
    first_deadline = (refit_deadline if len(chosen) == 1
                      else refit_deadline - 1.5 * refit_estimate(best, data, n_jobs) - 0.5)
    model, why = _final_model(pool, data, chosen, weights, best, clock, first_deadline, export_reserve, notes,
                              n_jobs)
    if model is None and len(chosen) > 1:
        notes.append(f"ensemble refit failed ({why}); fell back to the best single model")
        chosen, weights = [best], None
        model, why = _final_model(pool, data, chosen, None, best, clock, refit_deadline, export_reserve,
                                  notes, n_jobs)
    if model is None:
        spare = next((r for r in ranked if r.model is not None), None)
        if spare is not None:  # the best fitted model we hold, rather than no model at all
            notes.append(f"the refit of trial {best.trial_id} failed ({why}); the final model is trial "
                         f"{spare.trial_id}'s, trained on its training rows only")
            best, chosen, weights, model = spare, [spare], None, spare.model
    if model is None:
        raise TrainingError(
            f"The final refit of the best model ({best.family}) failed: {why}.",
            hint="Increase [[time_budget|--budget]], or train on fewer rows ([[max_rows=100000|--data "
                 "'SELECT * FROM t LIMIT 100000']]).")
    sample = data.frame.select(data.plan.inputs).head(5)
    rows = validation_rows(data.payload())[:PARITY_ROWS]
    timings["refit"] = clock.elapsed() - sum(timings.values())
    try:
        onnx_bytes, parity = _export(model, sample, data, rows)
    except LakeMLError as exc:
        if len(chosen) == 1:
            raise
        onnx_bytes, parity = b"", None
        notes.append(f"ensemble export failed ({exc.message})")
    timings["export_parity"] = clock.elapsed() - sum(timings.values())
    if len(chosen) > 1 and not getattr(parity, "passed", False):
        notes.append("ensemble did not pass the ONNX parity check; fell back to the best single model")
        chosen, weights = [best], None
        model, why = _final_model(pool, data, chosen, None, best, clock, refit_deadline, export_reserve,
                                  notes, n_jobs)
        if model is None:
            raise TrainingError(f"The final refit of the best model failed: {why}.",
                                hint="Increase [[time_budget|--budget]].")
        onnx_bytes, parity = _export(model, sample, data, rows)
    is_ens = len(chosen) > 1
    family = "ensemble" if is_ens else best.family
    score = best.score if not is_ens else (plan.score if plan else best.score)
    metrics = dict(best.metrics)
    ens_info: list[dict[str, Any]] = []
    if is_ens and plan is not None:
        y_valid = data.y[validation_rows(data.payload())]
        combo = np.zeros_like(best.predictions, dtype=np.float64)
        for w, r in zip(plan.weights, chosen, strict=True):
            assert r.predictions is not None
            combo += w * r.predictions
        combo /= sum(plan.weights)
        metrics = {k: float(v) for k, v in compute_metrics(data.task, y_valid, combo, data.classes).items()}
        ens_info = [{"trial_id": r.trial_id, "family": r.family, "weight": w}
                    for r, w in zip(chosen, plan.weights, strict=True)]
    try:
        importances = column_importances(model)
    except (LakeMLError, ValueError, AttributeError, IndexError) as exc:
        notes.append(f"feature importances unavailable: {exc}")
        importances = pl.DataFrame(schema={"column": pl.String, "importance": pl.Float64})
    run_id = new_run_id()
    result = AutoMLResult(
        lake=lake, run_id=run_id, task=data.task, metric=metric, greater_is_better=greater,
        leaderboard=pl.DataFrame(), trials=pl.DataFrame(), guardrails=data.guardrails,
        best_family=family, best_params={} if is_ens else dict(best.params),
        best_trial_id=None if is_ens else best.trial_id, best_score=float(score or 0.0), metrics=metrics,
        pipeline=model, onnx_bytes=onnx_bytes, parity=parity, feature_importances=importances,
        plan=data.plan, lineage=data.lineage, seed=seed, time_budget_s=clock.budget,
        deterministic=deterministic, stop_reason=stop_reason, ensemble=ens_info, notes=notes)
    result.trials = trials_frame(records)
    result.leaderboard = leaderboard_frame(records, greater)
    result.timings = timings
    _write_tables(lake, result, settings, clock)
    timings["write_tables"] = clock.elapsed() - sum(timings.values())
    return result


def _export(model: Any, sample: pl.DataFrame, data: PreparedData, rows: np.ndarray) -> tuple[bytes, Any]:
    onnx_bytes = to_onnx(model, sample=sample)
    parity = check_parity(model, onnx_bytes, data.X.iloc[rows], data.task)
    return onnx_bytes, parity


#: How the leaderboard names trial statuses.
STATUS_TEXT = {"ok": "finished", "stopped": "stopped at deadline", "failed": "failed"}


def trials_frame(records: list[TrialRecord]) -> pl.DataFrame:
    """Every trial: id, family, status, score, all metrics, sample rows, fit time, start, params, error."""
    metric_names = sorted({m for r in records for m in r.metrics})
    rows = []
    for r in records:
        row: dict[str, Any] = {
            "trial_id": r.trial_id, "family": r.family, "status": STATUS_TEXT.get(r.status, r.status),
            "score": r.score, "sample_rows": r.sample, "kind": r.kind, "fit_time_s": round(r.seconds, 4),
            "started_s": round(r.started_s, 3), "params": json.dumps(r.params, sort_keys=True, default=str),
            "error": r.error}
        for m in metric_names:
            value = r.metrics.get(m)
            row[m] = None if value is None or not math.isfinite(value) else value
        rows.append(row)
    schema: dict[str, Any] = {"trial_id": pl.Int64, "family": pl.String, "status": pl.String,
                              "score": pl.Float64, "sample_rows": pl.Int64, "kind": pl.String,
                              "fit_time_s": pl.Float64, "started_s": pl.Float64, "params": pl.String,
                              "error": pl.String, **dict.fromkeys(metric_names, pl.Float64)}
    return pl.DataFrame(rows, schema=schema)


def leaderboard_frame(records: list[TrialRecord], greater: bool) -> pl.DataFrame:
    """Every trial, finished ones first ranked by the primary score (rank 1 is best; ties keep trial order),
    then those stopped at their deadline or failed (rank null, with the reason in ``error``)."""
    frame = trials_frame(records)
    done = frame.filter(pl.col("status") == STATUS_TEXT["ok"]).sort(["score", "trial_id"],
                                                                    descending=[greater, False])
    done = done.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int64))
    rest = frame.filter(pl.col("status") != STATUS_TEXT["ok"]).sort("trial_id")
    rest = rest.with_columns(pl.lit(None, dtype=pl.Int64).alias("rank")).select(done.columns)
    return pl.concat([done, rest])


def _write_tables(lake: ModelsContext, result: AutoMLResult, settings: dict[str, Any], clock: Clock) -> None:
    write_run_table(lake, result.run_id, "trials", result.trials)
    write_run_table(lake, result.run_id, "leaderboard", result.leaderboard)
    write_run_table(lake, result.run_id, "guardrails", guardrails_frame(result.guardrails))
    write_run_table(lake, result.run_id, "importances", result.feature_importances)
    result.wall_time_s = clock.elapsed()
    budget = clock.budget
    result.overrun_s = max(0.0, result.wall_time_s - budget) if budget is not None else 0.0
    parity = result.parity
    run = pl.DataFrame([{
        "started_at": datetime.fromtimestamp(time.time() - result.wall_time_s, UTC).isoformat(timespec="seconds"),
        "source": str(result.lineage.get("source")), "rows": int(result.lineage.get("rows", 0)),
        "task": result.task, "target": str(result.lineage.get("target")), "metric": result.metric,
        "best_family": result.best_family, "best_trial_id": result.best_trial_id,
        "best_score": result.best_score, "n_trials": result.trials.height,
        "n_ok": int((result.trials["status"] == STATUS_TEXT["ok"]).sum()), "wall_time_s": round(result.wall_time_s, 3),
        "time_budget_s": None if budget is None else float(budget), "overrun_s": round(result.overrun_s, 3),
        "max_trials": settings.get("max_trials"), "seed": result.seed, "n_jobs": settings.get("n_jobs"),
        "executor": settings.get("executor", "processes"),
        "families": ",".join(settings.get("families", [])), "stop_reason": result.stop_reason,
        "deterministic": result.deterministic,
        "parity_passed": bool(getattr(parity, "passed", False)),
        "parity_max_abs_diff": float(getattr(parity, "max_abs_diff", float("nan"))),
        "notes": "; ".join(result.notes), "registered_model": None,
    }], schema_overrides={"best_trial_id": pl.Int64, "time_budget_s": pl.Float64, "max_trials": pl.Int64,
                          "registered_model": pl.String})
    write_run_table(lake, result.run_id, "run", run)
    # Table writes are inside the budget; record the final wall time in the returned result.
    result.wall_time_s = clock.elapsed()
    result.overrun_s = max(0.0, result.wall_time_s - budget) if budget is not None else 0.0
