"""In-process AutoML trials: the thread executor's deadlines, and fits that stop when given up."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from lakeml.ml.automl.threads import ThreadPool
from lakeml.ml.automl.trial import TrialCancelled, _fit
from lakeml.ml.automl.workers import Job


def _sleepy(payload: dict, *, cache: dict, cancel: threading.Event, seconds: float, name: str) -> str:
    end = time.monotonic() + seconds
    while time.monotonic() < end and not cancel.is_set():
        time.sleep(0.01)
    payload[name] = cancel.is_set()
    return "done"


def test_a_job_past_its_deadline_is_reported_stopped_and_its_cancel_flag_set() -> None:
    payload: dict = {}
    with ThreadPool(2, payload) as pool:
        pool.submit(Job(1, _sleepy, {"seconds": 0.0, "name": "quick"}, deadline=time.monotonic() + 60))
        pool.submit(Job(2, _sleepy, {"seconds": 60.0, "name": "slow"}, deadline=time.monotonic() + 0.2))
        assert pool.idle() == 0
        results = {}
        while len(results) < 2:
            for r in pool.poll(timeout=0.5):
                results[r.job_id] = r
        assert results[1].value == "done" and not results[1].timed_out
        assert results[2].timed_out and results[2].value is None
        assert pool.killed == 1 and pool.idle() == 2
        deadline = time.monotonic() + 30
        while "slow" not in payload and time.monotonic() < deadline:
            time.sleep(0.01)
        assert payload == {"quick": False, "slow": True}  # the given-up job saw its flag and stopped


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5))
    return x, (x[:, 0] + rng.normal(size=400) > 0).astype(int)


def test_lightgbm_stops_after_the_round_in_which_its_flag_is_set() -> None:
    from lightgbm import LGBMClassifier

    x, y = _data()
    cancel = threading.Event()
    rounds = []

    def spy(env) -> None:  # sets the flag in round 5, as the executor would at a deadline
        rounds.append(env.iteration)
        if env.iteration == 5:
            cancel.set()

    model = LGBMClassifier(n_estimators=5000, verbose=-1, n_jobs=1)
    original_fit = model.fit
    model.fit = lambda x_, y_, callbacks: original_fit(x_, y_, callbacks=[spy, *callbacks])  # type: ignore[method-assign]
    with pytest.raises(TrialCancelled):
        _fit(model, x, y, cancel)
    assert max(rounds) < 10


@pytest.mark.parametrize("family", ["random_forest", "extra_trees"])
def test_a_forest_fitted_in_steps_equals_one_fit_and_stops_when_given_up(family: str) -> None:
    from lakeml.ml.families import FAMILIES

    x, y = _data()
    params = {"n_estimators": 40}
    whole = FAMILIES[family].make_estimator(params, task="classification", seed=1, n_jobs=1).fit(x, y)
    stepped = FAMILIES[family].make_estimator(params, task="classification", seed=1, n_jobs=1)
    _fit(stepped, x, y, threading.Event())
    assert len(stepped.estimators_) == 40 and not stepped.warm_start
    np.testing.assert_array_equal(whole.predict_proba(x), stepped.predict_proba(x))

    given_up = threading.Event()
    given_up.set()
    with pytest.raises(TrialCancelled):
        _fit(FAMILIES[family].make_estimator(params, task="classification", seed=1, n_jobs=1), x, y, given_up)
