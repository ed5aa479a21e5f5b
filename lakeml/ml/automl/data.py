"""Read and prepare AutoML input in the query layer: projection, sampling, checks, plan, folds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import polars as pl

from lakeml.errors import ColumnNotFoundError, choices_hint
from lakeml.ml.automl.trial import sample_order
from lakeml.ml.featurize import FeaturePlan, plan_features, to_pandas
from lakeml.ml.guardrails import Guardrail, compute_guardrails
from lakeml.ml.rows import canonical_order
from lakeml.ml.tasks import TargetInfo, check_target, prepare_target
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
    orders: list[np.ndarray]     # per fold: the sample order of its training positions (see sample_order)
    guardrails: list[Guardrail]  # filled by :func:`run_guardrails` (in a thread, while the search runs)
    lineage: dict[str, Any]
    seed: int
    notes: list[str]
    target_info: TargetInfo

    @property
    def n_rows(self) -> int:
        """Rows used for training."""
        return self.frame.height

    def payload(self) -> dict[str, Any]:
        """What every worker process loads (pickled once to a private temp file)."""
        return {"X": self.X, "y": self.y, "folds": self.folds, "orders": self.orders, "plan": self.plan,
                "task": self.task, "classes": self.classes, "seed": self.seed}


def describe_source(data: Any) -> str:
    """How the lineage names the input: the table name, the query text, or the frame type."""
    if isinstance(data, str):
        return data.strip()
    return f"<{type(data).__module__.split('.')[0]}.{type(data).__name__}>"


def _collect(lake: LakeContext[pl.LazyFrame], data: Any, target: str, seed: int, max_rows: int | None,
             notes: list[str]) -> tuple[pl.DataFrame, int]:
    lazy = lake.frame(data)
    if not isinstance(lazy, pl.LazyFrame):  # another engine's frame (Spark)
        return _collect_on_engine(lake, lazy, target, seed, max_rows, notes)
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
    frame = canonical_order(lazy.collect())  # the row order lake.train splits, on every engine
    dropped = total - frame.height
    if dropped and not notes:
        notes.append(f"dropped {dropped} rows with a null target")
    return frame, total


def _collect_on_engine(lake: LakeContext[Any], frame: Any, target: str, seed: int, max_rows: int | None,
                       notes: list[str]) -> tuple[pl.DataFrame, int]:
    """The rows of an engine's frame, through the engine Protocol: count, a seeded sample of at most
    ``max_rows`` rows (the engine's :meth:`~lakeml.engines.base.Engine.sample`), then the null
    targets dropped here."""
    engine = lake.engine
    names = engine.schema(frame).names
    if target not in names:
        raise ColumnNotFoundError(f"Target column '{target}' is not in the training data.",
                                  hint=choices_hint(target, names, kind="column"))
    # One job in the common case: at most max_rows + 1 rows tell whether there are more.
    table = engine.collect(frame if max_rows is None else engine.limit(frame, max_rows + 1))
    total = table.num_rows
    if max_rows is not None and total > max_rows:
        view = f"__lakeml_automl_{seed}"
        total = int(engine.collect(engine.sql(f"SELECT COUNT(*) AS n FROM {view}", frames={view: frame}))
                    .column(0)[0].as_py())
        table = engine.sample(frame, n=max_rows, seed=seed)
        notes.append(f"sampled {table.num_rows} of {total} rows (max_rows)")
    collected = pl.from_arrow(table)
    assert isinstance(collected, pl.DataFrame)
    not_null = pl.col(target).is_not_null()
    if collected.schema[target].is_float():
        not_null = not_null & pl.col(target).is_not_nan()
    kept = canonical_order(collected.filter(not_null))
    dropped = collected.height - kept.height
    if dropped and not notes:
        notes.append(f"dropped {dropped} rows with a null target")
    return kept, total


#: Training rows per fold of the first (cheapest) trials; samples then grow by SAMPLE_GROWTH.
FIRST_SAMPLE = 10_000
SAMPLE_GROWTH = 4


def sample_sizes(folds: list[tuple[np.ndarray, np.ndarray]]) -> list[int]:
    """The training-sample sizes the search climbs through, smallest first; the last is every row.

    Small tables (at most ``2 * FIRST_SAMPLE`` training rows per fold) are searched on all rows.
    """
    full = max(len(t) for t, _ in folds)
    sizes = []
    size = FIRST_SAMPLE
    while size * 2 <= full:
        sizes.append(size)
        size *= SAMPLE_GROWTH
    return [*sizes, full]


def run_guardrails(data: PreparedData) -> list[Guardrail]:
    """The data guardrails of the prepared rows (Polars queries: they run beside the search's workers)."""
    return compute_guardrails(data.frame.lazy(), target=data.plan.target,
                              task=data.task)  # type: ignore[arg-type]


def prepare(lake: LakeContext[pl.LazyFrame], data: Any, *, target: str, task: str | None, roles: dict[str, str] | None,
            seed: int, max_rows: int | None) -> PreparedData:
    """Read ``data``, check the target, infer the task, plan features, choose folds.

    Guardrails are not computed here: see :func:`run_guardrails`.

    Raises:
        ColumnNotFoundError: no such target column.
        TrainingError: empty data, constant or single-class target, unknown task.
    """
    notes: list[str] = []
    frame, total = _collect(lake, data, target, seed, max_rows, notes)
    info = check_target(frame, target, task)
    the_task = info.task
    plan = plan_features(frame, target, roles)
    y = prepare_target(frame.get_column(target), the_task)
    classes: list[Any] | None = None
    if the_task == "classification":
        classes = sorted(np.unique(y).tolist())
    X = to_pandas(frame, plan)
    folds = [(np.asarray(t), np.asarray(v)) for t, v in choose_validation(frame.height, the_task, y, seed)]
    orders = [sample_order(y[t], seed) for t, _ in folds]
    lineage = {"source": describe_source(data), "rows": frame.height, "source_rows": total,
               "fingerprint": data_fingerprint(frame), "target": target, "columns": frame.columns}
    return PreparedData(frame, X, y, the_task, classes, plan, folds, orders, [], lineage, seed, notes, info)
