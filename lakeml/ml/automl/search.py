"""Ask/tell wrapper around hyperopt's TPE, so trials can run in parallel worker processes.

``fmin`` runs trials itself and checks its timeout only between trials; lakeml runs trials in
killable worker processes instead, so it drives TPE one suggestion at a time: :meth:`Searcher.ask`
returns the next configuration, :meth:`Searcher.tell` records its loss (or its failure).

With the same seed and the same sequence of ``ask``/``tell`` calls the suggestions are identical,
which is what the deterministic mode relies on.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from hyperopt import STATUS_FAIL, STATUS_OK, Trials, base, tpe

from lakeml.ml.automl import space as sp


@dataclass(frozen=True)
class Suggestion:
    """One configuration to evaluate."""

    trial_id: int
    family: str
    params: dict[str, Any]


def _noop(_: Any) -> dict[str, Any]:  # Domain needs an objective; lakeml never lets hyperopt call it
    return {"status": STATUS_FAIL}


class Searcher:
    """TPE over the conditional space of ``families``; starting points are tried first.

    Args:
        families: family names to search (all must be in :data:`lakeml.ml.automl.space.SPACES`).
        task: ``"classification"`` or ``"regression"`` (some parameters apply to one task only).
        seed: seeds TPE (hyperopt needs a numpy Generator; one per searcher).
        n_startup: random trials TPE draws before it starts modelling (after the starting points).
    """

    def __init__(self, families: Sequence[str], *, task: str, seed: int, n_startup: int = 8) -> None:
        self.families = list(families)
        self.task = task
        self._space = sp.build_space(self.families, task)
        self._domain = base.Domain(_noop, self._space)
        self._trials = Trials()
        self._rng = np.random.default_rng(seed)
        self._pending_starts = sp.starting_points(self.families, task)
        n_starts = len(self._pending_starts)
        self._suggest = functools.partial(tpe.suggest, n_startup_jobs=n_starts + n_startup)
        self._docs: dict[int, dict[str, Any]] = {}

    def ask(self) -> Suggestion:
        """The next configuration (a starting point while any are left, then a TPE suggestion)."""
        tid = self._trials.new_trial_ids(1)[0]
        if self._pending_starts:
            family, params = self._pending_starts.pop(0)
            vals = sp.encode(self.families, self.task, family, params)
            doc = self._start_doc(tid, vals)
        else:
            seed = int(self._rng.integers(2**31 - 1))
            doc = self._suggest([tid], self._domain, self._trials, seed)[0]
        self._trials.insert_trial_docs([doc])
        self._trials.refresh()
        self._docs[tid] = doc
        family, params = sp.decode(self.families, self.task, doc["misc"]["vals"])
        return Suggestion(tid, family, params)

    def add(self, family: str, params: dict[str, Any]) -> Suggestion:
        """Register a configuration chosen outside TPE (a default, or a re-run on a larger sample).

        TPE learns from its result like from its own suggestions; the exact ``params`` are returned.
        """
        tid = self._trials.new_trial_ids(1)[0]
        doc = self._start_doc(tid, sp.encode(self.families, self.task, family, params))
        self._trials.insert_trial_docs([doc])
        self._trials.refresh()
        self._docs[tid] = doc
        return Suggestion(tid, family, dict(params))

    def tell(self, trial_id: int, loss: float | None) -> None:
        """Record the loss of a trial (lower is better); ``None`` marks it failed or stopped."""
        # Trials.trials holds the stored documents themselves (insert_trial_docs copies what it is given)
        doc = next(d for d in self._trials.trials if d["tid"] == trial_id)
        doc["state"] = base.JOB_STATE_DONE if loss is not None else base.JOB_STATE_ERROR
        doc["result"] = ({"status": STATUS_OK, "loss": float(loss)} if loss is not None
                         else {"status": STATUS_FAIL})
        self._trials.refresh()

    def _start_doc(self, tid: int, vals: dict[str, list[Any]]) -> dict[str, Any]:
        idxs = {label: ([tid] if v else []) for label, v in vals.items()}
        return {
            "state": base.JOB_STATE_NEW, "tid": tid, "spec": None, "result": {"status": "new"},
            "misc": {"tid": tid, "cmd": self._domain.cmd, "workdir": None, "idxs": idxs, "vals": vals},
            "exp_key": None, "owner": None, "version": 0, "book_time": None, "refresh_time": None,
        }
