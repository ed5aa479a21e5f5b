"""The conditional AutoML search space (family → its hyperparameters) and its hyperopt form.

Each family's ranges are declared once as :class:`Param` objects; from them we build the hyperopt
space (``hp.choice`` over families, one labelled expression per hyperparameter), decode hyperopt's
internal values back to estimator parameters, and encode the cheap, strong starting points that are
tried before TPE takes over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from hyperopt import hp

Kind = Literal["int_log", "float_log", "float", "choice"]


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its kind, range (or choices) and the value tried first."""

    name: str
    kind: Kind
    low: float = 0.0
    high: float = 1.0
    start: Any = None
    choices: tuple[Any, ...] = ()
    task: str | None = None  # searched only for this task (None: every task)

    def expr(self, label: str) -> Any:
        """The hyperopt expression for this parameter under ``label``."""
        if self.kind == "int_log":
            return hp.qloguniform(label, math.log(self.low), math.log(self.high), 1)
        if self.kind == "float_log":
            return hp.loguniform(label, math.log(self.low), math.log(self.high))
        if self.kind == "float":
            return hp.uniform(label, self.low, self.high)
        return hp.choice(label, list(self.choices))

    def decode(self, raw: Any) -> Any:
        """Hyperopt's internal value (an index for choices) → the estimator's parameter value."""
        if self.kind == "int_log":
            return int(max(self.low, min(self.high, round(float(raw)))))
        if self.kind == "choice":
            return self.choices[int(raw)]
        return float(raw)

    def encode(self, value: Any) -> Any:
        """An estimator parameter value → hyperopt's internal value (inverse of :meth:`decode`)."""
        if self.kind == "choice":
            return self.choices.index(value)
        return float(value)


