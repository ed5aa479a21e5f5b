"""Guardrails on crafted data: each finding fires on the problem it targets and stays quiet otherwise."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from lakeml.errors import ColumnNotFoundError, TrainingError
from lakeml.ml.guardrails import compute_guardrails, guardrails_frame


def _by_name(findings):
    return {g.name: g for g in findings}


def _clean(n: int = 400, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    y = (x1 + x2 + rng.normal(scale=1.5, size=n) > 0).astype(np.int64)
    return pl.DataFrame({"x1": x1, "x2": x2, "color": rng.choice(["red", "green", "blue"], n), "y": y})


def test_clean_data_passes_every_check() -> None:
    found = _by_name(compute_guardrails(_clean().lazy(), target="y", task="classification"))
    assert set(found) == {"missing_values", "class_imbalance", "high_cardinality", "id_like_columns",
                          "constant_columns", "duplicated_rows", "target_leakage"}
    assert {g.status for g in found.values()} == {"Passed"}


def test_missing_values_are_reported_as_imputed_with_shares() -> None:
    df = _clean().with_columns(
        pl.when(pl.int_range(pl.len()) % 4 == 0).then(None).otherwise(pl.col("x1")).alias("x1"),
        pl.when(pl.int_range(pl.len()) % 10 == 0).then(None).otherwise(pl.col("color")).alias("color"),
    )
    g = _by_name(compute_guardrails(df.lazy(), target="y", task="classification"))["missing_values"]
    assert g.status == "Done"
    assert g.columns == ("x1", "color")  # most missing first
    assert "x1 (25.0%)" in g.detail and "color (10.0%)" in g.detail


def test_nan_counts_as_missing() -> None:
    df = _clean().with_columns(pl.when(pl.col("x2") > 1).then(float("nan")).otherwise(pl.col("x2")).alias("x2"))
    g = _by_name(compute_guardrails(df.lazy(), target="y", task="classification"))["missing_values"]
    assert g.status == "Done" and g.columns == ("x2",)


def test_class_imbalance_alerts_and_names_the_rare_class() -> None:
    rng = np.random.default_rng(1)
    y = np.where(rng.random(1000) < 0.05, "fraud", "ok")
    df = pl.DataFrame({"x": rng.normal(size=1000), "label": y})
    g = _by_name(compute_guardrails(df.lazy(), target="label", task="classification"))["class_imbalance"]
    assert g.status == "Alerted"
    assert "'fraud'" in g.detail and g.columns == ("label",)


def test_class_imbalance_is_not_checked_for_regression() -> None:
    df = _clean().with_columns(pl.col("x1").alias("target")).drop("y")
    names = [g.name for g in compute_guardrails(df.lazy(), target="target", task="regression")]
    assert "class_imbalance" not in names


def test_id_like_constant_all_null_and_high_cardinality_columns() -> None:
    n = 600
    rng = np.random.default_rng(2)
    df = _clean(n).with_columns(
        pl.int_range(pl.len()).alias("row_id"),
        pl.format("cust-{}", pl.int_range(pl.len())).alias("customer"),
        pl.lit("same").alias("constant"),
        pl.lit(None, dtype=pl.Float64).alias("empty"),
        pl.Series("city", [f"c{v}" for v in rng.integers(0, 250, n)]),
    )
    found = _by_name(compute_guardrails(df.lazy(), target="y", task="classification"))
    assert found["id_like_columns"].status == "Done"
    assert set(found["id_like_columns"].columns) == {"row_id", "customer"}
    assert found["constant_columns"].status == "Done"
    assert set(found["constant_columns"].columns) == {"constant", "empty"}
    assert "empty (all null)" in found["constant_columns"].detail
    assert found["high_cardinality"].status == "Done"
    assert found["high_cardinality"].columns == ("city",)


def test_duplicated_rows_are_counted() -> None:
    df = _clean(200)
    dup = pl.concat([df, df.head(30)])
    g = _by_name(compute_guardrails(dup.lazy(), target="y", task="classification"))["duplicated_rows"]
    assert g.status == "Alerted"
    assert g.detail.startswith("30 of 230 rows")
    assert "DISTINCT" not in g.detail and "keep them" in g.detail  # never advice that drops real rows


def test_duplicates_are_counted_over_every_column_including_the_target() -> None:
    # Flights on one schedule share every feature; they are duplicates only if the outcome matches too,
    # and never when a column outside the features (a flight id) tells them apart.
    sched = pl.DataFrame({"carrier": ["UA"] * 6, "hour": [9] * 6, "late": [0, 1, 0, 1, 0, 1]})
    g = _by_name(compute_guardrails(sched.lazy(), target="late", task="classification"))["duplicated_rows"]
    assert g.detail.startswith("4 of 6 rows")  # two distinct rows: (UA, 9, 0) and (UA, 9, 1)
    with_id = sched.with_columns(pl.int_range(pl.len()).alias("flight_id"))
    g = _by_name(compute_guardrails(with_id.lazy(), target="late", task="classification",
                                    features=["carrier", "hour"]))["duplicated_rows"]
    assert g.status == "Passed"


def test_leakage_alerts_on_a_feature_that_encodes_the_target() -> None:
    df = _clean(1000)
    rng = np.random.default_rng(3)
    df = df.with_columns(
        (pl.col("y") * 10.0 + pl.Series(rng.normal(scale=0.1, size=1000))).alias("refund_amount"),
        pl.when(pl.col("y") == 1).then(pl.lit("closed")).otherwise(pl.lit("open")).alias("status"),
    )
    g = _by_name(compute_guardrails(df.lazy(), target="y", task="classification"))["target_leakage"]
    assert g.status == "Alerted"
    assert set(g.columns) == {"refund_amount", "status"}  # x1/x2 are predictive but not leaks


def test_leakage_in_regression_uses_explained_variance() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=800)
    df = pl.DataFrame({"x": x, "noise": rng.normal(size=800), "price": 3 * x + rng.normal(scale=0.05, size=800),
                       "weak": x + rng.normal(scale=2.0, size=800)})
    g = _by_name(compute_guardrails(df.lazy(), target="price", task="regression"))["target_leakage"]
    assert g.status == "Alerted" and g.columns == ("x",)


def test_frame_form_is_json_friendly() -> None:
    frame = guardrails_frame(compute_guardrails(_clean().lazy(), target="y", task="classification"))
    assert frame.columns == ["name", "status", "description", "detail", "columns"]
    assert all(json.loads(c) == [] for c in frame["columns"])


def test_missing_target_column_has_a_did_you_mean() -> None:
    with pytest.raises(ColumnNotFoundError) as err:
        compute_guardrails(_clean().lazy(), target="Y", task="classification")
    assert "Did you mean 'y'?" in str(err.value)


def test_empty_data_is_an_error() -> None:
    with pytest.raises(TrainingError, match="no rows"):
        compute_guardrails(_clean().head(0).lazy(), target="y", task="classification")
