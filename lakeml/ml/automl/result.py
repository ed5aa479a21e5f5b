"""The object :func:`lakeml.ml.automl.api.automl` returns: leaderboard, best model, proof, registration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from lakeml.errors import ModelError
from lakeml.ml.featurize import null_rules
from lakeml.ml.guardrails import Guardrail, guardrails_frame
from lakeml.registry.manifest import NULL_RULES_KEY

if TYPE_CHECKING:
    from lakeml.registry.context import ModelsContext


@dataclass
class AutoMLResult:
    """Everything an AutoML run produced.

    Attributes:
        run_id: where the run tables live (``_lakeml/runs/<run_id>/``).
        task, metric, greater_is_better: what was optimised.
        leaderboard: every trial: finished ones ranked by the metric, then those stopped at their
            deadline or failed (with the reason); family, status, sample rows, params, metrics, time.
        trials: every trial in trial order.
        guardrails: the data guardrail findings.
        best_family, best_params, best_trial_id: the winning configuration ("ensemble" for a voting
            ensemble, whose members are in ``ensemble``).
        best_score: its validation score; ``metrics``: all its validation metrics.
        pipeline: the fitted scikit-learn pipeline (featurizer + model), refit on all rows.
        onnx_bytes: the exported model; ``parity``: the ONNX-vs-native check on validation rows.
        feature_importances: frame ``feature``, ``importance`` (empty when not available).
        plan: the featurization plan; ``lineage``: source, row count, fingerprint.
        wall_time_s, time_budget_s, overrun_s: the budget as measured (overrun 0 when within).
        deterministic: True when the run is reproducible (trial budget + seed, not cut by time).
        stop_reason: why the search ended; ``notes``: what else happened (sampling, skipped ensemble).
        timings: seconds spent in prepare, search, refit, export_parity, write_tables.
    """

    lake: ModelsContext
    run_id: str
    task: str
    metric: str
    greater_is_better: bool
    leaderboard: pl.DataFrame
    trials: pl.DataFrame
    guardrails: list[Guardrail]
    best_family: str
    best_params: dict[str, Any]
    best_trial_id: int | None
    best_score: float
    metrics: dict[str, float]
    pipeline: Any
    onnx_bytes: bytes
    parity: Any
    feature_importances: pl.DataFrame
    plan: Any
    lineage: dict[str, Any]
    seed: int
    wall_time_s: float = 0.0
    time_budget_s: float | None = None
    overrun_s: float = 0.0
    deterministic: bool = False
    stop_reason: str = ""
    ensemble: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def guardrails_frame(self) -> pl.DataFrame:
        """The guardrail findings as a frame."""
        return guardrails_frame(self.guardrails)

    def manifest_extra(self) -> dict[str, Any]:
        """What goes into the registered model's manifest ``extra`` section."""
        parity = self.parity
        return {
            "automl": {
                "run_id": self.run_id, "task": self.task, "metric": self.metric,
                "family": self.best_family, "params": self.best_params, "trial_id": self.best_trial_id,
                "validation_score": self.best_score, "ensemble": self.ensemble, "seed": self.seed,
                "time_budget_s": self.time_budget_s, "wall_time_s": round(self.wall_time_s, 3),
                "trials": self.trials.height, "stop_reason": self.stop_reason,
            },
            "parity": parity.to_dict() if hasattr(parity, "to_dict") else dict(vars(parity)),
            "featurization": self.plan.summary(),
            NULL_RULES_KEY: null_rules(self.plan, self.pipeline.steps[0][1]),
            "guardrails": [g.to_dict() for g in self.guardrails],
            "feature_importances": self.feature_importances.head(50).to_dicts(),
        }

    def register(self, name: str, *, description: str | None = None) -> Any:
        """Register the best model (ONNX) with metrics, lineage, featurization, guardrails and parity.

        Returns:
            The registry's ``ModelVersion``.

        Raises:
            ModelError: the model failed the ONNX parity check, so it is not registered.
        """
        if not getattr(self.parity, "passed", False):
            raise ModelError(
                f"The best model of run {self.run_id} failed the ONNX parity check and is not registered.",
                hint="Rerun AutoML with [[blocked=['" + self.best_family + "']|--block " + self.best_family + "]] or "
                     "report the parity numbers "
                     "in the run's trials table.")
        desc = description or (f"AutoML {self.task} on {self.lineage.get('source', '?')}: {self.best_family}, "
                               f"validation {self.metric} {self.best_score:.4g}")
        version = self.lake.models.register(
            self.onnx_bytes, name=name, description=desc, metrics=self.metrics, lineage=self.lineage,
            tags={"automl_run": self.run_id, "family": self.best_family}, extra=self.manifest_extra(),
        )
        from lakeml.ml.runs import mark_registered

        mark_registered(self.lake, self.run_id, version.ref)
        return version

    def _repr_html_(self) -> str:
        from lakeml._html import card

        budget = f"{self.time_budget_s:g}s" if self.time_budget_s else "none"
        fields = [("task", self.task), ("best", f"{self.best_family} ({self.metric} {self.best_score:.5g})"),
                  ("trials", self.trials.height), ("stopped by", self.stop_reason),
                  ("wall time", f"{self.wall_time_s:.1f}s (budget {budget})"),
                  ("ONNX parity", "passed" if getattr(self.parity, "passed", False) else "FAILED"),
                  *(("note", n) for n in self.notes)]
        board = self.leaderboard.select([c for c in ("rank", "trial_id", "family", "status", "score", "sample_rows",
                                                              "fit_time_s", "params")
                                         if c in self.leaderboard.columns])
        return card(f"AutoML run {self.run_id}", fields,
                    [("leaderboard", board), ("guardrails", self.guardrails_frame.select("name", "status", "detail"))])

    def __repr__(self) -> str:
        return (f"AutoMLResult(run_id={self.run_id!r}, task={self.task!r}, best={self.best_family!r}, "
                f"{self.metric}={self.best_score:.4g}, trials={self.trials.height}, "
                f"wall={self.wall_time_s:.1f}s/budget={self.time_budget_s})")
