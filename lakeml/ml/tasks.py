"""Task inference and target checks.

``infer_task`` guesses classification or regression from the target's values;
``check_target`` turns the data problems that make training impossible (no such column, no
rows, a constant target, a single class) into :class:`~lakeml.errors.TrainingError` with hints;
``prepare_target`` gives the label array estimators get.

Example:
    >>> infer_task(pl.Series([0, 1, 1, 0]))
    'classification'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from lakeml.errors import ConfigError, TrainingError, choices_hint

MAX_CLASSES_FOR_INTEGERS = 20


def _integral(y: pl.Series) -> bool:
    if y.dtype.is_integer():
        return True
    if y.dtype.is_float():
        values = y.drop_nulls().drop_nans()
        return values.len() > 0 and bool((values == values.round(0)).all())
    return False


def infer_task(y: pl.Series | np.ndarray | list[object]) -> str:
    """Guess the task from target values.

    Text, boolean and categorical targets are classification; numbers are regression unless
    they are whole numbers with few distinct values (at most 20, and at most 5% of the rows,
    or just two values), which is classification.

    Example:
        >>> infer_task(pl.Series([1.5, 2.0, 3.25]))
        'regression'
    """
    if not isinstance(y, pl.Series):
        y = pl.Series("y", np.asarray(y).tolist() if isinstance(y, np.ndarray) and y.dtype == object else y)
    if y.dtype in (pl.String, pl.Boolean, pl.Categorical) or isinstance(y.dtype, pl.Enum):
        return "classification"
    if not y.dtype.is_numeric():
        return "classification"
    values = y.drop_nulls()
    if y.dtype.is_float():
        values = values.drop_nans()
    n_unique = values.n_unique()
    if _integral(values) and (n_unique <= 2 or (n_unique <= MAX_CLASSES_FOR_INTEGERS
                                                 and n_unique <= 0.05 * values.len())):
        return "classification"
    return "regression"


@dataclass(frozen=True)
class TargetInfo:
    """What the checks found: the task, usable rows, rows dropped for a null target, classes."""

    task: str
    n_rows: int
    n_null_dropped: int
    classes: tuple[str, ...] = ()
    class_counts: tuple[int, ...] = ()

    @property
    def minority_share(self) -> float:
        """Share of the rarest class (1.0 for regression)."""
        return min(self.class_counts) / sum(self.class_counts) if self.class_counts else 1.0


def check_target(frame: pl.DataFrame, target: str, task: str | None = None) -> TargetInfo:
    """Check that ``frame`` can train a model for ``target`` and settle the task.

    Rows with a null target are not usable (they are counted in ``n_null_dropped``; the caller
    filters them).

    Raises:
        TrainingError: missing target column, no rows, no non-null target, a constant target,
            a single class, or a regression target that is not numeric.
        ConfigError: an unknown ``task``.
    """
    if task is not None and task not in ("classification", "regression"):
        raise ConfigError(f"Unknown task '{task}'.", hint="Use task='classification' or 'regression', "
                          "or leave it out to infer it from the target.")
    if target not in frame.columns:
        raise TrainingError(f"Target column '{target}' is not in the data.",
                            hint=choices_hint(target, frame.columns, kind="column"))
    if frame.height == 0:
        raise TrainingError("The training data has no rows.",
                            hint="Check the table or query (a WHERE clause may filter everything out).")
    y = frame.get_column(target)
    if y.dtype.is_float():
        y = y.fill_nan(None)
    nulls = y.null_count()
    values = y.drop_nulls()
    if values.len() == 0:
        raise TrainingError(f"Target column '{target}' has only null values ({nulls} rows).",
                            hint="Choose a target column with values, or filter the data in a query.")
    task = task or infer_task(values)
    if task == "regression" and not values.dtype.is_numeric():
        raise TrainingError(f"Regression needs a numeric target; '{target}' is {values.dtype}.",
                            hint="Use [[task='classification']], or CAST the column to a number in a query.")
    counts = values.cast(pl.String).value_counts(sort=True, name="n")
    if counts.height < 2:
        only = counts.get_column(values.name)[0]
        what = "a single class" if task == "classification" else "a constant target"
        raise TrainingError(f"Target column '{target}' has {what}: every non-null value is {only!r}.",
                            hint="A model needs at least two different target values; check the data "
                            "or the query's filter.")
    if task == "classification" and values.dtype.is_float() and not _integral(values):
        raise TrainingError(f"Classification needs class labels; '{target}' has fractional numbers.",
                            hint="Use [[task='regression']], or CAST the target to an integer or text in a query.")
    classes: tuple[str, ...] = ()
    class_counts: tuple[int, ...] = ()
    if task == "classification":
        classes = tuple(str(v) for v in counts.get_column(values.name))
        class_counts = tuple(int(n) for n in counts.get_column("n"))
    return TargetInfo(task, values.len(), nulls, classes, class_counts)


def prepare_target(y: pl.Series, task: str) -> np.ndarray:
    """The target as estimators get it (nulls must already be filtered).

    Classification: booleans and whole floats become int64, text stays text (object array).
    Regression: float64.
    """
    if task == "regression":
        return y.cast(pl.Float64).to_numpy()
    if y.dtype == pl.Boolean or y.dtype.is_float():
        return y.cast(pl.Int64).to_numpy()
    if y.dtype.is_integer():
        return y.cast(pl.Int64).to_numpy()
    return np.asarray(y.cast(pl.String).to_list(), dtype=object)
