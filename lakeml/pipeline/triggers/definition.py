"""Trigger definitions in the cloud's JSON shape (or YAML with the same structure), validated.

A definition reads like an exported Data Factory trigger::

    {"name": "hourly",
     "properties": {
       "type": "TumblingWindowTrigger",
       "pipeline": {"pipelineReference": {"referenceName": "load", "type": "PipelineReference"},
                    "parameters": {"from": "@trigger().outputs.windowStartTime"}},
       "typeProperties": {"frequency": "Hour", "interval": 1, "startTime": "2026-01-01T00:00:00Z",
                          "maxConcurrency": 2, "retryPolicy": {"count": 1, "intervalInSeconds": 30}}}}

:func:`parse_trigger` checks the whole document and raises one :class:`TriggerValidationError`
listing every problem with its JSON path (``$.properties.typeProperties.interval``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from lakeml.errors import ConfigError, LakePathNotFoundError, TriggerValidationError, did_you_mean
from lakeml.pipeline.triggers.timefmt import parse_instant, parse_timespan

TriggerKind = Literal["schedule", "tumblingWindow", "storageEvent"]

#: Cloud type name (and lakeml's short names) → trigger kind.
TYPE_NAMES: dict[str, TriggerKind] = {
    "scheduletrigger": "schedule", "schedule": "schedule",
    "tumblingwindowtrigger": "tumblingWindow", "tumblingwindow": "tumblingWindow",
    "blobeventstrigger": "storageEvent", "storageevent": "storageEvent", "storageeventtrigger": "storageEvent",
}
CLOUD_TYPE: dict[TriggerKind, str] = {"schedule": "ScheduleTrigger", "tumblingWindow": "TumblingWindowTrigger",
                                      "storageEvent": "BlobEventsTrigger"}
SCHEDULE_FREQUENCIES = ("Minute", "Hour", "Day", "Week", "Month")
WINDOW_FREQUENCIES = ("Minute", "Hour", "Day")
WEEK_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MAX_CONCURRENCY = 50
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
NAME_LIMIT = 140
_CLOUD_BLOB_PATH = re.compile(r"^/?[^/]+/blobs/")
_UTC_NAMES = {"utc", "coordinated universal time", "etc/utc", "z"}


@dataclass(frozen=True)
class PipelineRef:
    """A pipeline a trigger starts, with the parameters to pass (values may be expressions)."""

    name: str
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recurrence:
    """A schedule trigger's recurrence; ``start``/``end`` are aware times, ``zone`` the time zone of the schedule."""

    frequency: str
    interval: int
    start: datetime
    end: datetime | None
    zone: tzinfo
    minutes: tuple[int, ...] = ()
    hours: tuple[int, ...] = ()
    week_days: tuple[int, ...] = ()  # 0 = Monday
    month_days: tuple[int, ...] = ()  # 1..31, or -1 for the last day


@dataclass(frozen=True)
class SelfDependency:
    """A tumbling window depends on the windows of its own trigger in ``[start + offset, + size)``."""

    offset: timedelta
    size: timedelta


@dataclass(frozen=True)
class TumblingWindow:
    """A tumbling window trigger's settings."""

    frequency: str
    interval: int
    start: datetime
    end: datetime | None
    delay: timedelta = timedelta(0)
    max_concurrency: int = 1
    retry_count: int = 0
    retry_interval: timedelta = timedelta(seconds=30)
    depends_on: tuple[SelfDependency, ...] = ()

    @property
    def size(self) -> timedelta:
        """The length of one window."""
        unit = {"Minute": timedelta(minutes=1), "Hour": timedelta(hours=1), "Day": timedelta(days=1)}[self.frequency]
        return unit * self.interval


@dataclass(frozen=True)
class StorageEvent:
    """A storage event trigger: new files below ``folder`` whose name starts and ends as given."""

    begins_with: str  # lake-relative, no leading slash
    ends_with: str
    ignore_empty: bool = True

    @property
    def folder(self) -> str:
        """The folder to poll: ``begins_with`` up to its last slash."""
        return self.begins_with.rsplit("/", 1)[0] if "/" in self.begins_with else ""


