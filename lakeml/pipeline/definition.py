"""A pipeline definition as frozen dataclasses, built from a validated document."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lakeml.pipeline.expressions.template import compile_value
from lakeml.pipeline.types import (
    ACTIVITY_TYPES,
    DEFAULT_RETRY_INTERVAL_S,
    DEFAULT_TIMEOUT_S,
)

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.\d+)?$")


@dataclass(frozen=True)
class Dependency:
    """One ``dependsOn`` entry: the activity and the conditions (any of them) it must end in."""

    activity: str
    conditions: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """Timeout and retry of an execution activity."""

    timeout_s: float = DEFAULT_TIMEOUT_S
    retry: int = 0
    retry_interval_s: float = DEFAULT_RETRY_INTERVAL_S
    backoff: str | None = None


@dataclass(frozen=True)
class Activity:
    """One activity: ``properties`` are its compiled ``typeProperties`` (expressions parsed, nested
    activity lists removed); ``children`` holds the nested lists by key (``activities``,
    ``ifTrueActivities``, ...)."""

    name: str
    type: str
    depends_on: tuple[Dependency, ...] = ()
    policy: Policy = field(default_factory=Policy)
    properties: Mapping[str, Any] = field(default_factory=dict)
    children: Mapping[str, tuple[Activity, ...]] = field(default_factory=dict)
    path: str = ""


@dataclass(frozen=True)
class Declaration:
    """A declared parameter or variable."""

    name: str
    type: str  # lower case: string, int, float, bool, array, object, securestring
    default: Any = None
    has_default: bool = False


@dataclass(frozen=True)
class Pipeline:
    """A validated pipeline.

    ``document`` is the definition as given (what is stored in the lake); ``base_dir`` the folder of
    the file it came from, against which Python activity scripts are found.
    """

    name: str
    activities: tuple[Activity, ...]
    parameters: tuple[Declaration, ...] = ()
    variables: tuple[Declaration, ...] = ()
    concurrency: int | None = None
    document: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)
    base_dir: str | None = None

    def parameter(self, name: str) -> Declaration | None:
        """The declaration of parameter ``name`` (case-sensitive), or None."""
        return next((p for p in self.parameters if p.name == name), None)

    def secure_parameters(self) -> set[str]:
        """Names of the secureString parameters (never recorded)."""
        return {p.name for p in self.parameters if p.type == "securestring"}


def parse_timespan(value: Any) -> float:
    """Seconds in a ``d.hh:mm:ss`` timespan (or a number of seconds).

    Raises:
        ValueError: not a timespan.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _TIMESPAN.match(str(value).strip())
    if not match:
        raise ValueError(f"{value!r} is not a timespan like '0.00:10:00' (d.hh:mm:ss)")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    if minutes > 59 or seconds > 59:
        raise ValueError(f"{value!r} has minutes or seconds above 59")
    return float(days * 86400 + hours * 3600 + minutes * 60 + seconds)


def convert(type_name: str, value: Any) -> Any:
    """``value`` converted to a declared parameter/variable type.

    Raises:
        ValueError: the value cannot be that type (the message says why).
    """
    kind = type_name.lower()
    if kind in ("string", "securestring"):
        if isinstance(value, dict | list):
            return json.dumps(value)
        return "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
    if kind == "int":
        if isinstance(value, bool):
            raise ValueError(f"{value!r} is a boolean, not an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise ValueError(f"{value!r} is not an integer")
    if kind == "float":
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        try:
            return float(str(value))
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if str(value).strip().lower() in ("true", "false"):
            return str(value).strip().lower() == "true"
        raise ValueError(f"{value!r} is not true or false")
    if kind in ("array", "object"):
        parsed = value
        if isinstance(value, str):
            try:
                parsed = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(f"{value!r} is not JSON") from None
        wanted = list if kind == "array" else dict
        if not isinstance(parsed, wanted):
            raise ValueError(f"{value!r} is not a JSON {'array' if kind == 'array' else 'object'}")
        return parsed
    raise ValueError(f"unknown type {type_name!r}")


def build_pipeline(document: Mapping[str, Any], *, base_dir: str | None = None) -> Pipeline:
    """Build the dataclasses of a document that :func:`lakeml.pipeline.validate.problems` found valid."""
    props = document.get("properties") or {}
    return Pipeline(
        name=str(document["name"]),
        activities=tuple(_activity(a, f"$.properties.activities[{i}]")
                         for i, a in enumerate(props.get("activities") or [])),
        parameters=_declarations(props.get("parameters") or {}),
        variables=_declarations(props.get("variables") or {}),
        concurrency=props.get("concurrency"),
        document=document,
        base_dir=base_dir,
    )


def _declarations(section: Mapping[str, Any]) -> tuple[Declaration, ...]:
    out = []
    for name, spec in section.items():
        kind = str(spec.get("type", "string")).lower()
        has_default = "defaultValue" in spec
        default = convert(kind, spec["defaultValue"]) if has_default and spec["defaultValue"] is not None else None
        out.append(Declaration(name, kind, default, has_default))
    return tuple(out)


def _policy(raw: Mapping[str, Any] | None) -> Policy:
    raw = raw or {}
    return Policy(timeout_s=parse_timespan(raw.get("timeout", DEFAULT_TIMEOUT_S)),
                  retry=int(raw.get("retry", 0)),
                  retry_interval_s=float(raw.get("retryIntervalInSeconds", DEFAULT_RETRY_INTERVAL_S)),
                  backoff=raw.get("retryBackoff"))


def _activity(raw: Mapping[str, Any], path: str) -> Activity:
    kind = ACTIVITY_TYPES[str(raw["type"])]
    props = dict(raw.get("typeProperties") or {})
    children = {key: tuple(_activity(a, f"{path}.typeProperties.{key}[{i}]")
                           for i, a in enumerate(props.pop(key, None) or []))
                for key in kind.nested}
    deps = tuple(Dependency(str(d["activity"]), tuple(d.get("dependencyConditions") or ["Succeeded"]))
                 for d in raw.get("dependsOn") or [])
    return Activity(name=str(raw["name"]), type=kind.name, depends_on=deps, policy=_policy(raw.get("policy")),
                    properties=compile_value(props), children=children, path=path)
