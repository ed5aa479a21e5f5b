"""Run tables under _lakeml/runs/<run_id>/ and the automl_* SQL views over all runs."""

from __future__ import annotations

import polars as pl
import pytest

from lakeml.errors import TrainingError
from lakeml.ml import runs


def _trials(n: int) -> pl.DataFrame:
    return pl.DataFrame({"trial_id": list(range(n)), "family": ["lightgbm"] * n,
                         "params": ["{}"] * n, "status": ["ok"] * n, "score": [0.5 + i / 100 for i in range(n)],
                         "fit_time_s": [0.1] * n})


def test_run_ids_sort_by_time() -> None:
    from datetime import UTC, datetime

    a = runs.new_run_id(datetime(2026, 1, 1, tzinfo=UTC))
    b = runs.new_run_id(datetime(2026, 1, 2, tzinfo=UTC))
    assert a < b and a.startswith("20260101T000000Z-")


def test_tables_round_trip_and_views_union_all_runs(lake) -> None:
    runs.write_run_table(lake, "r1", "trials", _trials(3))
    runs.write_run_table(lake, "r2", "trials", _trials(2))
    runs.write_run_table(lake, "r1", "run", pl.DataFrame({"task": ["classification"], "best_score": [0.9]}))
    one = runs.read_run_table(lake, "r1", "trials").collect()
    assert one.columns[0] == "run_id" and one.height == 3 and set(one["run_id"]) == {"r1"}
    assert runs.run_ids(lake) == ["r1", "r2"]
    views = runs.views(lake)
    assert set(views) == {"automl_runs", "automl_trials", "automl_leaderboard", "automl_guardrails",
                          "automl_importances"}
    both = views["automl_trials"]().collect()
    assert both.group_by("run_id").len().sort("run_id")["len"].to_list() == [3, 2]
    # r2 has no run table: the view still works and shows r1 only
    assert views["automl_runs"]().collect()["run_id"].to_list() == ["r1"]


def test_views_are_queryable_with_sql(lake) -> None:
    runs.write_run_table(lake, "r1", "trials", _trials(4))
    out = lake.sql("SELECT run_id, COUNT(*) AS n, MAX(score) AS best FROM automl_trials GROUP BY run_id").collect()
    assert out.to_dicts() == [{"run_id": "r1", "n": 4, "best": pytest.approx(0.53)}]


def test_views_on_a_lake_without_runs_are_empty_with_columns(lake) -> None:
    frame = runs.views(lake)["automl_leaderboard"]().collect()
    assert frame.height == 0 and {"run_id", "rank", "family", "score"} <= set(frame.columns)
    assert runs.list_runs(lake).height == 0


def test_rewriting_a_table_replaces_it(lake) -> None:
    runs.write_run_table(lake, "r1", "run", pl.DataFrame({"task": ["regression"]}))
    runs.mark_registered(lake, "r1", "model:1")
    run = runs.read_run_table(lake, "r1", "run").collect()
    assert run.height == 1 and run["registered_model"].to_list() == ["model:1"]


def test_unknown_run_lists_the_known_ones(lake) -> None:
    runs.write_run_table(lake, "r1", "trials", _trials(1))
    with pytest.raises(TrainingError) as err:
        runs.read_run_table(lake, "nope", "trials")
    assert "Known runs: r1" in str(err.value)


def test_unknown_run_on_an_empty_lake_says_how_to_start(lake) -> None:
    with pytest.raises(TrainingError, match="no AutoML runs"):
        runs.read_run_table(lake, "nope", "trials")


def test_unknown_table_name_is_refused(lake) -> None:
    with pytest.raises(TrainingError, match="Unknown run table 'models'"):
        runs.write_run_table(lake, "r1", "models", _trials(1))
