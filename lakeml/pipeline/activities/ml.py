"""Train, AutoML, Predict and Profile: the lake's ML steps as activities."""

from __future__ import annotations

from typing import Any

from lakeml.pipeline.activities.values import json_value, need
from lakeml.pipeline.runner import ActivityContext, Handler


def _register(ctx: ActivityContext, result: Any, props: dict[str, Any]) -> dict[str, Any]:
    name = props.get("register")
    if not name:
        return {}
    version = result.register(str(name), description=props.get("description"))
    alias = props.get("alias")
    if alias:
        ctx.lake.models.set_alias(str(name), version.version, str(alias))
    reference = f"{name}:{version.version}"
    return {"model": reference, "modelName": str(name), "modelVersion": version.version,
            "alias": f"{name}@{alias}" if alias else None}


def train(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """``lake.train``; registers the model when ``register`` names it."""
    name = ctx.activity.name
    result = ctx.lake.train(need(props, "data", name), target=need(props, "target", name),
                            model=props.get("model", "lightgbm"), params=props.get("params"), task=props.get("task"),
                            roles=props.get("roles"), seed=int(props.get("seed", 0)))
    return {"metrics": json_value(result.metrics), "family": result.family, "task": result.task,
            **_register(ctx, result, props)}


def automl(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """``lake.automl``; registers the best model when ``register`` names it."""
    name = ctx.activity.name
    result = ctx.lake.automl(need(props, "data", name), target=need(props, "target", name), task=props.get("task"),
                             metric=props.get("metric"), time_budget=props.get("timeBudget", 60),
                             max_trials=props.get("maxTrials"), seed=props.get("seed"),
                             allowed=props.get("allowed"), blocked=props.get("blocked"), roles=props.get("roles"))
    return {"runId": result.run_id, "metrics": json_value(result.metrics), "bestFamily": result.best_family,
            "bestScore": json_value(result.best_score), "metric": result.metric, **_register(ctx, result, props)}


def predict(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """``lake.score`` from a table or query into a target table."""
    name = ctx.activity.name
    result = ctx.lake.score(need(props, "model", name), need(props, "source", name), need(props, "target", name),
                            outputs=props.get("outputs"), on_null=props.get("onNull", "error"),
                            mode=props.get("mode", "overwrite"))
    return {"rowsScored": result.rows, "target": result.target, "model": result.model}


def profile(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """``lake.profile`` of a table or query; the HTML report is written into the lake."""
    data = props.get("table") or props.get("query")
    report = ctx.lake.profile(data, target=props.get("target"), sample=props.get("sample"))
    output = props.get("output") or f"_lakeml/profiles/{ctx.run.run.runId}/{ctx.activity.name}.html"
    from lakeml.storage.lakefs import clean_relpath

    path = clean_relpath(str(output))
    ctx.lake.storage.write_bytes(path, report.to_html().encode())
    alerts = report.to_dict().get("alerts", [])
    return {"reportPath": path, "alerts": json_value(alerts), "alertCount": len(alerts)}


HANDLERS: dict[str, Handler] = {"Train": train, "AutoML": automl, "Predict": predict, "Profile": profile}
