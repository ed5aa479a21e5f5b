"""Validation splits chosen by data size: k-fold on small data, one holdout on large data.

Classification splits are stratified whenever every class has enough rows.

Example:
    >>> splits = choose_validation(len(y), "classification", y, seed=0)
    >>> describe_validation(splits, len(y))
    '5-fold cross-validation'
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from lakeml.errors import TrainingError

SMALL_DATA_ROWS = 10_000
N_FOLDS = 5
HOLDOUT_SHARE = 0.2
MAX_HOLDOUT_ROWS = 100_000
MIN_ROWS = 4

Split = tuple[np.ndarray, np.ndarray]


def _min_class_count(y: np.ndarray) -> int:
    _, counts = np.unique(y.astype(str) if y.dtype == object else y, return_counts=True)
    return int(counts.min())


def choose_validation(n_rows: int, task: str, y: Any, seed: int = 0, *, n_folds: int | None = None,
                      holdout_share: float | None = None) -> list[Split]:
    """Choose train/validation index splits.

    Args:
        n_rows: number of training rows.
        task: ``classification`` (stratified when possible) or ``regression``.
        y: the target array (length ``n_rows``).
        seed: shuffling seed; the same seed gives the same splits.
        n_folds: force k-fold with this many folds.
        holdout_share: force one holdout of this share of the rows.

    Returns:
        ``[(train_idx, valid_idx), ...]``: 5 folds when ``n_rows <= 10_000``, else one holdout of
        20% of the rows (at most 100,000 validation rows).

    Raises:
        TrainingError: fewer than 4 rows.
    """
    if n_rows < MIN_ROWS:
        raise TrainingError(f"Too few rows to train and validate a model: {n_rows}.",
                            hint=f"Provide at least {MIN_ROWS} rows with a non-null target (many more "
                            "for a useful model).")
    y_arr = np.asarray(y)
    stratify = task == "classification" and _min_class_count(y_arr) >= 2
    use_folds = n_folds is not None or (holdout_share is None and n_rows <= SMALL_DATA_ROWS)
    if use_folds:
        k = min(n_folds or N_FOLDS, n_rows // 2)
        if stratify:
            k = min(k, _min_class_count(y_arr))
        if k >= 2:
            splitter: Any = (StratifiedKFold(k, shuffle=True, random_state=seed) if stratify
                             else KFold(k, shuffle=True, random_state=seed))
            labels = y_arr.astype(str) if y_arr.dtype == object else y_arr
            return [(np.asarray(tr), np.asarray(va)) for tr, va in splitter.split(np.zeros(n_rows), labels)]
    share = holdout_share or HOLDOUT_SHARE
    n_valid = max(1, min(round(n_rows * share), MAX_HOLDOUT_ROWS, n_rows - 1))
    idx = np.arange(n_rows)
    strata = (y_arr.astype(str) if y_arr.dtype == object else y_arr) if stratify else None
    try:
        train_idx, valid_idx = train_test_split(idx, test_size=n_valid, random_state=seed, stratify=strata)
    except ValueError:  # too few rows per class for a stratified holdout of this size
        train_idx, valid_idx = train_test_split(idx, test_size=n_valid, random_state=seed)
    return [(np.sort(train_idx), np.sort(valid_idx))]


def describe_validation(splits: list[Split], n_rows: int) -> str:
    """A short human description of the splits (stored with the metrics)."""
    if len(splits) > 1:
        return f"{len(splits)}-fold cross-validation"
    return f"holdout of {len(splits[0][1])} of {n_rows} rows"
