"""Model families lakeml trains; every one exports to ONNX and passes the parity check.

``FAMILIES`` maps a family name to a :class:`Family`. ``make_estimator`` merges the family's
defaults with the caller's params and builds an unfitted scikit-learn-compatible estimator.
XGBoost and k-nearest neighbours are not offered: XGBoost is not a core dependency (only the
benchmark extra pulls ``xgboost-cpu``), and k-NN models grow with the training data, which makes
large ONNX graphs for lake-sized tables.

Example:
    >>> est = FAMILIES["lightgbm"].make_estimator({"num_leaves": 15}, task="classification", seed=0, n_jobs=1)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from lakeml.errors import ConfigError, choices_hint

Task = Literal["classification", "regression"]
TASKS: tuple[str, ...] = ("classification", "regression")


def idle_cores(load: float | None = None) -> int:
    """The cores not busy with other work: all cores minus the 1-minute load average, at least 1.

    "All cores" means the idle ones: LightGBM and HistGradientBoosting use OpenMP, whose threads
    spin-wait at every barrier, so with more threads than idle cores one fit slows down many times
    (measured on a shared 2-core machine at load 16: LightGBM, 100 trees on 50k rows, 7 s with one
    thread, 100 s with two).

    Args:
        load: the load average to use (default: ``os.getloadavg()``'s 1-minute value).
    """
    cores = os.cpu_count() or 1
    if load is None:
        try:
            load = os.getloadavg()[0]
        except OSError:  # not available on this platform
            load = 0.0
    return max(1, min(cores, cores - int(load)))


def resolve_jobs(n_jobs: int | None) -> int:
    """scikit-learn semantics: None is one job, -1 (any negative) all idle cores (:func:`idle_cores`)."""
    if n_jobs is None:
        return 1
    return idle_cores() if n_jobs < 0 else max(1, n_jobs)




def _logistic(params: dict[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    p = dict(params)
    # lbfgs only fits pure L2; any L1 share needs saga.
    p.setdefault("solver", "lbfgs" if float(p.get("l1_ratio", 0.0)) == 0.0 else "saga")
    return LogisticRegression(random_state=seed, **p)


def _linear(params: dict[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    from sklearn.linear_model import ElasticNet, Ridge

    p = dict(params)
    l1_ratio = float(p.pop("l1_ratio", 0.0))
    if l1_ratio == 0.0:
        return Ridge(random_state=seed, **p)
    return ElasticNet(l1_ratio=l1_ratio, random_state=seed, **p)


def _forest(extra: bool) -> Callable[[dict[str, Any], str, int, int], Any]:
    def make(params: dict[str, Any], task: str, seed: int, n_jobs: int) -> Any:
        from sklearn import ensemble

        prefix = "ExtraTrees" if extra else "RandomForest"
        cls = getattr(ensemble, prefix + ("Classifier" if task == "classification" else "Regressor"))
        p = dict(params)
        if task == "regression":
            p.pop("class_weight", None)
        return cls(random_state=seed, n_jobs=n_jobs, **p)
    return make


def _hgb(params: dict[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    p = dict(params)
    if task == "regression":
        p.pop("class_weight", None)
        return HistGradientBoostingRegressor(random_state=seed, **p)
    return HistGradientBoostingClassifier(random_state=seed, **p)


def _check_lightgbm_params(params: dict[str, Any]) -> None:
    """LightGBM forwards unknown keywords to its core, which only logs a warning; reject typos."""
    import inspect

    from lightgbm import LGBMModel
    from lightgbm.basic import _ConfigAliases

    known = set(inspect.signature(LGBMModel.__init__).parameters)
    for canonical, aliases in _ConfigAliases._get_all_param_aliases().items():
        known.add(canonical)
        known.update(aliases)
    unknown = sorted(k for k in params if k not in known)
    if unknown:
        raise ConfigError(f"Unknown LightGBM parameters: {unknown}.",
                          hint=choices_hint(unknown[0], known, kind="parameter"))


def _lightgbm(params: dict[str, Any], task: str, seed: int, n_jobs: int) -> Any:
    from lightgbm import LGBMClassifier, LGBMRegressor

    p = {"verbose": -1, **params}
    _check_lightgbm_params(p)
    if task == "regression":
        p.pop("class_weight", None)
        return LGBMRegressor(random_state=seed, n_jobs=n_jobs, **p)
    return LGBMClassifier(random_state=seed, n_jobs=n_jobs, **p)


@dataclass(frozen=True)
class Family:
    """A model family: a name, the tasks it supports, its defaults and how to build it.

    Attributes:
        name: the name users pass as ``model=``.
        tasks: ``classification`` and/or ``regression``.
        default_params: merged under the caller's params.
        for_trees: tree model; the featurizer skips scaling.
        supports_class_weight: accepts ``class_weight="balanced"`` for imbalanced classes.
        description: one line for help texts.
    """

    name: str
    tasks: tuple[str, ...]
    default_params: Mapping[str, Any]
    for_trees: bool
    supports_class_weight: bool
    description: str
    _build: Callable[[dict[str, Any], str, int, int], Any] = field(repr=False, compare=False)

    def make_estimator(self, params: Mapping[str, Any] | None = None, *, task: str, seed: int = 0,
                       n_jobs: int | None = None) -> Any:
        """Build an unfitted estimator with the defaults overridden by ``params``.

        Raises:
            ConfigError: the family does not support ``task``, or a parameter is unknown/invalid.
        """
        if task not in self.tasks:
            raise ConfigError(f"Model family '{self.name}' does not support task '{task}'.",
                              hint=f"Families for {task}: {', '.join(families_for(task))}.")
        merged = {**self.default_params, **(params or {})}
        try:
            return self._build(merged, task, seed, resolve_jobs(n_jobs))
        except TypeError as exc:  # scikit-learn rejects unknown keyword arguments this way
            raise ConfigError(f"Invalid parameters for model family '{self.name}': {exc}",
                              hint=f"Defaults of '{self.name}': {dict(self.default_params)}.") from exc


def _family(name: str, tasks: tuple[str, ...], defaults: dict[str, Any], for_trees: bool, weight: bool,
            description: str, build: Callable[[dict[str, Any], str, int, int], Any]) -> Family:
    return Family(name, tasks, MappingProxyType(defaults), for_trees, weight, description, build)


FAMILIES: dict[str, Family] = {
    f.name: f for f in (
        _family("logistic", ("classification",), {"C": 1.0, "l1_ratio": 0.0, "max_iter": 1000},
                False, True, "Logistic regression with L2/elastic-net regularisation", _logistic),
        _family("linear", ("regression",), {"alpha": 1.0, "l1_ratio": 0.0},
                False, False, "Ridge (l1_ratio=0) or elastic-net linear regression", _linear),
        _family("random_forest", TASKS, {"n_estimators": 100, "min_samples_leaf": 1, "max_features": "sqrt"},
                True, True, "Random forest", _forest(extra=False)),
        _family("extra_trees", TASKS, {"n_estimators": 100, "min_samples_leaf": 1, "max_features": "sqrt"},
                True, True, "Extremely randomised trees", _forest(extra=True)),
        _family("hist_gradient_boosting", TASKS, {"max_iter": 100, "learning_rate": 0.1, "max_leaf_nodes": 31},
                True, True, "scikit-learn histogram gradient boosting", _hgb),
        _family("lightgbm", TASKS, {"n_estimators": 100, "learning_rate": 0.1, "num_leaves": 31},
                True, True, "LightGBM gradient boosting", _lightgbm),
    )
}


def families_for(task: str) -> list[str]:
    """Names of the families that support ``task``."""
    return [name for name, f in FAMILIES.items() if task in f.tasks]


def get_family(name: str) -> Family:
    """Look a family up by name.

    Raises:
        ConfigError: no family of that name (with a did-you-mean).
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise ConfigError(f"Unknown model family '{name}'.",
                          hint=choices_hint(name, FAMILIES, kind="model family")) from None
