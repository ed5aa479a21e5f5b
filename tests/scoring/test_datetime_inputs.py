"""Models lakeml trained on dates and datetimes score Date/Datetime columns directly, in any time unit."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from lakeml.errors import PredictError
from lakeml.session import Lake


@pytest.fixture
def events(lake: Lake) -> pl.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    start = [dt.datetime(2024, 1, 1) + dt.timedelta(hours=int(h)) for h in rng.integers(0, 24 * 300, n)]
    frame = pl.DataFrame({"start": start, "amount": rng.normal(size=n)}).with_columns(
        pl.col("start").dt.cast_time_unit("ms"), day=pl.col("start").dt.date())
    frame = frame.with_columns(y=((pl.col("start").dt.hour() >= 12) ^ (pl.col("amount") > 1.5)).cast(pl.Int64))
    lake.write("events", frame)
    result = lake.train("events", target="y", model="random_forest", params={"n_estimators": 20})
    result.register("ev")
    return frame


def test_datetime_and_date_columns_bind_without_casts(lake: Lake, events: pl.DataFrame):
    expected = lake.predict("ev", events.drop("y"), outputs="probabilities array(real, 2)")
    # the same instants in another time unit give the same predictions
    other_unit = events.drop("y").with_columns(pl.col("start").dt.cast_time_unit("us"))
    again = lake.predict("ev", other_unit, outputs="probabilities array(real, 2)")
    assert np.array_equal(expected["probabilities"].to_numpy(), again["probabilities"].to_numpy())
    via_sql = lake.sql("SELECT p.probabilities FROM PREDICT(MODEL = 'ev', DATA = events AS d) "
                       "WITH (probabilities array(real, 2)) AS p").collect()
    assert np.array_equal(expected["probabilities"].to_numpy(), via_sql["probabilities"].to_numpy())
    hours = events.select(pl.col("start").dt.hour() >= 12).to_series().to_numpy()
    predicted = expected["probabilities"].to_numpy()[:, 1] > 0.5
    assert (predicted == hours).mean() > 0.8  # the model really sees the hour


def test_datetime_column_for_a_date_input_is_refused(lake: Lake, events: pl.DataFrame):
    wrong = events.drop("y").with_columns(day=pl.col("start"))
    with pytest.raises(PredictError, match=r"CAST\(day AS DATE\)"):
        lake.predict("ev", wrong)
