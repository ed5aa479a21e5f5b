"""The profiling engine's numbers, checked against independent computations (numpy, Python, scipy)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter

import numpy as np
import polars as pl
import pytest
from scipy.stats.contingency import association

from lakeml.errors import ColumnNotFoundError, ConfigError
from lakeml.explore.engine import ProfileOptions, compute_profile


@pytest.fixture(scope="module")
def mixed() -> pl.DataFrame:
    rng = np.random.default_rng(7)
    n = 3000
    x = rng.normal(10, 3, n)
    x[rng.random(n) < 0.1] = np.nan  # NaN counts as missing
    return pl.DataFrame({
        "x": x,
        "k": rng.integers(-3, 9, n),
        "s": rng.choice(["red", "green", "blue", "ünïcødé"], n, p=[0.5, 0.25, 0.2, 0.05]),
        "d": [dt.date(2021, 1, 1) + dt.timedelta(days=int(v)) for v in rng.integers(0, 90, n)],
        "flag": rng.random(n) < 0.3,
        "y": rng.normal(size=n),
    }).with_columns(
        pl.when(pl.col("k") == 0).then(None).otherwise(pl.col("s")).alias("s"),
        (pl.col("y") + pl.col("k") * 0.5).alias("y"),
    )


def _col(profile, name):
    return profile.columns.filter(pl.col("column") == name).row(0, named=True)


def test_numeric_statistics_match_numpy(mixed: pl.DataFrame) -> None:
    p = compute_profile(mixed.lazy())
    x = mixed["x"].to_numpy()
    finite = x[~np.isnan(x)]
    c = _col(p, "x")
    assert c["count"] == len(x) and c["nulls"] == 0 and c["nan"] == int(np.isnan(x).sum())
    assert c["mean"] == pytest.approx(finite.mean())
    assert c["std"] == pytest.approx(finite.std(ddof=1))
    assert c["min"] == pytest.approx(finite.min()) and c["max"] == pytest.approx(finite.max())
    for name, q in (("p5", 5), ("p25", 25), ("median", 50), ("p75", 75), ("p95", 95)):
        assert c[name] == pytest.approx(np.percentile(finite, q)), name
    skew = ((finite - finite.mean()) ** 3).mean() / finite.std() ** 3
    assert c["skew"] == pytest.approx(skew, rel=1e-6)
    k = _col(p, "k")
    ks = mixed["k"].to_numpy()
    assert k["zeros"] == int((ks == 0).sum()) and k["negatives"] == int((ks < 0).sum())
    assert k["distinct"] == len(set(ks.tolist())) and k["distinct_exact"] is True


def test_histograms_match_numpy(mixed: pl.DataFrame) -> None:
    p = compute_profile(mixed.lazy(), options=ProfileOptions(bins=15))
    hist = p.histograms.filter(pl.col("column") == "x").sort("bin")
    x = mixed["x"].to_numpy()
    edges = np.append(hist["lower"].to_numpy(), hist["upper"].to_numpy()[-1])
    expected, _ = np.histogram(x[~np.isnan(x)], bins=edges)
    assert hist.height == 15
    assert hist["count"].to_list() == expected.tolist()
    # small-range integers get one bin per value
    k = p.histograms.filter(pl.col("column") == "k").sort("bin")
    counts = Counter(mixed["k"].to_list())
    assert k["label"].to_list() == [str(v) for v in range(-3, 9)]
    assert k["count"].to_list() == [counts[v] for v in range(-3, 9)]


def test_text_top_values_and_lengths(mixed: pl.DataFrame) -> None:
    p = compute_profile(mixed.lazy(), options=ProfileOptions(top_k=3))
    values = [v for v in mixed["s"].to_list() if v is not None]
    c = _col(p, "s")
    assert c["nulls"] == mixed["s"].null_count()
    assert c["distinct"] == len(set(values))
    assert c["len_min"] == min(map(len, values)) and c["len_max"] == max(map(len, values))
    assert c["len_mean"] == pytest.approx(sum(map(len, values)) / len(values))
    top = p.top_values.filter(pl.col("column") == "s").sort("rank")
    expected = Counter(values).most_common(3)
    assert list(zip(top["value"].to_list(), top["count"].to_list(), strict=True)) == expected
    assert top["share"][0] == pytest.approx(expected[0][1] / mixed.height)


def test_datetime_boolean_and_overview(mixed: pl.DataFrame) -> None:
    doubled = pl.concat([mixed, mixed.head(25)])
    p = compute_profile(doubled.lazy())
    d = _col(p, "d")
    assert d["min_value"] == str(min(doubled["d"].to_list()))
    assert d["max_value"] == str(max(doubled["d"].to_list()))
    hist = p.histograms.filter(pl.col("column") == "d")
    assert hist["count"].sum() == doubled.height
    assert _col(p, "flag")["true"] == int(doubled["flag"].sum())
    rows = doubled.rows()
    assert p.overview["rows"] == len(rows)
    assert p.overview["duplicate_rows"] == len(rows) - len(set(rows))
    nan_cells = int(np.isnan(doubled["x"].to_numpy()).sum())
    assert p.overview["missing_cells"] == doubled.null_count().sum_horizontal()[0] + nan_cells


def test_correlations_match_numpy(mixed: pl.DataFrame) -> None:
    p = compute_profile(mixed.lazy())
    k = mixed["k"].to_numpy().astype(float)
    y = mixed["y"].to_numpy()
    r = p.correlations.filter((pl.col("x") == "k") & (pl.col("y") == "y"))["pearson"][0]
    assert r == pytest.approx(np.corrcoef(k, y)[0, 1])
    names = set(p.correlations["x"].to_list())
    assert names == {"x", "k", "y"}
    assert p.correlations.height == 9


def test_regression_target_relations(mixed: pl.DataFrame) -> None:
    p = compute_profile(mixed.lazy(), target="y")
    assert p.target is not None and p.target["task"] == "regression"
    rel = p.target_relations
    assert rel is not None and "y" not in rel["feature"].to_list()
    k_row = rel.filter(pl.col("feature") == "k").row(0, named=True)
    # k has one bin per value, so eta is the exact correlation ratio of y grouped by k
    grouped = mixed.group_by("k").agg(pl.col("y").mean().alias("m"), pl.len().alias("n"))
    mean = mixed["y"].mean()
    ssb = float((grouped["n"] * (grouped["m"] - mean) ** 2).sum())
    sst = float(((mixed["y"] - mean) ** 2).sum())
    assert k_row["association"] == pytest.approx(math.sqrt(ssb / sst))
    assert k_row["pearson"] == pytest.approx(np.corrcoef(mixed["k"].to_numpy(), mixed["y"].to_numpy())[0, 1])
    assert rel["feature"][0] == "k"  # the strongest relation comes first
    by_k = p.target_by_feature.filter(pl.col("feature") == "k").sort("order")
    expected = dict(zip(grouped["k"].to_list(), grouped["m"].to_list(), strict=True))
    assert by_k["value"].to_list() == pytest.approx([expected[v] for v in range(-3, 9)])


def test_classification_target_cramers_v(mixed: pl.DataFrame) -> None:
    p = compute_profile(mixed.lazy(), target="flag")
    assert p.target["task"] == "classification"
    assert sorted(p.target["classes"]) == ["false", "true"]
    dist = p.target_distribution
    assert dict(dist.select("value", "count").iter_rows()) == {
        "true": int(mixed["flag"].sum()), "false": int((~mixed["flag"]).sum())}
    table = (mixed.drop_nulls("s").with_columns(pl.col("flag").cast(pl.String)).group_by("s", "flag").len()
             .pivot(on="flag", index="s", values="len").fill_null(0).select("false", "true").to_numpy())
    v = p.target_relations.filter(pl.col("feature") == "s")["association"][0]
    assert v == pytest.approx(association(table, method="cramer"))
    k_table = (mixed.with_columns(pl.col("flag").cast(pl.String)).group_by("k", "flag").len()
               .pivot(on="flag", index="k", values="len").fill_null(0).select("false", "true").to_numpy())
    k_v = p.target_relations.filter(pl.col("feature") == "k")["association"][0]
    assert k_v == pytest.approx(association(k_table, method="cramer"))
    shares = p.target_by_feature.filter((pl.col("feature") == "s") & (pl.col("group") == "red")
                                        & (pl.col("class") == "true"))["value"][0]
    red = mixed.filter(pl.col("s") == "red")
    assert shares == pytest.approx(red["flag"].mean())


def test_empty_table() -> None:
    frame = pl.DataFrame(schema={"a": pl.Float64, "b": pl.String, "c": pl.Date})
    p = compute_profile(frame.lazy(), target="a")
    assert p.overview["rows"] == 0 and p.overview["duplicate_rows"] == 0
    assert p.columns["count"].to_list() == [0, 0, 0]
    assert p.histograms.height == 0 and p.top_values.height == 0
    assert p.target_relations is not None


def test_no_columns() -> None:
    p = compute_profile(pl.LazyFrame())
    assert p.overview["columns"] == 0 and p.columns.height == 0


def test_all_null_columns() -> None:
    frame = pl.DataFrame({"a": [None, None, None], "b": [1.0, 2.0, 3.0]},
                         schema={"a": pl.Float64, "b": pl.Float64})
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias("s"), pl.lit(None).alias("n"))
    p = compute_profile(frame.lazy(), target="b")
    a = _col(p, "a")
    assert a["nulls"] == 3 and a["count"] == 0 and a["mean"] is None and a["distinct"] == 0
    assert _col(p, "s")["len_max"] is None
    assert _col(p, "n")["kind"] == "other"
    assert p.histograms.filter(pl.col("column") == "a").height == 0


def test_single_row() -> None:
    p = compute_profile(pl.LazyFrame({"a": [4.5], "s": ["x"], "d": [dt.datetime(2024, 5, 1, 12)]}))
    a = _col(p, "a")
    assert a["mean"] == 4.5 and a["std"] is None and a["median"] == 4.5 and a["skew"] is None
    assert p.histograms.filter(pl.col("column") == "a")["count"].to_list() == [1]
    assert _col(p, "d")["min_value"].startswith("2024-05-01 12:00")


def test_unicode_and_awkward_column_names() -> None:
    frame = pl.DataFrame({"température °C": [1.0, 2.0, 2.0], "名前": ["a", "b", "b"], "mean": [1, 2, 2],
                          "0\x1fnulls": [3, 5, 5]})
    p = compute_profile(frame.lazy())
    assert p.columns["column"].to_list() == frame.columns
    assert _col(p, "température °C")["mean"] == pytest.approx(5 / 3)
    assert _col(p, "名前")["distinct"] == 2
    assert _col(p, "0\x1fnulls")["nulls"] == 0 and _col(p, "0\x1fnulls")["max"] == 5.0
    assert p.overview["duplicate_rows"] == 1


def test_wide_table_500_columns() -> None:
    rng = np.random.default_rng(1)
    frame = pl.DataFrame({f"c{i}": rng.normal(size=200) for i in range(500)})
    p = compute_profile(frame.lazy())
    assert p.columns.height == 500
    assert p.columns["mean"].to_numpy() == pytest.approx(frame.mean().row(0))
    assert p.histograms["column"].n_unique() == 500
    assert p.correlations["x"].n_unique() == ProfileOptions().max_corr_columns
    assert any("first 40 of 500" in note for note in p.notes)


def test_approximate_distinct_on_large_columns() -> None:
    frame = pl.DataFrame({"id": [f"u{i}" for i in range(20_000)], "h": [i % 15_000 for i in range(20_000)],
                          "g": [i % 7 for i in range(20_000)]})
    p = compute_profile(frame.lazy(), options=ProfileOptions(exact_rows=1000, exact_distinct_max=100))
    h = _col(p, "h")
    assert h["distinct_exact"] is False
    assert 0.85 * 15_000 <= h["distinct"] <= 20_000  # an estimate, never above the value count
    assert p.top_values.filter(pl.col("column") == "h").height == 0
    ident = _col(p, "id")  # the unique-column check that settles duplicate rows also makes this exact
    assert ident["distinct_exact"] is True and ident["distinct"] == 20_000
    assert p.overview["duplicate_rows"] == 0
    g = _col(p, "g")
    assert g["distinct_exact"] is True and g["distinct"] == 7
    assert "approximate" in p.overview["distinct_method"]


def test_duplicates_without_a_unique_column() -> None:
    rows = [(i % 50, f"s{i % 30}") for i in range(3000)]
    frame = pl.DataFrame(rows, schema={"a": pl.Int64, "b": pl.String}, orient="row")
    p = compute_profile(frame.lazy())
    assert p.overview["duplicate_rows"] == len(rows) - len(set(rows))
    nearly = pl.DataFrame({"k": [*range(999), 5]})  # looks unique to the estimate, is not
    assert compute_profile(nearly.lazy()).overview["duplicate_rows"] == 1


def test_quantiles_from_a_sample_above_the_limit() -> None:
    values = np.random.default_rng(4).normal(100, 10, 40_000)
    p = compute_profile(pl.LazyFrame({"v": values}), options=ProfileOptions(exact_quantile_rows=5_000))
    v = _col(p, "v")
    assert v["median"] == pytest.approx(np.median(values), abs=1.0)
    assert v["p95"] == pytest.approx(np.percentile(values, 95), abs=1.5)
    assert v["mean"] == pytest.approx(values.mean())  # moments stay exact
    assert any("sample of about 5,000 rows" in note for note in p.notes)


def test_target_errors() -> None:
    frame = pl.LazyFrame({"a": [1, 2], "when": [dt.date(2020, 1, 1), dt.date(2020, 1, 2)]})
    with pytest.raises(ColumnNotFoundError, match="Target column 'A'") as info:
        compute_profile(frame, target="A")
    assert "Did you mean 'a'" in str(info.value)
    with pytest.raises(ConfigError, match="cannot be a learning target"):
        compute_profile(frame, target="when")


def test_temporal_and_special_types() -> None:
    frame = pl.DataFrame({
        "dur": [dt.timedelta(seconds=5), dt.timedelta(minutes=3), None, dt.timedelta(hours=1)],
        "tm": [dt.time(1, 2), dt.time(3, 4), dt.time(5, 6), None],
        "ts": pl.Series([dt.datetime(2024, 1, 1), dt.datetime(2024, 6, 1), None,
                         dt.datetime(2025, 1, 1)]).dt.replace_time_zone("UTC"),
        "cat": pl.Series(["a", "b", "a", None], dtype=pl.Categorical),
        "lst": [[1, 2], [3], None, []],
        "f": pl.Series([1.5, float("inf"), float("nan"), -2.0], dtype=pl.Float32),
    })
    p = compute_profile(frame.lazy(), target="cat")
    assert _col(p, "dur")["max_value"] == "1:00:00"
    assert _col(p, "tm")["min_value"] == "01:02:00"
    ts = p.histograms.filter(pl.col("column") == "ts")
    assert ts["label"][0] == "2024-01-01 – 2024-01-19"  # day resolution for multi-day bins
    assert ts["count"].sum() == 3
    f = _col(p, "f")  # NaN and inf are counted apart and kept out of the statistics
    assert (f["nan"], f["infinite"], f["min"], f["max"], f["mean"]) == (1, 1, -2.0, 1.5, -0.25)
    assert _col(p, "lst")["kind"] == "other" and _col(p, "lst")["nulls"] == 1
    assert p.top_values.filter(pl.col("column") == "dur")["value"].to_list()[0] in {"0:00:05", "0:03:00", "1:00:00"}
