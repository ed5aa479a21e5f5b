"""Read and prepare AutoML input in the query layer: projection, sampling, checks, plan, folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import polars as pl

from lakeml.errors import ColumnNotFoundError, choices_hint
from lakeml.ml.featurize import FeaturePlan, plan_features, to_pandas
from lakeml.ml.guardrails import Guardrail, compute_guardrails
from lakeml.ml.tasks import check_target, prepare_target
from lakeml.ml.train import data_fingerprint
from lakeml.ml.validation import choose_validation

if TYPE_CHECKING:
    from lakeml.context import LakeContext


@dataclass
class PreparedData:
    """The collected training data and everything derived from it before the search starts."""

    frame: pl.DataFrame          # features + target, after sampling and dropping null targets
    X: pd.DataFrame              # featurizer input (plan's columns)
    y: np.ndarray
    task: str
    classes: list[Any] | None
    plan: FeaturePlan
    folds: list[tuple[np.ndarray, np.ndarray]]
    guardrails: list[Guardrail]
    lineage: dict[str, Any]
    seed: int
    notes: list[str]

    @property
    def n_rows(self) -> int:
        """Rows used for training."""
        return self.frame.height

    def payload(self) -> dict[str, Any]:
        """What every worker process loads (pickled once to a private temp file)."""
        return {"X": self.X, "y": self.y, "folds": self.folds, "plan": self.plan, "task": self.task,
                "classes": self.classes, "seed": self.seed}


def describe_source(data: Any) -> str:
    """How the lineage names the input: the table name, the query text, or the frame type."""
    if isinstance(data, str):
        return data.strip()
    return f"<{type(data).__module__.split('.')[0]}.{type(data).__name__}>"


def _collect(lake: LakeContext[pl.LazyFrame], data: Any, target: str, seed: int, max_rows: int | None,
             notes: list[str]) -> tuple[pl.DataFrame, int]:
    lazy = lake.frame(data)
    schema = lazy.collect_schema()  # engine errors are translated at the Lake boundary
    if target not in schema:
        raise ColumnNotFoundError(f"Target column '{target}' is not in the training data.",
                                  hint=choices_hint(target, schema.names(), kind="column"))
    total = int(lazy.select(pl.len()).collect().item())
    not_null = pl.col(target).is_not_null()
    if schema[target].is_float():
        not_null = not_null & pl.col(target).is_not_nan()
    lazy = lazy.filter(not_null)
    if max_rows is not None and total > max_rows:
        # Keep a reproducible pseudo-random share of rows, decided row by row in the query.
        keep = pl.int_range(pl.len(), dtype=pl.UInt64).hash(seed) % pl.lit(total, dtype=pl.UInt64) < max_rows
        lazy = lazy.filter(keep)
        notes.append(f"sampled about {max_rows} of {total} rows (max_rows)")
    frame = lazy.collect()
    dropped = total - frame.height
    if dropped and not notes:
        notes.append(f"dropped {dropped} rows with a null target")
    return frame, total


SEARCH_TRAIN_ROWS = 50_000


def search_folds(folds: list[tuple[np.ndarray, np.ndarray]], y: np.ndarray, *, seed: int, notes: list[str],
                 limit: int = SEARCH_TRAIN_ROWS) -> list[tuple[np.ndarray, np.ndarray]]:
    """Fit search trials on at most ``limit`` training rows per fold; validation rows stay whole.

    On large tables a trial on every training row leaves time for a handful of trials; ranking
    configurations on a seeded sample lets the search try many, and the winner is refit on all rows
    (the refit-time estimate scales with the row count, so the budget still holds).
    """
    out = []
    for train, valid in folds:
        if len(train) <= limit:
            out.append((train, valid))
            continue
        rng = np.random.default_rng(seed)
        picked = rng.choice(train, size=limit, replace=False)
        # keep every class the fold has, so a rare class is never lost to sampling
        missing = np.setdiff1d(np.unique(y[train]), np.unique(y[picked]))
        extra = [train[np.flatnonzero(y[train] == c)[0]] for c in missing]
        out.append((np.sort(np.concatenate([picked, np.asarray(extra, dtype=picked.dtype)])), valid))
    if any(len(t) != len(o) for (t, _), (o, _) in zip(out, folds, strict=True)):
        notes.append(f"search trials fit on {limit:,} sampled training rows per fold; the final model is "
                     "refit on all rows")
    return out


def prepare(lake: LakeContext[pl.LazyFrame], data: Any, *, target: str, task: str | None, roles: dict[str, str] | None,
            seed: int, max_rows: int | None) -> PreparedData:
    """Read ``data``, check the target, infer the task, plan features, run guardrails, choose folds.

    Raises:
        ColumnNotFoundError: no such target column.
        TrainingError: empty data, constant or single-class target, unknown task.
    """
    notes: list[str] = []
    frame, total = _collect(lake, data, target, seed, max_rows, notes)
    the_task = check_target(frame, target, task).task
    plan = plan_features(frame, target, roles)
    guardrails = compute_guardrails(frame.lazy(), target=target, task=the_task)  # type: ignore[arg-type]
    y = prepare_target(frame.get_column(target), the_task)
    classes: list[Any] | None = None
    if the_task == "classification":
        classes = sorted(np.unique(y).tolist())
    X = to_pandas(frame, plan)
    folds = [(np.asarray(t), np.asarray(v)) for t, v in choose_validation(frame.height, the_task, y, seed)]
    folds = search_folds(folds, y, seed=seed, notes=notes)
    lineage = {"source": describe_source(data), "rows": frame.height, "source_rows": total,
               "fingerprint": data_fingerprint(frame), "target": target, "columns": frame.columns}
    return PreparedData(frame, X, y, the_task, classes, plan, folds, guardrails, lineage, seed, notes)
