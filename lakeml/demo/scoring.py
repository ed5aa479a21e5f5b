"""Demo stage: train a small pipeline on ``flights``, register it as ONNX, and score it with SQL PREDICT."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lakeml.session import Lake

FEATURES_SQL = ("CAST(month AS REAL) AS month, CAST(hour AS REAL) AS hour, CAST(distance AS REAL) AS distance, "
                "carrier, origin")
TRAIN_SQL = (f"SELECT {FEATURES_SQL}, CASE WHEN arr_delay > 15 THEN 1 ELSE 0 END AS late "
             "FROM flights WHERE arr_delay IS NOT NULL AND month <= 10")
PREDICT_SQL = f"""
WITH november AS (SELECT flight, dest, {FEATURES_SQL} FROM flights WHERE month = 11)
SELECT TOP 8 d.carrier, d.flight, d.origin, d.dest, d.hour, p.label AS predicted_late
FROM PREDICT(MODEL = 'flight_delay@champion', DATA = november AS d, RUNTIME = ONNX)
WITH (label bigint) AS p
"""
BOUND_SQL = f"""
WITH november AS (SELECT {FEATURES_SQL} FROM flights WHERE month = 11)
SELECT carrier, COUNT(*) AS flights,
       AVG(PREDICT('delay', month, hour, distance, carrier, origin)) AS avg_p_late
FROM november GROUP BY carrier ORDER BY avg_p_late DESC LIMIT 5
"""


def demo_step(lake: Lake, console: Any) -> None:
    """Train a scikit-learn pipeline on the demo ``flights`` table, register it and score with SQL PREDICT."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from lakeml.cli.output import render_table

    console.rule("Train a pipeline on Jan-Oct flights, register it as ONNX")
    train = lake.sql(TRAIN_SQL).collect()
    train = train.sample(n=min(60_000, train.height), seed=7)
    x, y = train.drop("late").to_pandas(), train["late"].to_numpy()
    pipe = Pipeline([
        ("prep", ColumnTransformer([("num", StandardScaler(), ["month", "hour", "distance"]),
                                    ("cat", OneHotEncoder(handle_unknown="ignore"), ["carrier", "origin"])])),
        ("clf", LogisticRegression(max_iter=500, class_weight="balanced")),
    ]).fit(x, y)
    auc = float(roc_auc_score(y, pipe.predict_proba(x)[:, 1]))
    try:
        mv = lake.models.register(pipe, name="flight_delay", sample=train.drop("late").head(5),
                                  description="P(arrival delay > 15 min) from schedule features",
                                  metrics={"train_auc": round(auc, 4)}, lineage={"query": TRAIN_SQL})
    except Exception as exc:  # same bytes registered by an earlier demo run: reuse that version
        from lakeml.errors import ModelExistsError

        if not isinstance(exc, ModelExistsError):
            raise
        mv = lake.models.get("flight_delay")
    lake.models.set_alias("flight_delay", mv.version, "champion")
    console.print(f"registered [bold]{mv.ref}[/bold] (alias champion), train AUC {auc:.3f}")
    console.print(lake.models.describe(mv.ref), markup=False, highlight=False)

    console.rule("Score November flights with SQL PREDICT (table form)")
    console.print(f"[dim]{' '.join(PREDICT_SQL.split())}[/dim]")
    started = time.perf_counter()
    render_table(lake.sql(PREDICT_SQL).collect())
    console.print(f"[dim]{time.perf_counter() - started:.2f}s[/dim]")

    console.rule("Bound-model form: PREDICT('delay', ...) as a scalar function")
    lake.models.bind("flight_delay@champion", alias="delay", return_type="float", output="probabilities[1]")
    console.print(f"[dim]{' '.join(BOUND_SQL.split())}[/dim]")
    render_table(lake.sql(BOUND_SQL).collect())
