"""Evaluate a parsed expression against a run's state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from lakeml.errors import ExpressionError
from lakeml.pipeline.expressions.functions import FUNCTIONS, LAZY, REFERENCES, FunctionError, to_text
from lakeml.pipeline.expressions.parser import Node


class EvalContext(Protocol):
    """What expressions can read: the run, activity results, the ForEach item, variables, the trigger."""

    def pipeline(self) -> dict[str, Any]:
        """``pipeline()``: parameters, RunId, Pipeline, TriggerTime, ..."""
        ...

    def activity(self, name: str) -> dict[str, Any]:
        """``activity(name)``: output, status, error (KeyError if it has not run)."""
        ...

    def item(self) -> Any:
        """``item()``: the current ForEach item (LookupError outside a ForEach)."""
        ...

    def variable(self, name: str) -> Any:
        """``variables(name)`` (KeyError if undeclared)."""
        ...

    def trigger(self) -> dict[str, Any]:
        """``trigger()``: outputs.windowStartTime/windowEndTime, startTime, name."""
        ...

    def trigger_body(self) -> dict[str, Any]:
        """``triggerBody()``: fileName and folderPath of a storage event."""
        ...

    def now(self) -> datetime:
        """The clock's current time (aware, UTC)."""
        ...


def evaluate(node: Node, ctx: EvalContext, source: str) -> Any:
    """The value of ``node``; ``source`` is the expression text (for messages).

    Raises:
        ExpressionError: naming the expression, the position and the function that failed.
    """
    if node.kind == "literal":
        return node.value
    if node.kind == "call":
        return _call(node, ctx, source)
    assert node.target is not None
    target = evaluate(node.target, ctx, source)
    if node.kind == "member":
        key: Any = node.name
    else:
        key = evaluate(node.args[0], ctx, source)
    if target is None and node.optional:
        return None
    if isinstance(target, dict):
        if key in target:
            return target[key]
        lowered = {str(k).lower(): k for k in target}
        if isinstance(key, str) and key.lower() in lowered:
            return target[lowered[key.lower()]]
        if node.optional:
            return None
        shown = ", ".join(map(str, list(target)[:20])) or "none"
        raise _error(source, node, f"there is no property {key!r} (properties: {shown})",
                     hint="Use ?. for a property that may be missing, e.g. activity('a').output?.x.")
    if isinstance(target, list | str) and isinstance(key, int) and not isinstance(key, bool):
        if -len(target) <= key < len(target):
            return target[key]
        if node.optional:
            return None
        raise _error(source, node, f"index {key} is outside the {len(target)} items")
    if node.optional:
        return None
    raise _error(source, node, f"cannot read {key!r} of {to_text(target)[:80]!r} (a {type(target).__name__})")


def _call(node: Node, ctx: EvalContext, source: str) -> Any:
    name = node.name.lower()
    if name in REFERENCES:
        return _reference(node, ctx, source)
    function = FUNCTIONS.get(name)
    if function is None:
        raise _error(source, node, f"{node.name}() is not a function", function=node.name)
    check_arity(node, source)
    try:
        if name in LAZY:
            return _lazy(name, node, ctx, source)
        args = [evaluate(arg, ctx, source) for arg in node.args]
        if function.needs_now:
            return function.body(ctx.now(), *args)
        return function.body(*args)
    except FunctionError as exc:
        raise _error(source, node, f"{function.name}() {exc}", function=function.name) from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise _error(source, node, f"{function.name}() failed: {exc}", function=function.name) from None


def _lazy(name: str, node: Node, ctx: EvalContext, source: str) -> Any:
    body = FUNCTIONS[name].body
    if name == "if":
        condition = evaluate(node.args[0], ctx, source)
        if not isinstance(condition, bool):
            raise FunctionError(f"expects a boolean condition, got {to_text(condition)!r}")
        return evaluate(node.args[1 if condition else 2], ctx, source)
    stop = name == "or"  # and() stops at the first false, or() at the first true
    for arg in node.args:
        value = evaluate(arg, ctx, source)
        if body(value, value) == stop:
            return stop
    return not stop


def check_arity(node: Node, source: str) -> None:
    """Raise ExpressionError when a call has the wrong number of arguments (or names no function)."""
    name = node.name.lower()
    low: int
    high: int | None
    if name in REFERENCES:
        low, high = REFERENCES[name]
        shown = node.name
    elif name in FUNCTIONS:
        function = FUNCTIONS[name]
        low, high, shown = function.min_args, function.max_args, function.name
    else:
        raise _error(source, node, f"{node.name}() is not a function", function=node.name,
                     hint=_suggest(node.name))
    n = len(node.args)
    if n < low or (high is not None and n > high):
        wanted = f"{low}" if low == high else (f"{low} or more" if high is None else f"{low} to {high}")
        raise _error(source, node, f"{shown}() takes {wanted} argument{'s' if wanted != '1' else ''}, got {n}",
                     function=shown)


def _reference(node: Node, ctx: EvalContext, source: str) -> Any:
    name = node.name.lower()
    check_arity(node, source)
    args = [evaluate(arg, ctx, source) for arg in node.args]
    try:
        if name == "pipeline":
            return ctx.pipeline()
        if name == "activity":
            return ctx.activity(str(args[0]))
        if name == "item":
            return ctx.item()
        if name == "variables":
            return ctx.variable(str(args[0]))
        if name == "trigger":
            return ctx.trigger()
        return ctx.trigger_body()
    except (KeyError, LookupError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise _error(source, node, str(message), function=node.name) from None


def _suggest(name: str) -> str:
    from lakeml.errors import did_you_mean

    names = [f.name for f in FUNCTIONS.values()] + ["pipeline", "activity", "item", "variables", "trigger",
                                                    "triggerBody"]
    return did_you_mean(name, names) or "See docs/pipelines.md for the list of functions."


def _error(source: str, node: Node, what: str, *, function: str | None = None,
           hint: str | None = None) -> ExpressionError:
    where = f" in {function}()" if function and function.lower() not in what.lower()[:len(function) + 2] else ""
    return ExpressionError(f"The expression {source!r} failed at position {node.pos}{where}: {what}.",
                           expression=source, position=node.pos, function=function,
                           hint=hint or "Check the expression against docs/pipelines.md, Expressions.")
