"""Check a pipeline document and report every problem at once, each with its JSON path."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakeml.errors import ExpressionError, did_you_mean
from lakeml.pipeline.definition import convert, parse_timespan
from lakeml.pipeline.expressions.evaluate import check_arity
from lakeml.pipeline.expressions.parser import Node
from lakeml.pipeline.expressions.template import Template, compile_value
from lakeml.pipeline.types import (
    ACTIVITY_KEYS,
    ACTIVITY_TYPES,
    CLOUD_EQUIVALENTS,
    CONDITIONS,
    MAX_ACTIVITY_NAME,
    MAX_BATCH_COUNT,
    MAX_PIPELINE_NAME,
    PARAMETER_TYPES,
    PIPELINE_KEYS,
    POLICY_KEYS,
    PROPERTIES_KEYS,
    VARIABLE_TYPES,
)

Issue = tuple[str, str]
_BAD_NAME_CHARS = re.compile(r"[.+?/<>*%&:\\]")


@dataclass
class _State:
    issues: list[Issue] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # activity name -> path of first use
    all_names: set[str] = field(default_factory=set)
    parameters: set[str] = field(default_factory=set)
    variables: dict[str, str] = field(default_factory=dict)  # name -> type

    def add(self, path: str, message: str) -> None:
        self.issues.append((path, message))


def problems(document: Any) -> list[Issue]:
    """Every problem of a pipeline document, as ``(json_path, message)``; [] when it is valid."""
    state = _State()
    if not isinstance(document, Mapping):
        return [("$", f"a pipeline is a JSON object with 'name' and 'properties', got {type(document).__name__}")]
    _unknown_keys(state, "$", document, PIPELINE_KEYS, "pipeline")
    name = document.get("name")
    if not isinstance(name, str) or not name.strip():
        state.add("$.name", "the pipeline needs a name (a non-empty string)")
    else:
        if len(name) > MAX_PIPELINE_NAME:
            state.add("$.name", f"the pipeline name is {len(name)} characters; the limit is {MAX_PIPELINE_NAME}")
        if _BAD_NAME_CHARS.search(name) or name.startswith(("_", "-", " ")):
            state.add("$.name", f"the pipeline name {name!r} may not contain . + ? / < > * % & : \\ "
                                "or start with _, - or a space")
    props = document.get("properties")
    if not isinstance(props, Mapping):
        state.add("$.properties", "missing 'properties' (an object with 'activities')")
        return state.issues
    _unknown_keys(state, "$.properties", props, PROPERTIES_KEYS, "pipeline properties")
    _declarations(state, "$.properties.parameters", props.get("parameters"), PARAMETER_TYPES, "parameter")
    _declarations(state, "$.properties.variables", props.get("variables"), VARIABLE_TYPES, "variable")
    state.parameters = set((props.get("parameters") or {}) if isinstance(props.get("parameters"), Mapping) else ())
    if isinstance(props.get("variables"), Mapping):
        state.variables = {k: str(v.get("type", "string")).lower() for k, v in props["variables"].items()
                           if isinstance(v, Mapping)}
    concurrency = props.get("concurrency")
    if concurrency is not None and (not isinstance(concurrency, int) or isinstance(concurrency, bool)
                                    or concurrency < 1):
        state.add("$.properties.concurrency", f"concurrency must be a whole number of at least 1, got {concurrency!r}")
    activities = props.get("activities")
    if not isinstance(activities, list) or not activities:
        state.add("$.properties.activities", "a pipeline needs a non-empty list of activities")
        return state.issues
    _collect_names(activities, state.all_names)
    _scope(state, "$.properties.activities", activities, parents=())
    return state.issues


def _collect_names(activities: list[Any], into: set[str]) -> None:
    for raw in activities:
        if not isinstance(raw, Mapping):
            continue
        if isinstance(raw.get("name"), str):
            into.add(raw["name"])
        kind = ACTIVITY_TYPES.get(str(raw.get("type")))
        props = raw.get("typeProperties")
        if kind and isinstance(props, Mapping):
            for key in kind.nested:
                if isinstance(props.get(key), list):
                    _collect_names(props[key], into)


def _unknown_keys(state: _State, path: str, obj: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    for key in obj:
        if key not in allowed:
            guess = did_you_mean(str(key), allowed)
            state.add(f"{path}.{key}", f"unknown {what} property {key!r}"
                      + (f"; {guess}" if guess else f" (allowed: {', '.join(sorted(allowed))})"))


def _declarations(state: _State, path: str, section: Any, types: tuple[str, ...], what: str) -> None:
    if section is None:
        return
    if not isinstance(section, Mapping):
        state.add(path, f"{what}s are an object of name -> {{type, defaultValue}}")
        return
    for name, spec in section.items():
        where = f"{path}.{name}"
        if not isinstance(spec, Mapping):
            state.add(where, f"the {what} {name!r} must be an object with a 'type'")
            continue
        _unknown_keys(state, where, spec, frozenset({"type", "defaultValue"}), what)
        kind = str(spec.get("type", "string")).lower()
        if kind not in types:
            state.add(f"{where}.type", f"unknown {what} type {spec.get('type')!r} (use one of: {', '.join(types)})")
        elif spec.get("defaultValue") is not None:
            try:
                convert(kind, spec["defaultValue"])
            except ValueError as exc:
                state.add(f"{where}.defaultValue", f"the default of {what} {name!r} is not a {kind}: {exc}")


def _scope(state: _State, path: str, activities: list[Any], *, parents: tuple[tuple[str, Mapping[str, Any]], ...]
           ) -> None:
    """Check one list of sibling activities (the top level or a nested list); ``parents`` are the
    enclosing control activities (type, typeProperties), innermost last."""
    siblings: dict[str, int] = {}
    for i, raw in enumerate(activities):
        if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
            siblings.setdefault(raw["name"], i)
    graph: dict[str, list[str]] = {}
    for i, raw in enumerate(activities):
        where = f"{path}[{i}]"
        if not isinstance(raw, Mapping):
            state.add(where, "an activity is an object with 'name' and 'type'")
            continue
        name = _activity_name(state, where, raw)
        graph[name] = _dependencies(state, where, raw, name, siblings)
        _activity(state, where, raw, name, parents)
    for cycle in _cycles(graph):
        first = min(siblings.get(n, 0) for n in cycle)
        state.add(f"{path}[{first}].dependsOn", "a dependency cycle: " + " -> ".join([*cycle, cycle[0]]))


def _activity_name(state: _State, where: str, raw: Mapping[str, Any]) -> str:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        state.add(f"{where}.name", "every activity needs a name (a non-empty string)")
        return f"<activity {where}>"
    if len(name) > MAX_ACTIVITY_NAME:
        state.add(f"{where}.name", f"the activity name {name[:20]!r}... is {len(name)} characters; "
                                   f"the limit is {MAX_ACTIVITY_NAME}")
    if name in state.names:
        state.add(f"{where}.name", f"the activity name {name!r} is used twice (first at {state.names[name]}); "
                                   "names are unique in a pipeline, nested activities included")
    else:
        state.names[name] = where
    return name


def _dependencies(state: _State, where: str, raw: Mapping[str, Any], name: str, siblings: dict[str, int]
                  ) -> list[str]:
    deps = raw.get("dependsOn")
    if deps is None:
        return []
    if not isinstance(deps, list):
        state.add(f"{where}.dependsOn", "dependsOn is a list of {activity, dependencyConditions}")
        return []
    found = []
    for j, dep in enumerate(deps):
        at = f"{where}.dependsOn[{j}]"
        if not isinstance(dep, Mapping):
            state.add(at, "a dependency is an object {activity, dependencyConditions}")
            continue
        _unknown_keys(state, at, dep, frozenset({"activity", "dependencyConditions"}), "dependency")
        target = dep.get("activity")
        if target == name:
            state.add(f"{at}.activity", f"the activity {name!r} depends on itself")
        elif target not in siblings:
            guess = did_you_mean(str(target), siblings)
            elsewhere = (" (it exists, but in another activity list: dependencies link activities of the same list)"
                         if target in state.all_names else "")
            state.add(f"{at}.activity", f"{name!r} depends on {target!r}, which is not an activity here"
                      + elsewhere + (f"; {guess}" if guess else ""))
        else:
            found.append(str(target))
        conditions = dep.get("dependencyConditions", ["Succeeded"])
        if not isinstance(conditions, list) or not conditions:
            state.add(f"{at}.dependencyConditions", f"a non-empty list of {', '.join(CONDITIONS)}")
            continue
        for k, cond in enumerate(conditions):
            if cond not in CONDITIONS:
                state.add(f"{at}.dependencyConditions[{k}]",
                          f"unknown condition {cond!r} (use {', '.join(CONDITIONS)})")
    return found


def _activity(state: _State, where: str, raw: Mapping[str, Any], name: str,
              parents: tuple[tuple[str, Mapping[str, Any]], ...]) -> None:
    _unknown_keys(state, where, raw, ACTIVITY_KEYS, "activity")
    type_name = raw.get("type")
    kind = ACTIVITY_TYPES.get(str(type_name))
    if kind is None:
        if type_name in CLOUD_EQUIVALENTS:
            state.add(f"{where}.type", f"the cloud activity type {type_name!r} of {name!r} does not run in lakeml; "
                                       f"use {CLOUD_EQUIVALENTS[type_name]}")
        else:
            guess = did_you_mean(str(type_name), ACTIVITY_TYPES)
            state.add(f"{where}.type", f"unknown activity type {type_name!r} of {name!r}"
                      + (f"; {guess}" if guess else f" (lakeml types: {', '.join(ACTIVITY_TYPES)})"))
        return
    props = raw.get("typeProperties", {})
    if not isinstance(props, Mapping):
        state.add(f"{where}.typeProperties", "typeProperties is an object")
        return
    if "policy" in raw:
        if kind.control:
            state.add(f"{where}.policy", f"{kind.name} is a control activity and takes no policy")
        else:
            _policy(state, f"{where}.policy", raw["policy"])
    for key in props:
        if key not in kind.properties:
            guess = did_you_mean(str(key), kind.properties)
            state.add(f"{where}.typeProperties.{key}", f"{kind.name} has no property {key!r}"
                      + (f"; {guess}" if guess else f" (it has: {', '.join(sorted(kind.properties))})"))
    for alternatives in kind.required:
        if not any(k in props for k in alternatives):
            state.add(f"{where}.typeProperties", f"{kind.name} {name!r} needs " + " or ".join(map(repr, alternatives)))
    in_foreach = any(t == "ForEach" for t, _ in parents)
    for key, value in props.items():
        if key not in kind.nested:
            _expressions(state, f"{where}.typeProperties.{key}", value, in_foreach)
    _specific(state, where, kind.name, props, name, parents)
    for key in kind.nested:
        nested = props.get(key)
        if nested is None:
            continue
        if not isinstance(nested, list):
            state.add(f"{where}.typeProperties.{key}", "a list of activities")
            continue
        if kind.name in ("ForEach", "Until"):
            for j, child in enumerate(nested):
                if isinstance(child, Mapping) and child.get("type") in ("ForEach", "Until"):
                    state.add(f"{where}.typeProperties.{key}[{j}].type",
                              f"a {child.get('type')} directly inside a {kind.name} is not allowed; "
                              "put it in another pipeline and call it with ExecutePipeline")
        _scope(state, f"{where}.typeProperties.{key}", nested, parents=(*parents, (kind.name, props)))


def _specific(state: _State, where: str, kind: str, props: Mapping[str, Any], name: str,
              parents: tuple[tuple[str, Mapping[str, Any]], ...]) -> None:
    at = f"{where}.typeProperties"
    if kind == "ForEach":
        batch = props.get("batchCount")
        if batch is not None and (not isinstance(batch, int) or isinstance(batch, bool)
                                  or not 1 <= batch <= MAX_BATCH_COUNT):
            state.add(f"{at}.batchCount", f"batchCount must be a whole number from 1 to {MAX_BATCH_COUNT}, "
                                          f"got {batch!r}")
        seq = props.get("isSequential")
        if seq is not None and not isinstance(seq, bool):
            state.add(f"{at}.isSequential", f"isSequential is true or false, got {seq!r}")
    if kind in ("SetVariable", "AppendVariable"):
        variable = props.get("variableName")
        if isinstance(variable, str) and variable not in state.variables:
            guess = did_you_mean(variable, state.variables)
            state.add(f"{at}.variableName", f"{name!r} sets {variable!r}, which is not a declared variable"
                      + (f"; {guess}" if guess else ""))
        elif kind == "AppendVariable" and isinstance(variable, str) and state.variables[variable] != "array":
            state.add(f"{at}.variableName", f"AppendVariable needs an Array variable; {variable!r} is "
                                            f"{state.variables[variable]}")
        for parent, parent_props in parents:
            if parent == "ForEach" and parent_props.get("isSequential") is not True:
                state.add(f"{where}.type", f"{kind} {name!r} is inside a parallel ForEach; variables are "
                                           "pipeline-wide, so set isSequential: true or move it out")
                break
    if kind == "Wait":
        _number(state, f"{at}.waitTimeInSeconds", props.get("waitTimeInSeconds"), "waitTimeInSeconds")
    if kind == "Until" and "timeout" in props and not isinstance(props["timeout"], str | int | float):
        state.add(f"{at}.timeout", "timeout is a timespan like '0.01:00:00'")
    elif kind == "Until" and "timeout" in props and not _is_expr(props["timeout"]):
        try:
            parse_timespan(props["timeout"])
        except ValueError as exc:
            state.add(f"{at}.timeout", str(exc))
    if kind == "Copy":
        sink = props.get("sink")
        if isinstance(sink, Mapping):
            mode = sink.get("mode", "append")
            if not _is_expr(mode) and mode not in ("append", "overwrite", "error", "merge"):
                state.add(f"{at}.sink.mode", f"unknown sink mode {mode!r} (append, overwrite, error or merge)")
            if mode == "merge" and not sink.get("keys"):
                state.add(f"{at}.sink.keys", "mode 'merge' needs 'keys' (the columns that identify a row)")
            if not sink.get("table"):
                state.add(f"{at}.sink.table", "the sink needs a 'table'")
        source = props.get("source")
        if isinstance(source, Mapping) and not any(k in source for k in ("path", "table", "sql")):
            state.add(f"{at}.source", "the source needs 'path', 'table' or 'sql'")
        watermark = props.get("watermark")
        if watermark is not None and not (isinstance(watermark, Mapping) and watermark.get("column")):
            state.add(f"{at}.watermark", "watermark is an object {\"column\": NAME}")
    if kind == "GetMetadata":
        allowed = {"exists", "itemName", "itemType", "lastModified", "size", "childItems", "columnCount",
                   "structure", "rowCount"}
        fields = props.get("fieldList")
        if isinstance(fields, list):
            for j, f in enumerate(fields):
                if f not in allowed:
                    state.add(f"{at}.fieldList[{j}]", f"unknown field {f!r} (use: {', '.join(sorted(allowed))})")


def _is_expr(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("@")
    return isinstance(value, Mapping) and value.get("type") == "Expression"


def _number(state: _State, path: str, value: Any, what: str) -> None:
    if value is None or _is_expr(value):
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        state.add(path, f"{what} must be a number of at least 0, got {value!r}")


def _policy(state: _State, path: str, raw: Any) -> None:
    if not isinstance(raw, Mapping):
        state.add(path, "policy is an object {timeout, retry, retryIntervalInSeconds}")
        return
    _unknown_keys(state, path, raw, POLICY_KEYS, "policy")
    if "timeout" in raw:
        try:
            parse_timespan(raw["timeout"])
        except ValueError as exc:
            state.add(f"{path}.timeout", str(exc))
    retry = raw.get("retry", 0)
    if not isinstance(retry, int) or isinstance(retry, bool) or retry < 0:
        state.add(f"{path}.retry", f"retry is a whole number of at least 0, got {retry!r}")
    _number(state, f"{path}.retryIntervalInSeconds", raw.get("retryIntervalInSeconds"), "retryIntervalInSeconds")
    backoff = raw.get("retryBackoff")
    if backoff is not None and backoff != "exponential":
        state.add(f"{path}.retryBackoff", f"retryBackoff is 'exponential' (or absent), got {backoff!r}")


def _expressions(state: _State, path: str, value: Any, in_foreach: bool) -> None:
    try:
        compiled = compile_value(value)
    except ExpressionError as exc:
        state.add(path, exc.message)
        return
    for template, where in _templates(compiled, path):
        for node in template.nodes():
            _check_node(state, where, node, template.source, in_foreach)


def _templates(value: Any, path: str) -> list[tuple[Template, str]]:
    if isinstance(value, Template):
        return [(value, path)]
    if isinstance(value, dict):
        return [t for k, v in value.items() for t in _templates(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [t for i, v in enumerate(value) for t in _templates(v, f"{path}[{i}]")]
    return []


def _check_node(state: _State, path: str, node: Node, source: str, in_foreach: bool) -> None:
    if node.kind == "call":
        try:
            check_arity(node, source)
        except ExpressionError as exc:
            state.add(path, exc.message)
        lowered = node.name.lower()
        literal = node.args[0].value if node.args and node.args[0].kind == "literal" else None
        if lowered == "activity" and isinstance(literal, str) and literal not in state.all_names:
            guess = did_you_mean(literal, state.all_names)
            state.add(path, f"the expression {source!r} reads activity({literal!r}) at position {node.pos}, "
                            "but there is no such activity" + (f"; {guess}" if guess else ""))
        if lowered == "variables" and isinstance(literal, str) and literal not in state.variables:
            state.add(path, f"the expression {source!r} reads variables({literal!r}) at position {node.pos}, "
                            "but no such variable is declared")
        if lowered == "item" and not in_foreach:
            state.add(path, f"the expression {source!r} uses item() at position {node.pos} outside a ForEach")
    if (node.kind == "member" and node.target is not None and node.target.kind == "member"
            and node.target.name.lower() == "parameters" and node.target.target is not None
            and node.target.target.kind == "call" and node.target.target.name.lower() == "pipeline"
            and node.name not in state.parameters):
        guess = did_you_mean(node.name, state.parameters)
        state.add(path, f"the expression {source!r} reads the parameter {node.name!r} at position {node.pos}, "
                        "which is not declared" + (f"; {guess}" if guess else ""))
    for child in (*node.args, *((node.target,) if node.target is not None else ())):
        _check_node(state, path, child, source, in_foreach)


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each dependency cycle once (as the list of names along it)."""
    found: list[list[str]] = []
    seen_sets: list[frozenset[str]] = []
    color: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        color[node] = 1
        stack.append(node)
        for nxt in graph.get(node, []):
            if color.get(nxt, 0) == 0:
                visit(nxt)
            elif color.get(nxt) == 1:
                cycle = stack[stack.index(nxt):]
                key = frozenset(cycle)
                if key not in seen_sets:
                    seen_sets.append(key)
                    found.append(list(reversed(cycle)))
        stack.pop()
        color[node] = 2

    for node in graph:
        if color.get(node, 0) == 0:
            visit(node)
    return found
