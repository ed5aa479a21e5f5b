"""The AutoML stage of ``lakeml demo``: predict late arrivals from schedule-time features.

AutoML runs with a short budget on January-October flights (a SQL query; only features known
when the flight is scheduled, never dep_delay/dep_time/arr_time/air_time, which leak the answer),
registers the winner, and scores November flights with SQL PREDICT by column name.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeml.session import Lake

MODEL_NAME = "flight_delay_automl"
#: Budget of the demo run (seconds); the whole stage stays well under a minute and a half.
DEMO_BUDGET = 30.0
FEATURES = "month, day, hour, minute, sched_dep_time, sched_arr_time, carrier, origin, dest, distance"
TRAIN_SQL = (f"SELECT {FEATURES}, CASE WHEN arr_delay > 15 THEN 1 ELSE 0 END AS late "
             "FROM flights WHERE arr_delay IS NOT NULL AND month <= 10")
SCORE_SQL = (f"WITH nov AS (SELECT {FEATURES}, CASE WHEN arr_delay > 15 THEN 1 ELSE 0 END AS late "
             "FROM flights WHERE arr_delay IS NOT NULL AND month = 11) "
             "SELECT d.late, p.label, p.probabilities "
             f"FROM PREDICT(MODEL = '{MODEL_NAME}', DATA = nov AS d) "
             "WITH (label bigint, probabilities array(real, 2)) AS p")


def demo_step(lake: Lake, console: Any, *, budget: float = DEMO_BUDGET) -> None:
    """Run AutoML on the demo ``flights`` table, register the best model, score with SQL PREDICT.

    Args:
        lake: a lake holding the demo ``flights`` table.
        console: a rich console to print to.
        budget: AutoML time budget in seconds.
    """
    import numpy as np
    import polars as pl
    from sklearn.metrics import roc_auc_score

    from lakeml.cli.output import render_table
    from lakeml.errors import ModelExistsError

    console.rule(f"AutoML: will a flight arrive > 15 min late? ({budget:g} s budget)")
    console.print(f"[dim]{TRAIN_SQL}[/dim]")
    started = time.perf_counter()
    result = lake.automl(TRAIN_SQL, target="late", time_budget=budget, seed=42, max_rows=100_000)
    console.print(f"{result.trials.height} trials in {result.wall_time_s:.1f}s (budget {budget:g}s, overrun "
                  f"{result.overrun_s:.1f}s); best [bold]{result.best_family}[/bold], validation "
                  f"{result.metric} {result.best_score:.4f}; run tables under _lakeml/runs/{result.run_id}/")
    render_table(result.leaderboard.select("rank", "family", "score", "log_loss", "fit_time_s").head(8),
                 title="leaderboard (top 8)")
    render_table(result.guardrails_frame.select("name", "status", "detail"), title="data guardrails")
    try:
        version = result.register(MODEL_NAME)
        console.print(f"registered [bold]{version.ref}[/bold]; ONNX parity max |diff| "
                      f"{result.parity.max_abs_diff:.2g} on {result.parity.n_rows:,} validation rows")
    except ModelExistsError:
        console.print(f"the same model is already registered as {MODEL_NAME}; scoring that one")

    console.rule("Score November flights with SQL PREDICT (binds inputs by column name)")
    console.print(f"[dim]{SCORE_SQL}[/dim]")
    scored = lake.sql(SCORE_SQL).collect()
    proba = np.asarray(scored["probabilities"].to_list(), dtype=np.float64)[:, 1]
    auc = float(roc_auc_score(scored["late"].to_numpy(), proba))
    summary = scored.group_by("label").agg(pl.len().alias("flights"), pl.col("late").mean().alias("share_late"))
    render_table(summary.sort("label"), title="November: predicted label vs actual share late")
    console.print(f"November AUC {auc:.3f} on {scored.height:,} flights never seen in training "
                  f"({time.perf_counter() - started:.1f}s for the whole AutoML stage)")
    console.print(f"[dim]Try: lakeml --lake {lake.root} runs {result.run_id}[/dim]")