@dataclass(frozen=True)
class Trigger:
    """A validated trigger definition. ``document`` is the definition as written (what is stored)."""

    name: str
    kind: TriggerKind
    pipelines: tuple[PipelineRef, ...]
    settings: Recurrence | TumblingWindow | StorageEvent
    document: dict[str, Any]
    description: str = ""
    started: bool = True

    @property
    def cloud_type(self) -> str:
        """The cloud's type name (``TumblingWindowTrigger``)."""
        return CLOUD_TYPE[self.kind]


class _Issues:
    """Collects ``(json_path, message)`` problems so that every one is reported at once."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))


def load_document(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A trigger document from a dict, a JSON/YAML file path, or JSON/YAML text.

    Raises:
        LakePathNotFoundError: a path that does not exist.
        TriggerValidationError: text that is neither a JSON nor a YAML object.
    """
    if isinstance(source, Mapping):
        return dict(source)
    text: str
    yaml_file = False
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source
                                    and not source.lstrip().startswith("{")):
        path = Path(source)
        if not path.is_file():
            raise LakePathNotFoundError(f"No trigger definition file {str(path)!r}.",
                                        hint="Give the path of a .json or .yaml trigger definition.")
        text = path.read_text(encoding="utf-8")
        yaml_file = path.suffix.lower() in (".yaml", ".yml")
    else:
        text = source
    try:
        body: Any = _yaml_load(text) if yaml_file else json.loads(text)
    except json.JSONDecodeError as exc:
        if yaml_file or text.lstrip().startswith("{"):
            raise TriggerValidationError(f"The trigger definition is not valid JSON: {exc}.",
                                         issues=[("$", str(exc))], hint="Fix the JSON syntax.") from None
        body = _yaml_load(text)
    if not isinstance(body, dict):
        raise TriggerValidationError("The trigger definition is not an object.", issues=[("$", "not an object")],
                                     hint='Write it as {"name": ..., "properties": {...}}.')
    return body


def _yaml_load(text: str) -> Any:
    from lakeml._deps import require

    yaml = require("yaml", purpose="Reading YAML trigger definitions")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TriggerValidationError(f"The trigger definition is not valid YAML: {' '.join(str(exc).split())}.",
                                     issues=[("$", "invalid YAML")], hint="Fix the YAML syntax.") from None


def parse_trigger(source: str | Path | Mapping[str, Any], *, name: str | None = None) -> Trigger:
    """Validate a trigger definition and return it.

    Args:
        source: the definition (a dict, a file path, or JSON/YAML text).
        name: the name to use when the document has none (or to check it against).

    Raises:
        TriggerValidationError: every problem found, each with its JSON path.
    """
    doc = load_document(source)
    issues = _Issues()
    trigger = _parse(doc, name, issues)
    if issues.items or trigger is None:
        lines = "; ".join(f"{path}: {message}" for path, message in issues.items)
        title = doc.get("name") if isinstance(doc.get("name"), str) else name or "?"
        raise TriggerValidationError(
            f"The trigger definition {title!r} has {len(issues.items)} problem(s): {lines}.",
            issues=issues.items, hint="Fix each property named by its JSON path, then try again.")
    return trigger


def _known(obj: Mapping[str, Any], path: str, allowed: set[str], issues: _Issues, *,
           ignored: frozenset[str] = frozenset()) -> None:
    for key in obj:
        if key not in allowed and key not in ignored:
            suggestion = did_you_mean(key, allowed)
            issues.add(f"{path}.{key}", "unknown property" + (f"; {suggestion}" if suggestion else ""))


def _object(value: Any, path: str, issues: _Issues, *, required: bool = True) -> dict[str, Any] | None:
    if value is None:
        if required:
            issues.add(path, "is required")
        return None
    if not isinstance(value, dict):
        issues.add(path, f"must be an object, not {type(value).__name__}")
        return None
    return value


