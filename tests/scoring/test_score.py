"""``Lake.score``: streaming file-to-file scoring, atomicity, zero rows, Azurite, batch invariance.

Tests taking ``engine_scoring_lake`` run on every engine (tests/conftest.py)."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakeml.errors import LakeMLError, PredictError, TableNotFoundError
from lakeml.session import Lake
from tests.conformance import collect, dtype, portable, same
from tests.scoring.models import column_pipeline, packed_logreg, training_frame

WITH = "label bigint, probabilities array(real, 2)"


def test_score_streams_a_table_bigger_than_one_batch(engine_scoring_lake: Lake) -> None:
    lake = engine_scoring_lake
    result = lake.score("pipe", "cust", "scored", outputs=WITH, batch_size=64)
    assert result.rows == 300 and result.model == "pipe:1" and result.target == "scored"
    expected = lake.predict("pipe", "cust", outputs=WITH)
    assert same(lake.table("scored"), expected, ordered=False)


@pytest.mark.engine_gap("spark", "batch_progress", reason="Spark's workers score the batches; progress hears of "
                                                          "the rows once, when they are committed")
def test_score_reports_progress_after_each_batch(engine_scoring_lake: Lake) -> None:
    seen: list[int] = []
    engine_scoring_lake.score("pipe", "cust", "scored", outputs=WITH, batch_size=64, progress=seen.append)
    assert len(seen) >= 300 // 64 and seen[-1] == 300
    assert all(b - a <= 64 for a, b in zip([0, *seen], seen, strict=False))


def test_score_from_sql_query_to_delta(engine_scoring_lake: Lake) -> None:
    lake = engine_scoring_lake
    result = lake.score("churn", "SELECT id, a, b FROM cust WHERE a > 0", "pos", outputs="label bigint",
                        format="delta")
    got = collect(lake.table("pos"))
    positive = int((training_frame()["a"] > 0).sum())
    assert got.columns == ["id", "a", "b", "label"] and got.height == positive
    assert result.rows == positive


def test_score_modes(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    scoring_lake.score("churn", "cust", "out", outputs="label bigint")
    with pytest.raises(LakeMLError):
        scoring_lake.score("churn", "cust", "out", outputs="label bigint")
    assert scoring_lake.score("churn", "cust", "out", outputs="label bigint", mode="append").rows == 300
    assert collect(scoring_lake.table("out")).height == 600


def test_score_zero_rows_writes_schema(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    scoring_lake.write("empty", training_frame().head(0))
    result = scoring_lake.score("pipe", "empty", "scored_empty", outputs=WITH)
    got = collect(scoring_lake.table("scored_empty"))
    assert result.rows == 0 and got.height == 0
    assert dtype(got, "probabilities") == portable(pl.Array(pl.Float32, 2)) and got.schema["label"] == pl.Int64


def test_score_failure_mid_stream_leaves_no_target(engine_scoring_lake: Lake) -> None:
    scoring_lake = engine_scoring_lake
    df = training_frame(n=2000).with_columns(
        pl.when(pl.int_range(pl.len()) == 1900).then(None).otherwise(pl.col("a")).alias("a"))
    scoring_lake.write("late_null", df)
    with pytest.raises(PredictError, match=r"'a' has 1 null value\(s\); nothing was (written|scored)"):
        scoring_lake.score("pipe", "late_null", "never", batch_size=100)
    assert "never" not in scoring_lake.tables()
    with pytest.raises(TableNotFoundError):
        scoring_lake.table("never")


def test_score_interrupted_leaves_no_target(scoring_lake: Lake) -> None:
    def stop(rows: int) -> None:
        if rows >= 128:
            raise KeyboardInterrupt

    with pytest.raises(BaseException):  # noqa: B017 - the interrupt may be re-wrapped by the engine
        scoring_lake.score("pipe", "cust", "half", batch_size=64, progress=stop)
    assert "half" not in scoring_lake.tables()


@pytest.mark.engine_gap("spark", "file_targets", reason="Spark writes folders of files; lake.score on Spark "
                                                        "writes lake tables, and says so for a file target")
def test_score_to_parquet_path(engine_scoring_lake: Lake, tmp_path) -> None:
    target = str(tmp_path / "out" / "scores.parquet")
    engine_scoring_lake.score("churn", "cust", target, outputs="label bigint")
    assert pl.read_parquet(target).height == 300
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["scores.parquet"]


def test_score_binding_errors_before_writing(engine_scoring_lake: Lake) -> None:
    with pytest.raises(PredictError, match="Unknown SQL type"):
        engine_scoring_lake.score("pipe", "cust", "bad", outputs="label bigintt")
    assert "bad" not in engine_scoring_lake.tables()


@pytest.mark.slow
def test_score_on_azurite(azure_lake: Lake) -> None:
    azure_lake.models.register(column_pipeline()[0], name="pipe")
    azure_lake.write("cust", training_frame())
    azure_lake.score("pipe", "cust", "scored", outputs=WITH, batch_size=100)
    got = azure_lake.table("scored").collect()
    assert got.equals(azure_lake.predict("pipe", "cust", outputs=WITH))
    assert azure_lake.models.get("pipe").version == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(0, 400), batch=st.integers(1, 500), seed=st.integers(0, 3))
def test_batch_size_invariance_property(lake: Lake, n: int, batch: int, seed: int) -> None:
    if "lr" not in lake.models.names():
        lake.models.register(packed_logreg()[0], name="lr", features=["a", "b"])
    df = training_frame(n=max(n, 1), seed=seed).head(n)
    ref = lake.predict("lr", df, outputs=WITH, batch_size=1_000_000)
    assert lake.predict("lr", df, outputs=WITH, batch_size=batch).equals(ref)
