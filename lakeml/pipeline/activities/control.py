"""Control flow and small activities: ForEach, IfCondition, Until, Wait, SetVariable,
AppendVariable, ExecutePipeline and Fail."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lakeml.errors import ActivityError, ActivityTimeoutError, ConfigError
from lakeml.pipeline.activities.values import need
from lakeml.pipeline.definition import parse_timespan
from lakeml.pipeline.expressions.functions import to_text
from lakeml.pipeline.runner import ActivityContext, Handler
from lakeml.pipeline.types import DEFAULT_BATCH_COUNT, DEFAULT_TIMEOUT_S, MAX_BATCH_COUNT


def foreach(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Run the inner activities once per item, ``batchCount`` at a time (or one by one)."""
    items = props.get("items")
    if not isinstance(items, list):
        raise ConfigError(f"ForEach {ctx.activity.name!r}: items must evaluate to an array, got {to_text(items)!r}.",
                          hint="Use an expression giving an array, e.g. @createArray(1, 2) or "
                               "@activity('lookup').output.value.")
    sequential = bool(props.get("isSequential", False))
    batch = min(MAX_BATCH_COUNT, int(props.get("batchCount") or DEFAULT_BATCH_COUNT))
    workers = 1 if sequential else max(1, min(batch, len(items)))
    statuses: list[str] = ["Queued"] * len(items)

    def one(index: int) -> None:
        if ctx.stopped():
            statuses[index] = "Cancelled"
            return
        statuses[index] = ctx.run_children("activities", index=index, item=items[index])

    if workers == 1:
        for i in range(len(items)):
            one(i)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"lakeml-foreach-{ctx.activity.name}") as pool:
            list(pool.map(one, range(len(items))))
    failed = [i for i, s in enumerate(statuses) if s != "Succeeded"]
    if failed:
        shown = ", ".join(map(str, failed[:10])) + (" ..." if len(failed) > 10 else "")
        raise ActivityError(f"ForEach {ctx.activity.name!r}: {len(failed)} of {len(items)} iterations did not "
                            f"succeed (items {shown}).", code="ForEachIterationFailed",
                            hint=f"See the activities under {ctx.record.id!r} in the run.")
    return {"iterations": len(items)}