def _parse(doc: dict[str, Any], name: str | None, issues: _Issues) -> Trigger | None:
    _known(doc, "$", {"name", "properties"}, issues, ignored=frozenset({"id", "type", "etag"}))
    doc_name = doc.get("name", name)
    if not isinstance(doc_name, str) or not doc_name:
        issues.add("$.name", "is required (a trigger name)")
        doc_name = None
    elif len(doc_name) > NAME_LIMIT or not _NAME.match(doc_name):
        issues.add("$.name", f"{doc_name!r} must be 1-{NAME_LIMIT} letters, digits, '-' or '_', "
                             "starting with a letter or digit")
    elif name is not None and name != doc_name:
        issues.add("$.name", f"is {doc_name!r} but the trigger is named {name!r}")
    props = _object(doc.get("properties"), "$.properties", issues)
    if props is None:
        return None
    base = "$.properties"
    _known(props, base, {"type", "typeProperties", "pipelines", "pipeline", "description", "runtimeState",
                         "annotations"}, issues)
    raw_type = props.get("type")
    kind = TYPE_NAMES.get(raw_type.lower()) if isinstance(raw_type, str) else None
    if kind is None:
        known = ", ".join(CLOUD_TYPE.values())
        issues.add(f"{base}.type", f"{raw_type!r} is not a trigger type lakeml runs; use one of {known}")
    description = props.get("description", "")
    if not isinstance(description, str):
        issues.add(f"{base}.description", "must be a string")
        description = ""
    state = props.get("runtimeState", "Started")
    if state not in ("Started", "Stopped"):
        issues.add(f"{base}.runtimeState", f"{state!r} must be 'Started' or 'Stopped'")
    pipelines = _pipelines(props, kind, issues)
    type_props = _object(props.get("typeProperties"), f"{base}.typeProperties", issues)
    if kind is None or type_props is None:
        return None
    tpath = f"{base}.typeProperties"
    settings: Recurrence | TumblingWindow | StorageEvent | None
    if kind == "schedule":
        settings = _recurrence(type_props, tpath, issues)
    elif kind == "tumblingWindow":
        settings = _tumbling(type_props, tpath, issues)
    else:
        settings = _storage_event(type_props, tpath, issues)
    if settings is None or doc_name is None:
        return None
    return Trigger(doc_name, kind, pipelines, settings, {**doc, "name": doc_name}, description,
                   started=state != "Stopped")


def _pipelines(props: dict[str, Any], kind: TriggerKind | None, issues: _Issues) -> tuple[PipelineRef, ...]:
    base = "$.properties"
    if kind == "tumblingWindow":
        if "pipelines" in props:
            issues.add(f"{base}.pipelines", "a tumbling window trigger starts one pipeline: write 'pipeline'")
        entry = _object(props.get("pipeline"), f"{base}.pipeline", issues)
        ref = _pipeline_ref(entry, f"{base}.pipeline", issues) if entry is not None else None
        return (ref,) if ref else ()
    if "pipeline" in props:
        issues.add(f"{base}.pipeline", "this trigger type takes a list: write 'pipelines'")
    raw = props.get("pipelines")
    if not isinstance(raw, list) or not raw:
        issues.add(f"{base}.pipelines", "must be a non-empty list of pipeline references")
        return ()
    refs = []
    for index, entry in enumerate(raw):
        path = f"{base}.pipelines[{index}]"
        obj = _object(entry, path, issues)
        ref = _pipeline_ref(obj, path, issues) if obj is not None else None
        if ref:
            refs.append(ref)
    return tuple(refs)


def _pipeline_ref(entry: dict[str, Any], path: str, issues: _Issues) -> PipelineRef | None:
    _known(entry, path, {"pipelineReference", "parameters"}, issues)
    ref = _object(entry.get("pipelineReference"), f"{path}.pipelineReference", issues)
    params = entry.get("parameters", {}) or {}
    if not isinstance(params, dict):
        issues.add(f"{path}.parameters", "must be an object of name: value")
        params = {}
    if ref is None:
        return None
    _known(ref, f"{path}.pipelineReference", {"referenceName", "type", "name"}, issues)
    ref_name = ref.get("referenceName", ref.get("name"))
    if ref.get("type", "PipelineReference") != "PipelineReference":
        issues.add(f"{path}.pipelineReference.type", f"{ref.get('type')!r} must be 'PipelineReference'")
    if not isinstance(ref_name, str) or not ref_name:
        issues.add(f"{path}.pipelineReference.referenceName", "is required (the pipeline's name)")
        return None
    return PipelineRef(ref_name, dict(params))