@dataclass(frozen=True)
class FamilySpace:
    """The searchable hyperparameters of one model family (task-specific where needed)."""

    family: str
    params: tuple[Param, ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    cheap: Mapping[str, Any] = field(default_factory=dict)  # overrides of the start: the cheapest useful config

    def label(self, param: Param) -> str:
        """The hyperopt label of ``param`` (unique across the whole space)."""
        return f"{self.family}.{param.name}"

    def active(self, task: str) -> tuple[Param, ...]:
        """The parameters searched for ``task``."""
        return tuple(p for p in self.params if p.task in (None, task))

    def start_params(self, task: str) -> dict[str, Any]:
        """The parameters of the starting point."""
        return {**self.fixed, **{p.name: p.start for p in self.active(task)}}

    def cheap_params(self, task: str) -> dict[str, Any] | None:
        """The cheapest configuration (few, small trees), or None when the start is already cheap."""
        if not self.cheap:
            return None
        return {**self.start_params(task), **self.cheap}


_BALANCE = Param("class_weight", "choice", choices=(None, "balanced"), start=None, task="classification")
_FOREST_CHEAP = {"n_estimators": 8, "min_samples_leaf": 16}
_TREES_COMMON = (
    Param("n_estimators", "int_log", 8, 512, start=100),
    Param("max_features", "float", 0.1, 1.0, start=0.6),
    Param("min_samples_leaf", "int_log", 1, 64, start=1),
    _BALANCE,
)

#: family name -> its search space. Ranges follow what works broadly (wide, log-scaled), not any
#: particular dataset.
SPACES: dict[str, FamilySpace] = {
    "lightgbm": FamilySpace("lightgbm", (
        Param("n_estimators", "int_log", 8, 2048, start=100),
        Param("num_leaves", "int_log", 4, 512, start=31),
        Param("min_child_samples", "int_log", 2, 256, start=20),
        Param("learning_rate", "float_log", 0.005, 0.5, start=0.1),
        Param("colsample_bytree", "float", 0.3, 1.0, start=1.0),
        Param("subsample", "float", 0.5, 1.0, start=1.0),
        Param("reg_alpha", "float_log", 1e-4, 10.0, start=1e-4),
        Param("reg_lambda", "float_log", 1e-4, 10.0, start=1.0),
        _BALANCE,
    ), fixed={"subsample_freq": 1}, cheap={"n_estimators": 8, "num_leaves": 4, "learning_rate": 0.3}),
    "hist_gradient_boosting": FamilySpace("hist_gradient_boosting", (
        Param("max_iter", "int_log", 8, 1024, start=100),
        Param("learning_rate", "float_log", 0.005, 0.5, start=0.1),
        Param("max_leaf_nodes", "int_log", 4, 256, start=31),
        Param("min_samples_leaf", "int_log", 2, 256, start=20),
        Param("l2_regularization", "float_log", 1e-4, 10.0, start=1e-4),
        _BALANCE,
    ), cheap={"max_iter": 8, "max_leaf_nodes": 4, "learning_rate": 0.3}),
    "random_forest": FamilySpace("random_forest", _TREES_COMMON, cheap=_FOREST_CHEAP),
    "extra_trees": FamilySpace("extra_trees", _TREES_COMMON, cheap=_FOREST_CHEAP),
    "logistic": FamilySpace("logistic", (
        Param("C", "float_log", 1e-3, 1e3, start=1.0),
        _BALANCE,
    ), fixed={"max_iter": 300}),
    "linear": FamilySpace("linear", (
        Param("alpha", "float_log", 1e-4, 1e3, start=1.0),
        Param("l1_ratio", "choice", choices=(0.0, 0.1, 0.5, 0.9, 1.0), start=0.0),
    )),
}

#: Order in which starting points are tried: cheap and strong first. LightGBM's cheapest
#: configuration is the quick baseline (bounded cost on any table); the linear models come next
#: (often the best on small tables, and fast); HistGradientBoosting last (a high fixed cost per fit).
START_ORDER = ("lightgbm", "logistic", "linear", "extra_trees", "random_forest", "hist_gradient_boosting")


def n_cheap_starts(families: Sequence[str], task: str) -> int:
    """How many starting points come first with a bounded cost (a few small trees, no iterative solver)."""
    return sum(1 for f in families if SPACES[f].cheap_params(task) is not None)


def build_space(families: Sequence[str], task: str) -> Any:
    """The hyperopt space: a choice over ``families``, each with its own labelled parameters."""
    options = []
    for name in families:
        space = SPACES[name]
        options.append({"family": name, **{p.name: p.expr(space.label(p)) for p in space.active(task)}})
    return hp.choice("family", options)


def all_labels(families: Sequence[str], task: str) -> list[str]:
    """Every hyperopt label of the space built from ``families``."""
    return ["family", *(SPACES[f].label(p) for f in families for p in SPACES[f].active(task))]


def decode(families: Sequence[str], task: str, vals: Mapping[str, Sequence[Any]]) -> tuple[str, dict[str, Any]]:
    """Hyperopt trial ``misc.vals`` → ``(family, params)`` ready for the family's estimator."""
    family = families[int(vals["family"][0])]
    space = SPACES[family]
    params = dict(space.fixed)
    for p in space.active(task):
        raw = vals.get(space.label(p)) or []
        params[p.name] = p.decode(raw[0]) if raw else p.start
    return family, params


def encode(families: Sequence[str], task: str, family: str, params: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``(family, params)`` → hyperopt ``misc.vals`` (inactive labels get empty lists).

    A parameter missing from ``params`` or outside the space (a family default such as
    ``max_features="sqrt"``) is encoded as the parameter's start value: TPE learns from a close point.
    """
    vals: dict[str, list[Any]] = {label: [] for label in all_labels(families, task)}
    vals["family"] = [families.index(family)]
    space = SPACES[family]
    for p in space.active(task):
        try:
            raw = p.encode(params[p.name])
            if p.kind != "choice" and not p.low <= raw <= p.high:
                raise ValueError(raw)
        except (KeyError, ValueError, TypeError):
            raw = p.encode(p.start)
        vals[space.label(p)] = [raw]
    return vals


def starting_points(families: Sequence[str], task: str) -> list[tuple[str, dict[str, Any]]]:
    """The ``(family, params)`` pairs tried before TPE: every family's cheapest configuration first
    (quick baselines, in :data:`START_ORDER`), then the tree families' usual starting points."""
    ordered = [f for f in START_ORDER if f in families]
    cheap = [(f, SPACES[f].cheap_params(task) or SPACES[f].start_params(task)) for f in ordered]
    usual = [(f, SPACES[f].start_params(task)) for f in ordered if SPACES[f].cheap_params(task) is not None]
    return [*cheap, *usual]