def if_condition(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Run ``ifTrueActivities`` or ``ifFalseActivities`` by the expression's value."""
    value = ctx.evaluate(props.get("expression"))
    if not isinstance(value, bool):
        raise ConfigError(f"IfCondition {ctx.activity.name!r}: the expression gave {to_text(value)!r}, "
                          "not true or false.", hint="Use a boolean expression such as @greater(x, 1).")
    branch = "ifTrueActivities" if value else "ifFalseActivities"
    status = ctx.run_children(branch)
    if status != "Succeeded":
        raise ActivityError(f"IfCondition {ctx.activity.name!r}: the {branch} branch ended {status}.",
                            code="BranchFailed", hint=f"See the activities under {ctx.record.id!r} in the run.")
    return {"expression": value, "branch": branch}


def until(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Run the inner activities, then the expression, until it is true (or the timeout passes)."""
    timeout_raw = ctx.evaluate(props.get("timeout", DEFAULT_TIMEOUT_S))
    try:
        timeout = parse_timespan(timeout_raw)
    except ValueError as exc:
        raise ConfigError(f"Until {ctx.activity.name!r}: {exc}.", hint="Write timeout as 'd.hh:mm:ss'.") from None
    clock = ctx.run.clock
    start = clock.monotonic()
    iteration = 0
    while True:
        if ctx.stopped():
            raise ActivityError(f"Until {ctx.activity.name!r} was cancelled.", code="Cancelled")
        status = ctx.run_children("activities", index=iteration)
        iteration += 1
        if status != "Succeeded":
            raise ActivityError(f"Until {ctx.activity.name!r}: iteration {iteration - 1} ended {status}.",
                                code="IterationFailed", hint=f"See the activities under {ctx.record.id!r}.")
        value = ctx.evaluate(props.get("expression"))
        if not isinstance(value, bool):
            raise ConfigError(f"Until {ctx.activity.name!r}: the expression gave {to_text(value)!r}, not true or "
                              "false.", hint="Use a boolean expression.")
        if value:
            return {"iterations": iteration}
        if clock.monotonic() - start >= timeout:
            raise ActivityTimeoutError(f"Until {ctx.activity.name!r} timed out after {timeout:g} s and "
                                       f"{iteration} iterations; the expression is still false.",
                                       hint="Raise the Until's timeout, or check its expression.")


def wait(ctx: ActivityContext, props: dict[str, Any]) -> None:
    """Wait ``waitTimeInSeconds`` (through the run's clock; a cancel ends it early)."""
    seconds = props.get("waitTimeInSeconds", 0)
    if isinstance(seconds, str):
        seconds = float(seconds)
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ConfigError(f"Wait {ctx.activity.name!r}: waitTimeInSeconds must be a number >= 0, got {seconds!r}.",
                          hint="Use e.g. 30.")
    if ctx.run.clock.sleep(float(seconds), ctx.run.cancel):
        raise ActivityError(f"Wait {ctx.activity.name!r} was cancelled.", code="Cancelled")


def set_variable(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Set a pipeline variable (converted to its declared type)."""
    from lakeml.pipeline.definition import convert

    name = need(props, "variableName", ctx.activity.name)
    declared = {v.name: v for v in ctx.run.pipeline.variables}
    value = props.get("value")
    try:
        value = convert(declared[name].type, value)
    except ValueError as exc:
        raise ConfigError(f"SetVariable {ctx.activity.name!r}: {exc} (variable {name!r} is "
                          f"{declared[name].type}).", hint="Give a value of the variable's type.") from None
    with ctx.run.var_lock:
        ctx.run.variables[name] = value
        ctx.run.recorder.variables = dict(ctx.run.variables)
    return {"name": name, "value": value}


def append_variable(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Append a value to an array variable."""
    name = need(props, "variableName", ctx.activity.name)
    with ctx.run.var_lock:
        current = list(ctx.run.variables.get(name) or [])
        current.append(props.get("value"))
        ctx.run.variables[name] = current
        ctx.run.recorder.variables = dict(ctx.run.variables)
    return {"name": name, "length": len(current)}


def execute_pipeline(ctx: ActivityContext, props: dict[str, Any]) -> dict[str, Any]:
    """Run another stored pipeline; with ``waitOnCompletion`` (the default) fail when it fails."""
    name = need(props, "pipeline", ctx.activity.name)
    if isinstance(name, dict):
        name = name.get("referenceName")
    parameters = props.get("parameters") or {}
    wait_for = bool(props.get("waitOnCompletion", True))
    if ctx.run.launcher is None:
        raise ConfigError(f"ExecutePipeline {ctx.activity.name!r}: this run cannot start other pipelines.",
                          hint="Run the pipeline through lake.pipelines or 'lakeml pipeline run'.")
    child = ctx.run.launcher(str(name), dict(parameters), wait_for, ctx.run.run.runId)
    if wait_for and child.get("status") != "Succeeded":
        raise ActivityError(f"ExecutePipeline {ctx.activity.name!r}: pipeline {name!r} run "
                            f"{child.get('pipelineRunId')} ended {child.get('status')}: {child.get('message')}",
                            code="ChildPipelineFailed",
                            hint=f"See 'lakeml pipeline show {child.get('pipelineRunId')}'.")
    return child


def fail(ctx: ActivityContext, props: dict[str, Any]) -> None:
    """Fail with the given message and error code."""
    raise ActivityError(to_text(props.get("message")), code=to_text(props.get("errorCode")) or "Fail")


HANDLERS: dict[str, Handler] = {"ForEach": foreach, "IfCondition": if_condition, "Until": until, "Wait": wait,
                                "SetVariable": set_variable, "AppendVariable": append_variable,
                                "ExecutePipeline": execute_pipeline, "Fail": fail}