def _int(obj: dict[str, Any], key: str, path: str, issues: _Issues, *, default: int | None = None,
         low: int | None = None, high: int | None = None) -> int | None:
    value = obj.get(key, default)
    if value is None:
        issues.add(f"{path}.{key}", "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        issues.add(f"{path}.{key}", f"{value!r} must be a whole number")
        return None
    if (low is not None and value < low) or (high is not None and value > high):
        span = f"{low}-{high}" if high is not None else f"at least {low}"
        issues.add(f"{path}.{key}", f"{value} must be {span}")
        return None
    return value


def _choice(obj: dict[str, Any], key: str, path: str, allowed: tuple[str, ...], issues: _Issues) -> str | None:
    value = obj.get(key)
    if not isinstance(value, str):
        issues.add(f"{path}.{key}", f"is required: one of {', '.join(allowed)}")
        return None
    for option in allowed:
        if option.lower() == value.lower():
            return option
    issues.add(f"{path}.{key}", f"{value!r} must be one of {', '.join(allowed)}")
    return None


def _instant(obj: dict[str, Any], key: str, path: str, issues: _Issues, zone: tzinfo, *,
             required: bool) -> datetime | None:
    value = obj.get(key)
    if value is None:
        if required:
            issues.add(f"{path}.{key}", "is required (an ISO 8601 time such as '2026-01-01T00:00:00Z')")
        return None
    if isinstance(value, datetime):  # YAML reads unquoted times as datetimes
        return value.replace(tzinfo=zone) if value.tzinfo is None else value
    if not isinstance(value, str):
        issues.add(f"{path}.{key}", f"{value!r} must be an ISO 8601 time string")
        return None
    try:
        return parse_instant(value, default_zone=zone)
    except ValueError as exc:
        issues.add(f"{path}.{key}", str(exc))
        return None


def _span(obj: dict[str, Any], key: str, path: str, issues: _Issues, default: timedelta) -> timedelta:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        issues.add(f"{path}.{key}", f"{value!r} must be a time span string like '00:10:00'")
        return default
    try:
        return parse_timespan(value)
    except ValueError as exc:
        issues.add(f"{path}.{key}", str(exc))
        return default


def _zone(value: Any, path: str, issues: _Issues) -> tzinfo:
    if value is None or (isinstance(value, str) and value.strip().lower() in _UTC_NAMES):
        return UTC
    if isinstance(value, str):
        try:
            return ZoneInfo(value.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    issues.add(path, f"{value!r} is not a time zone lakeml knows; use an IANA name such as 'Europe/Berlin' or 'UTC'")
    return UTC


def _int_list(obj: dict[str, Any], key: str, path: str, issues: _Issues, low: int, high: int,
              *, allow: tuple[int, ...] = ()) -> tuple[int, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        issues.add(f"{path}.{key}", "must be a non-empty list of whole numbers")
        return ()
    out = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int) or not (low <= item <= high or item in allow):
            issues.add(f"{path}.{key}[{index}]", f"{item!r} must be a whole number {low}-{high}"
                                                 + (f" (or {', '.join(map(str, allow))})" if allow else ""))
            continue
        out.append(item)
    return tuple(sorted(set(out)))


def _recurrence(type_props: dict[str, Any], tpath: str, issues: _Issues) -> Recurrence | None:
    _known(type_props, tpath, {"recurrence"}, issues)
    path = f"{tpath}.recurrence"
    rec = _object(type_props.get("recurrence"), path, issues)
    if rec is None:
        return None
    _known(rec, path, {"frequency", "interval", "startTime", "endTime", "timeZone", "schedule"}, issues)
    frequency = _choice(rec, "frequency", path, SCHEDULE_FREQUENCIES, issues)
    interval = _int(rec, "interval", path, issues, default=1, low=1)
    zone = _zone(rec.get("timeZone"), f"{path}.timeZone", issues)
    start = _instant(rec, "startTime", path, issues, zone, required=True)
    end = _instant(rec, "endTime", path, issues, zone, required=False)
    if start and end and end <= start:
        issues.add(f"{path}.endTime", "must be after startTime")
    sched = _object(rec.get("schedule"), f"{path}.schedule", issues, required=False) or {}
    spath = f"{path}.schedule"
    _known(sched, spath, {"minutes", "hours", "weekDays", "monthDays"}, issues,
           ignored=frozenset({"monthlyOccurrences"}))
    if "monthlyOccurrences" in sched:
        issues.add(f"{spath}.monthlyOccurrences", "is not supported by lakeml; use monthDays")
    minutes = _int_list(sched, "minutes", spath, issues, 0, 59)
    hours = _int_list(sched, "hours", spath, issues, 0, 23)
    month_days = _int_list(sched, "monthDays", spath, issues, 1, 31, allow=(-1,))
    week_days: list[int] = []
    raw_days = sched.get("weekDays")
    if raw_days is not None:
        if not isinstance(raw_days, list) or not raw_days:
            issues.add(f"{spath}.weekDays", "must be a non-empty list of day names")
        else:
            lowered = [d.lower() for d in WEEK_DAYS]
            for index, day in enumerate(raw_days):
                if isinstance(day, str) and day.lower() in lowered:
                    week_days.append(lowered.index(day.lower()))
                else:
                    issues.add(f"{spath}.weekDays[{index}]", f"{day!r} must be one of {', '.join(WEEK_DAYS)}")
    if frequency is not None:
        rank = SCHEDULE_FREQUENCIES.index(frequency)
        for key, needs in (("hours", 2), ("weekDays", 3), ("monthDays", 4), ("minutes", 1)):
            if key in sched and rank < needs:
                issues.add(f"{spath}.{key}", f"needs a frequency of {SCHEDULE_FREQUENCIES[needs]} or longer "
                                             f"(the recurrence is every {frequency.lower()})")
        if "weekDays" in sched and "monthDays" in sched:
            issues.add(f"{spath}.weekDays", "give weekDays or monthDays, not both")
        if frequency == "Week" and "monthDays" in sched:
            issues.add(f"{spath}.monthDays", "a weekly recurrence takes weekDays")
    if frequency is None or interval is None or start is None:
        return None
    return Recurrence(frequency, interval, start, end, zone, minutes, hours, tuple(sorted(set(week_days))),
                      month_days)


def _tumbling(type_props: dict[str, Any], path: str, issues: _Issues) -> TumblingWindow | None:
    _known(type_props, path, {"frequency", "interval", "startTime", "endTime", "delay", "maxConcurrency",
                              "retryPolicy", "dependsOn"}, issues)
    frequency = _choice(type_props, "frequency", path, WINDOW_FREQUENCIES, issues)
    interval = _int(type_props, "interval", path, issues, default=1, low=1)
    start = _instant(type_props, "startTime", path, issues, UTC, required=True)
    end = _instant(type_props, "endTime", path, issues, UTC, required=False)
    if start and end and end <= start:
        issues.add(f"{path}.endTime", "must be after startTime")
    delay = _span(type_props, "delay", path, issues, timedelta(0))
    if delay < timedelta(0):
        issues.add(f"{path}.delay", "must not be negative")
    concurrency = _int(type_props, "maxConcurrency", path, issues, default=1, low=1, high=MAX_CONCURRENCY)
    retry = _object(type_props.get("retryPolicy"), f"{path}.retryPolicy", issues, required=False) or {}
    _known(retry, f"{path}.retryPolicy", {"count", "intervalInSeconds"}, issues)
    count = _int(retry, "count", f"{path}.retryPolicy", issues, default=0, low=0)
    retry_seconds = _int(retry, "intervalInSeconds", f"{path}.retryPolicy", issues, default=30, low=0)
    depends = _self_dependencies(type_props.get("dependsOn"), f"{path}.dependsOn", issues)
    if frequency is None or interval is None or start is None or concurrency is None:
        return None
    window = TumblingWindow(frequency, interval, start, end, delay, concurrency, count or 0,
                            timedelta(seconds=retry_seconds or 0), depends)
    for index, dep in enumerate(depends):
        if dep.offset >= timedelta(0):
            issues.add(f"{path}.dependsOn[{index}].offset", "must be negative (a window depends on earlier ones)")
        if dep.size <= timedelta(0) or dep.size > -dep.offset:
            issues.add(f"{path}.dependsOn[{index}].size", "must be positive and reach no later than the window")
    return window


def _self_dependencies(raw: Any, path: str, issues: _Issues) -> tuple[SelfDependency, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        issues.add(path, "must be a list")
        return ()
    out = []
    for index, entry in enumerate(raw):
        epath = f"{path}[{index}]"
        obj = _object(entry, epath, issues)
        if obj is None:
            continue
        kind = obj.get("type")
        if kind != "SelfDependencyTumblingWindowTriggerReference":
            issues.add(f"{epath}.type", f"{kind!r} is not supported: lakeml tumbling windows depend only on their "
                                        "own trigger ('SelfDependencyTumblingWindowTriggerReference')")
            continue
        _known(obj, epath, {"type", "offset", "size"}, issues)
        offset = _span(obj, "offset", epath, issues, timedelta(0))
        if "offset" not in obj:
            issues.add(f"{epath}.offset", "is required (a negative span such as '-01:00:00')")
        size = _span(obj, "size", epath, issues, -offset)
        out.append(SelfDependency(offset, size))
    return tuple(out)


def _storage_event(type_props: dict[str, Any], path: str, issues: _Issues) -> StorageEvent | None:
    _known(type_props, path, {"blobPathBeginsWith", "blobPathEndsWith", "ignoreEmptyBlobs", "events"}, issues,
           ignored=frozenset({"scope"}))
    begins = type_props.get("blobPathBeginsWith", "")
    ends = type_props.get("blobPathEndsWith", "")
    for key, value in (("blobPathBeginsWith", begins), ("blobPathEndsWith", ends)):
        if not isinstance(value, str):
            issues.add(f"{path}.{key}", f"{value!r} must be a string")
    if not begins and not ends:
        issues.add(f"{path}.blobPathBeginsWith", "give blobPathBeginsWith or blobPathEndsWith (a trigger on every "
                                                 "file of the lake is refused)")
    ignore_empty = type_props.get("ignoreEmptyBlobs", True)
    if not isinstance(ignore_empty, bool):
        issues.add(f"{path}.ignoreEmptyBlobs", f"{ignore_empty!r} must be true or false")
        ignore_empty = True
    events = type_props.get("events", ["Microsoft.Storage.BlobCreated"])
    if not isinstance(events, list) or any(e != "Microsoft.Storage.BlobCreated" for e in events):
        issues.add(f"{path}.events", "lakeml fires on new files only: ['Microsoft.Storage.BlobCreated']")
    if not isinstance(begins, str) or not isinstance(ends, str):
        return None
    prefix = _CLOUD_BLOB_PATH.sub("", begins).lstrip("/")  # the cloud form is /<container>/blobs/<path>
    if ".." in prefix.split("/"):
        issues.add(f"{path}.blobPathBeginsWith", f"{begins!r} leaves the lake root")
    return StorageEvent(prefix, ends, ignore_empty)


def iter_problems(error: TriggerValidationError) -> Iterator[str]:
    """``path: message`` lines of a validation error, for printing one per line."""
    for path, message in error.issues:
        yield f"{path}: {message}"


def require_pipeline_ref(trigger: Trigger, pipeline: str) -> PipelineRef:
    """The reference of ``trigger`` to ``pipeline``.

    Raises:
        ConfigError: the trigger does not start that pipeline.
    """
    for ref in trigger.pipelines:
        if ref.name == pipeline:
            return ref
    names = ", ".join(ref.name for ref in trigger.pipelines)
    raise ConfigError(f"Trigger {trigger.name!r} does not start pipeline {pipeline!r} (it starts {names}).",
                      hint="Name a pipeline the trigger references, or another trigger.")
