"""The TPE ask/tell searcher and the search space: starting points, determinism, decoding."""

from __future__ import annotations

import math

import pytest

from lakeml.ml.automl import space as sp
from lakeml.ml.automl.search import Searcher
from lakeml.ml.families import FAMILIES

CLS = ["lightgbm", "logistic", "random_forest", "extra_trees", "hist_gradient_boosting"]


def _drive(seed: int, n: int = 25) -> list[tuple[str, dict]]:
    s = Searcher(CLS, task="classification", seed=seed)
    out = []
    for i in range(n):
        g = s.ask()
        # a made-up loss: lightgbm with ~40 trees is best; every 7th trial "fails"
        loss = (math.log(g.params.get("n_estimators", 5)) - math.log(40)) ** 2 if g.family == "lightgbm" else 4.0
        s.tell(g.trial_id, None if i % 7 == 6 else loss)
        out.append((g.family, g.params))
    return out


def test_starting_points_come_first_in_order() -> None:
    s = Searcher(CLS, task="classification", seed=0)
    firsts = [s.ask().family for _ in range(5)]
    assert firsts == [f for f in sp.START_ORDER if f in CLS]


def test_same_seed_same_suggestions_and_different_seed_differs() -> None:
    assert _drive(3) == _drive(3)
    assert _drive(3) != _drive(4)


def test_tpe_concentrates_on_the_better_region() -> None:
    trials = _drive(5, n=40)
    late = [f for f, _ in trials[20:]]
    assert late.count("lightgbm") > len(late) / 2


def test_suggestions_build_valid_estimators_for_both_tasks() -> None:
    for task, fams in (("classification", CLS), ("regression", ["lightgbm", "linear", "random_forest",
                                                                 "extra_trees", "hist_gradient_boosting"])):
        s = Searcher(fams, task=task, seed=1)
        for _ in range(15):
            g = s.ask()
            if task == "regression":
                assert "class_weight" not in g.params
            FAMILIES[g.family].make_estimator(g.params, task=task, seed=0, n_jobs=1)
            s.tell(g.trial_id, 1.0)


def test_params_stay_in_range_and_round_trip() -> None:
    s = Searcher(["lightgbm"], task="classification", seed=2)
    for _ in range(15):
        g = s.ask()
        space = sp.SPACES["lightgbm"]
        for p in space.active("classification"):
            value = g.params[p.name]
            if p.kind in ("int_log", "float_log", "float"):
                assert p.low <= value <= p.high
        vals = sp.encode(["lightgbm"], "classification", "lightgbm", g.params)
        assert sp.decode(["lightgbm"], "classification", vals) == ("lightgbm", g.params)
        s.tell(g.trial_id, 0.5)


def test_every_family_with_a_space_exists() -> None:
    assert set(sp.SPACES) <= set(FAMILIES)


@pytest.mark.parametrize("family", sorted(sp.SPACES))
def test_starting_point_is_inside_the_space(family: str) -> None:
    space = sp.SPACES[family]
    for p in space.params:
        if p.kind == "choice":
            assert p.start in p.choices
        else:
            assert p.low <= p.start <= p.high


def test_search_folds_sample_large_training_parts_and_keep_rare_classes():
    import numpy as np

    from lakeml.ml.automl.data import search_folds

    y = np.zeros(1_000, dtype=np.int64)
    y[7] = 1  # one rare row
    train, valid = np.arange(0, 800), np.arange(800, 1_000)
    notes: list[str] = []
    (got_train, got_valid), = search_folds([(train, valid)], y, seed=3, notes=notes, limit=100)
    assert len(got_train) in (100, 101) and set(got_train) <= set(train)
    assert 1 in set(y[got_train]) and np.array_equal(got_valid, valid)
    assert np.all(np.diff(got_train) > 0) and notes
    again, = search_folds([(train, valid)], y, seed=3, notes=[], limit=100)
    assert np.array_equal(again[0], got_train)  # seeded: the same sample on rerun
    small, = search_folds([(train[:50], valid)], y, seed=3, notes=(kept := []), limit=100)
    assert np.array_equal(small[0], train[:50]) and not kept
