"""Featurization: plans from schemas, dirty data, unseen categories, datetime parts (native and ONNX)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import onnxruntime as ort
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from lakeml.errors import ColumnNotFoundError, ConfigError, TrainingError
from lakeml.ml.featurize import (
    NULL_CODES,
    DatetimeParts,
    FeaturePlan,
    build_featurizer,
    civil_parts,
    imputed_values,
    null_codes,
    null_rules,
    plan_features,
    to_pandas,
)
from lakeml.ml.onnx_export import to_onnx
from lakeml.ml.parity import check_parity, onnx_feeds


def mixed_frame(n: int = 200, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    city = rng.choice(["oslo", "rome", "lima"], n).tolist()
    return pl.DataFrame({
        "customer_id": np.arange(1000, 1000 + n),
        "token": [f"t-{rng.integers(1 << 40):x}-{i}" for i in range(n)],
        "x": [None if i % 17 == 0 else v for i, v in enumerate(x)],
        "f32": pl.Series(rng.normal(size=n), dtype=pl.Float32),
        "k": rng.integers(0, 4, n),
        "flag": [None if i % 23 == 0 else bool(v) for i, v in enumerate(rng.random(n) > 0.5)],
        "city": [None if i % 11 == 0 else c for i, c in enumerate(city)],
        "when": [dt.datetime(2020, 1, 1) + dt.timedelta(minutes=int(m)) for m in rng.integers(0, 10**6, n)],
        "day": [dt.date(1965, 1, 1) + dt.timedelta(days=int(d)) for d in rng.integers(0, 20000, n)],
        "const": ["same"] * n,
        "empty": pl.Series([None] * n, dtype=pl.Float64),
        "tags": [[1, 2]] * n,
        "y": (x + (np.asarray(city) == "oslo") > 0.3).astype(np.int64),
    })


def test_plan_assigns_roles_and_records_drop_reasons() -> None:
    plan = plan_features(mixed_frame(), "y")
    roles = {c.name: c.role for c in plan.columns}
    assert roles == {"x": "numeric", "f32": "numeric", "k": "numeric", "flag": "boolean",
                     "city": "categorical", "when": "datetime", "day": "datetime"}
    reasons = {d.name: d.reason for d in plan.dropped}
    assert reasons["customer_id"].startswith("ID-like")
    assert reasons["token"].startswith("ID-like")
    assert reasons["const"] == "constant"
    assert reasons["empty"] == "all values are null"
    assert reasons["tags"].startswith("unsupported type List")
    assert "y" not in roles and "y" not in reasons
    city = next(c for c in plan.columns if c.name == "city")
    assert city.categories == ("", "lima", "oslo", "rome")  # "" is the null category
    assert city.null_count == 19
    when = next(c for c in plan.columns if c.name == "when")
    assert when.parts == ("year", "month", "day", "weekday", "hour", "minute")
    day = next(c for c in plan.columns if c.name == "day")
    assert day.parts == ("year", "month", "day", "weekday")
    assert plan.inputs == ["x", "f32", "k", "flag", "city", "when", "day"]


def test_small_frames_keep_unique_integers() -> None:
    frame = pl.DataFrame({"n": list(range(10)), "y": [0, 1] * 5})
    assert plan_features(frame, "y").inputs == ["n"]


def test_constant_date_parts_are_left_out() -> None:
    frame = pl.DataFrame({"d": [dt.datetime(2024, 3, 1, 7, 0), dt.datetime(2024, 3, 2, 7, 0),
                                dt.datetime(2024, 3, 5, 7, 0)], "y": [0, 1, 0]})
    assert plan_features(frame, "y").columns[0].parts == ("day", "weekday")


def test_roles_override_detection_and_types() -> None:
    frame = mixed_frame()
    plan = plan_features(frame, "y", roles={"customer_id": "numeric", "k": "categorical", "x": "drop"})
    roles = {c.name: c.role for c in plan.columns}
    assert roles["customer_id"] == "numeric"
    assert roles["k"] == "categorical"
    assert "x" not in roles
    assert ("x", "dropped by roles") in {(d.name, d.reason) for d in plan.dropped}
    assert next(c for c in plan.columns if c.name == "k").categories == ("0", "1", "2", "3")
    assert plan.roles_overridden == ("customer_id", "k", "x")


@pytest.mark.parametrize(("roles", "error", "needle"), [
    ({"x": "fancy"}, ConfigError, "Use one of: numeric, categorical"),
    ({"city": "numeric"}, ConfigError, "CAST"),
    ({"x": "datetime"}, ConfigError, "cannot have role 'datetime'"),
    ({"citty": "categorical"}, ColumnNotFoundError, "Did you mean 'city'?"),
])
def test_bad_roles_are_explained(roles: dict[str, str], error: type[Exception], needle: str) -> None:
    with pytest.raises(error) as info:
        plan_features(mixed_frame(40), "y", roles=roles)
    assert needle in str(info.value)


def test_missing_target_and_bad_cap() -> None:
    with pytest.raises(ColumnNotFoundError, match="Did you mean 'yy'"):
        plan_features(pl.DataFrame({"a": [1.0, 2.0], "Y": [0, 1]}).rename({"Y": "yy"}), "y")
    with pytest.raises(ConfigError, match="max_categories"):
        plan_features(mixed_frame(30), "y", max_categories=0)


def test_high_cardinality_keeps_most_frequent_categories() -> None:
    values = [f"c{i % 40}" for i in range(400)] + ["c0"] * 50 + ["c1"] * 40 + ["c2"] * 30
    frame = pl.DataFrame({"cat": values, "y": [i % 2 for i in range(len(values))]})
    plan = plan_features(frame, "y", max_categories=3)
    col = plan.columns[0]
    assert col.categories == ("c0", "c1", "c2")
    assert "kept the 3 most frequent of 40" in col.note


def test_plan_summary_round_trips_through_json() -> None:
    plan = plan_features(mixed_frame(), "y", roles={"k": "categorical"})
    again = FeaturePlan.from_summary(json.loads(plan.to_json()))
    assert again == plan


def test_no_usable_feature_is_an_error_listing_the_drops() -> None:
    frame = pl.DataFrame({"const": [1] * 30, "id": [f"u{i}" for i in range(30)], "y": [0, 1] * 15})
    plan = plan_features(frame, "y")
    with pytest.raises(TrainingError) as info:
        build_featurizer(plan, for_trees=True)
    assert "const (constant)" in str(info.value) and "id (ID-like" in str(info.value)


def test_to_pandas_needs_the_planned_columns() -> None:
    frame = mixed_frame(40)
    plan = plan_features(frame, "y")
    with pytest.raises(ColumnNotFoundError, match="city"):
        to_pandas(frame.drop("city"), plan)


def _fit(frame: pl.DataFrame, for_trees: bool = False) -> tuple[Pipeline, FeaturePlan]:
    plan = plan_features(frame, "y")
    pipe = Pipeline([("f", build_featurizer(plan, for_trees=for_trees)), ("m", LogisticRegression(max_iter=500))])
    pipe.fit(to_pandas(frame, plan), frame["y"].to_numpy())
    return pipe, plan


def test_dirty_data_and_unseen_categories_native_matches_onnx() -> None:
    train = mixed_frame(300)
    pipe, plan = _fit(train)
    onnx_bytes = to_onnx(pipe, sample=train.head(5))
    # New data: unseen cities, nulls in floats, and datetimes outside the training range.
    new = mixed_frame(120, seed=7).with_columns(
        pl.when(pl.int_range(pl.len()) % 3 == 0).then(pl.lit("atlantis")).otherwise(pl.col("city")).alias("city"),
        pl.when(pl.int_range(pl.len()) % 5 == 0).then(None).otherwise(pl.col("f32")).alias("f32"),
        (pl.col("when") + pl.duration(days=4000)).alias("when"),
    )
    X_new = to_pandas(new, plan)
    report = check_parity(pipe, onnx_bytes, X_new, "classification")
    assert report.passed, report
    assert report.n_rows + report.n_skipped == 120
    assert report.n_skipped == int(new["flag"].null_count())  # bool inputs cannot carry nulls in ONNX
    # An unseen category encodes as all zeros in the one-hot block.
    encoded = pipe.named_steps["f"].transform(X_new)
    names = list(pipe.named_steps["f"].get_feature_names_out())
    city_cols = [i for i, n in enumerate(names) if n.startswith("cat_string__city_")]
    unseen = (new["city"] == "atlantis").fill_null(False).to_numpy()
    assert unseen.sum() >= 30
    assert len(city_cols) == 4 and (encoded[unseen][:, city_cols] == 0).all()
    assert (encoded[~unseen][:, city_cols].sum(axis=1) == 1).all()


def test_featurizer_output_is_float32_without_nans() -> None:
    frame = mixed_frame(150)
    plan = plan_features(frame, "y")
    for for_trees in (True, False):
        out = build_featurizer(plan, for_trees=for_trees).fit_transform(to_pandas(frame, plan))
        assert out.dtype == np.float32
        assert not np.isnan(out).any()


def test_scaling_only_for_non_tree_models() -> None:
    frame = mixed_frame(150)
    plan = plan_features(frame, "y")
    X = to_pandas(frame, plan)
    scaled = build_featurizer(plan, for_trees=False).fit_transform(X)
    raw = build_featurizer(plan, for_trees=True).fit_transform(X)
    names = list(build_featurizer(plan, for_trees=True).fit(X).get_feature_names_out())
    k_col = names.index("num_int64__k")
    assert abs(float(scaled[:, k_col].mean())) < 1e-5
    assert set(np.unique(raw[:, k_col])) <= {0.0, 1.0, 2.0, 3.0}


def test_civil_parts_match_polars_across_centuries() -> None:
    rng = np.random.default_rng(3)
    micros = rng.integers(-80 * 365 * 86_400 * 10**6, 130 * 365 * 86_400 * 10**6, 5000)
    edge = [dt.datetime(2000, 2, 29, 23, 59), dt.datetime(1900, 3, 1), dt.datetime(1969, 12, 31, 23, 59, 59),
            dt.datetime(1970, 1, 1), dt.datetime(2100, 12, 31, 12, 30)]
    series = pl.concat([pl.Series("t", micros).cast(pl.Datetime("us")), pl.Series("t", edge).cast(pl.Datetime("us"))])
    parts = civil_parts(series.dt.epoch("us").to_numpy())
    assert (parts["year"] == series.dt.year().to_numpy()).all()
    assert (parts["month"] == series.dt.month().to_numpy()).all()
    assert (parts["day"] == series.dt.day().to_numpy()).all()
    assert (parts["weekday"] == series.dt.weekday().to_numpy()).all()
    assert (parts["hour"] == series.dt.hour().to_numpy()).all()
    assert (parts["minute"] == series.dt.minute().to_numpy()).all()


@pytest.mark.parametrize("unit", ["ms", "us", "ns"])
def test_datetime_parts_onnx_equal_native_for_units_timezones_and_dates(unit: str) -> None:
    rng = np.random.default_rng(4)
    n = 400
    when = pl.Series("when", rng.integers(-10**15, 4 * 10**15, n)).cast(pl.Datetime("us"))
    frame = pl.DataFrame({
        "when": when.dt.cast_time_unit(unit),  # type: ignore[arg-type]
        "zoned": when.dt.replace_time_zone("UTC").dt.convert_time_zone("Asia/Kolkata"),
        "day": when.dt.date(),
        "y": rng.integers(0, 2, n),
    }).with_columns(pl.when(pl.int_range(pl.len()) % 9 == 0).then(None).otherwise(pl.col("day")).alias("day"))
    plan = plan_features(frame, "y")
    featurizer = build_featurizer(plan, for_trees=True)
    X = to_pandas(frame, plan)
    native = featurizer.fit_transform(X)
    # Parts of the instant in UTC (what CAST(col AS bigint) encodes), for every unit and zone.
    utc = when
    for block in (0, 6):
        assert (native[:, block + 0] == utc.dt.year().to_numpy()).all()
        assert (native[:, block + 4] == utc.dt.hour().to_numpy()).all()
        assert (native[:, block + 5] == utc.dt.minute().to_numpy()).all()
    days = frame["day"].is_not_null().to_numpy()
    assert (native[days, 14] == frame["day"].dt.day().to_numpy()[days]).all()
    onnx_bytes = to_onnx(Pipeline([("f", featurizer)]), sample=frame.head(3))
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    assert {i.name: i.type for i in session.get_inputs()} == {
        "when": "tensor(int64)", "zoned": "tensor(int64)", "day": "tensor(int64)"}
    feeds, keep = onnx_feeds(session, X)
    assert keep.sum() == n - frame["day"].null_count()
    # The ONNX inputs are exactly the columns cast to bigint, as a SQL CAST would give them.
    assert (feeds["when"].ravel() == frame["when"].cast(pl.Int64).to_numpy()[keep]).all()
    (out,) = session.run(None, feeds)
    assert np.array_equal(out, native[keep])


def test_nanosecond_timestamps_keep_full_precision() -> None:
    # One nanosecond before midnight: float64 would round it up into the next day.
    ns = 1_700_006_399_999_999_999
    frame = pl.DataFrame({"t": pl.Series([ns, ns - 10**12, None], dtype=pl.Int64).cast(pl.Datetime("ns")),
                          "y": [0, 1, 0]})
    plan = plan_features(frame, "y")
    out = build_featurizer(plan, for_trees=True).fit_transform(to_pandas(frame, plan))
    names = list(plan.columns[0].parts)
    assert out[0, names.index("hour")] == 23 and out[0, names.index("minute")] == 59


def test_datetime_parts_transformer_rejects_unknown_parts() -> None:
    with pytest.raises(ConfigError, match="Unknown datetime parts"):
        DatetimeParts(parts=("year", "century")).fit(np.zeros((3, 1)))


def test_reserved_null_codes_read_as_nulls_natively_and_in_onnx() -> None:
    # Scoring feeds NULL_CODES for a null in date and integer-coded category inputs (int64 and int32);
    # the fitted featurizer and its ONNX export must both give exactly the features of a null.
    n = 60
    nulls = np.arange(n) % 4 == 0
    frame = pl.DataFrame({
        "day": pl.Series([None if m else dt.date(2022, 1, 1) + dt.timedelta(days=i * 5) for i, m in enumerate(nulls)]),
        "code": pl.Series([None if m else [3, 7, 11][i % 3] for i, m in enumerate(nulls)], dtype=pl.Int64),
        "code32": pl.Series([None if m else [1, 2][i % 2] for i, m in enumerate(nulls)], dtype=pl.Int32),
        "y": np.arange(n) % 2,
    })
    plan = plan_features(frame, "y", roles={"code": "categorical", "code32": "categorical"})
    featurizer = build_featurizer(plan, for_trees=True)
    X = to_pandas(frame, plan)
    native = featurizer.fit_transform(X)
    assert not np.isnan(native).any()
    codes = {"day": NULL_CODES["int64"], "code": NULL_CODES["int64"], "code32": NULL_CODES["int32"]}
    assert null_codes(featurizer) == codes
    rules = null_rules(plan, featurizer)
    assert rules == {"day": {"null": "impute", "value": codes["day"]},
                     "code": {"null": "category", "value": codes["code"]},
                     "code32": {"null": "category", "value": codes["code32"]}}
    coded = X.copy()
    coded["day"] = X["day"].fillna(codes["day"])
    for name in ("code", "code32"):
        coded[name] = X[name].replace("", str(codes[name]))
    assert np.array_equal(featurizer.transform(coded), native)
    onnx_bytes = to_onnx(Pipeline([("f", featurizer)]), sample=frame.head(3))
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    feeds = {name: frame[name].cast(pl.Int64 if name != "code32" else pl.Int32).fill_null(code).to_numpy()
             .reshape(-1, 1) for name, code in codes.items()}
    (out,) = session.run(None, feeds)
    assert np.array_equal(out, native)


def test_integer_and_bool_inputs_impute_a_whole_median() -> None:
    # an int64/bool ONNX input cannot carry NaN: scoring feeds the fill value, so it must be whole
    def with_nulls(values: list[object]) -> list[object]:  # a null before every 4 values
        it = iter(values)
        return [None if i % 5 == 0 else next(it) for i in range(50)]

    frame = pl.DataFrame({
        "count": with_nulls([k % 10 for k in range(40)]),  # 0..9 four times each: median 4.5
        "flag": with_nulls([k % 2 == 0 for k in range(40)]),  # half true: median 0.5
        "ratio": with_nulls([k % 10 / 1 for k in range(40)]),  # a float input keeps 4.5
        "y": [i % 2 for i in range(50)],
    })
    assert frame["count"].median() == 4.5 and frame["flag"].cast(pl.Float64).median() == 0.5
    plan = plan_features(frame, "y")
    featurizer = build_featurizer(plan, for_trees=False).fit(to_pandas(frame, plan))
    assert imputed_values(featurizer) == {"count": 4.0, "flag": 0.0, "ratio": 4.5}
    assert null_rules(plan, featurizer) == {"count": {"null": "impute", "value": 4},
                                            "flag": {"null": "impute", "value": 0},
                                            "ratio": {"null": "impute"}}
