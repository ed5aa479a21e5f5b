"""Every input lakeml trains scores a null with default settings, exactly as training fed it.

docs/predict.md rule 10: the manifest's null rules cover integer inputs (whole imputer fills),
bool inputs, Date and Datetime inputs and integer-coded categories (a reserved int code the
graph maps to what training saw). Each case is checked against the native scikit-learn pipeline
through ``lake.predict`` and SQL PREDICT.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from lakeml.session import Lake

INT64_MIN = -(2**63)


def _values(kind: str, k: int, rng: np.random.Generator) -> list[object]:
    """``k`` non-null values of a feature column of ``kind``."""
    if kind == "int_half_median":
        # 0..9 in equal shares over an even count: the median is 4.5
        return rng.permutation(np.arange(k) % 10).tolist()
    if kind == "bool_half_median":
        return rng.permutation(np.arange(k) % 2 == 0).tolist()
    if kind == "date":
        return [dt.date(2021, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 700, k)]
    if kind == "datetime":
        return [dt.datetime(2021, 1, 1) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 10**6, k)]
    assert kind == "int_category"
    return rng.choice([3, 7, 11, 40], k).tolist()


def _frame(kind: str, n: int, seed: int) -> pl.DataFrame:
    """Columns ``id``, ``x`` (float), ``c`` (of ``kind``, null on every 5th row from row 0) and ``y``."""
    rng = np.random.default_rng(seed)
    nulls = np.arange(n) % 5 == 0
    values = iter(_values(kind, int((~nulls).sum()), rng))
    c = pl.Series("c", [None if null else next(values) for null in nulls])
    x = rng.normal(size=n)
    signal = (c.hash() % 3 == 0).fill_null(False).to_numpy()
    y = (x + signal + rng.normal(scale=0.5, size=n) > 0.5).astype(np.int64)
    return pl.DataFrame({"id": np.arange(n), "x": x, "c": c, "y": y})


CASES = ["int_half_median", "bool_half_median", "date", "datetime", "int_category"]


@pytest.mark.parametrize("model", ["logistic", "lightgbm"])
@pytest.mark.parametrize("kind", CASES)
def test_nulls_in_every_trained_input_kind_score_as_training_fed_them(lake: Lake, kind: str, model: str) -> None:
    frame = _frame(kind, 200, seed=1)
    if kind.endswith("half_median"):
        assert frame["c"].cast(pl.Float64).median() % 1 == 0.5
    roles = {"c": "categorical"} if kind == "int_category" else None
    params = {"n_estimators": 5} if model == "lightgbm" else None
    result = lake.train(frame.drop("id"), target="y", model=model, params=params, roles=roles, n_jobs=1)
    assert result.parity.passed
    result.register("m")
    fresh = _frame(kind, 80, seed=9)
    assert fresh["c"].null_count() == 16
    native_labels = result.predict(fresh)
    native_proba = result.predict_proba(fresh)
    out = lake.predict("m", fresh, outputs="label bigint, probabilities array(double, 2)")
    assert out["label"].to_list() == native_labels.tolist()
    assert np.abs(np.stack(out["probabilities"].to_numpy()) - native_proba).max() < 1e-6
    lake.write("fresh", fresh)
    sql = lake.sql("SELECT d.id, p.label, p.probabilities FROM PREDICT(MODEL = 'm', DATA = fresh AS d) "
                   "WITH (label bigint, probabilities array(double, 2)) AS p ORDER BY d.id").collect()
    assert sql["label"].to_list() == native_labels.tolist()
    assert np.abs(np.stack(sql["probabilities"].to_numpy()) - native_proba).max() < 1e-6
    rule = lake.models.get("m").manifest.extra["null_rules"]["c"]
    if kind.endswith("half_median"):
        # the integer/bool input cannot carry NaN: training imputes a whole value, and records it
        assert rule["null"] == "impute" and isinstance(rule["value"], int)
    elif kind == "int_category":
        assert rule == {"null": "category", "value": INT64_MIN}
    else:
        assert rule == {"null": "impute", "value": INT64_MIN}
