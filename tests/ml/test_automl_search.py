"""The TPE ask/tell searcher and the search space: starting points, determinism, decoding."""

from __future__ import annotations

import itertools
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


def test_sample_order_nests_samples_keeps_rare_classes_and_is_seeded():
    import numpy as np

    from lakeml.ml.automl.trial import sample_order

    y = np.zeros(1_000, dtype=np.int64)
    y[7] = 1  # one rare row
    order = sample_order(y, seed=3)
    assert sorted(order.tolist()) == list(range(1_000))
    assert 1 in set(y[order[:2]])  # every class is in the smallest sample
    assert np.array_equal(order, sample_order(y, seed=3))  # seeded: the same samples on rerun
    assert not np.array_equal(order, sample_order(y, seed=4))


def test_sample_sizes_grow_from_a_small_first_sample_to_every_row():
    import numpy as np

    from lakeml.ml.automl.data import FIRST_SAMPLE, SAMPLE_GROWTH, sample_sizes

    big = [(np.arange(200_000), np.arange(10))]
    sizes = sample_sizes(big)
    assert sizes[0] == FIRST_SAMPLE and sizes[-1] == 200_000
    assert all(b == a * SAMPLE_GROWTH for a, b in itertools.pairwise(sizes[:-1]))
    assert sample_sizes([(np.arange(1_500), np.arange(10))]) == [1_500]  # small data: every row at once
