"""Trigger definitions: the cloud's JSON shape, every problem reported at once with its JSON path, the lake store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lakeml.errors import ConfigError, TriggerNotFoundError, TriggerValidationError
from lakeml.pipeline.triggers.definition import Recurrence, StorageEvent, TumblingWindow, parse_trigger
from lakeml.pipeline.triggers.store import TriggerStore
from tests.pipeline.triggers.helpers import tumbling

SCHEDULE = {"name": "nightly", "properties": {
    "type": "ScheduleTrigger", "runtimeState": "Started",
    "pipelines": [{"pipelineReference": {"referenceName": "load", "type": "PipelineReference"},
                   "parameters": {"day": "@trigger().scheduledTime"}}],
    "typeProperties": {"recurrence": {"frequency": "Day", "interval": 1, "startTime": "2026-01-01T00:00:00",
                                      "timeZone": "Europe/Berlin", "schedule": {"hours": [6], "minutes": [30]}}}}}


def test_schedule_trigger_reads_the_cloud_shape():
    trigger = parse_trigger(SCHEDULE)
    assert trigger.kind == "schedule" and trigger.cloud_type == "ScheduleTrigger"
    assert isinstance(trigger.settings, Recurrence)
    assert trigger.settings.hours == (6,) and trigger.settings.minutes == (30,)
    assert trigger.settings.start == datetime(2026, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))  # no offset: the zone's
    assert trigger.pipelines[0].name == "load"
    assert trigger.pipelines[0].parameters == {"day": "@trigger().scheduledTime"}


def test_tumbling_window_trigger_settings():
    trigger = tumbling(interval=2, delay="00:10:00", maxConcurrency=4,
                       retryPolicy={"count": 2, "intervalInSeconds": 60},
                       dependsOn=[{"type": "SelfDependencyTumblingWindowTriggerReference", "offset": "-02:00:00"}])
    tw = trigger.settings
    assert isinstance(tw, TumblingWindow)
    assert tw.size == timedelta(hours=2) and tw.delay == timedelta(minutes=10) and tw.max_concurrency == 4
    assert (tw.retry_count, tw.retry_interval) == (2, timedelta(seconds=60))
    assert tw.depends_on[0].offset == timedelta(hours=-2) and tw.depends_on[0].size == timedelta(hours=2)
    assert tw.start == datetime(2026, 3, 2, 7, tzinfo=UTC)


def test_storage_event_trigger_reads_the_cloud_blob_path():
    trigger = parse_trigger({"name": "arrivals", "properties": {
        "type": "BlobEventsTrigger",
        "pipelines": [{"pipelineReference": {"referenceName": "load"}}],
        "typeProperties": {"blobPathBeginsWith": "/lake/blobs/raw/flights/", "blobPathEndsWith": ".csv",
                           "ignoreEmptyBlobs": True, "events": ["Microsoft.Storage.BlobCreated"],
                           "scope": "/subscriptions/x/resourceGroups/y"}}})
    assert trigger.settings == StorageEvent("raw/flights/", ".csv", True)
    assert trigger.settings.folder == "raw/flights"


def test_every_problem_is_reported_at_once_with_its_json_path():
    bad = {"name": "bad name!", "properties": {
        "type": "TumblingWindowTrigger", "colour": "red",
        "pipeline": {"pipelineReference": {"type": "PipelineReference"}},
        "typeProperties": {"frequency": "Week", "interval": 0, "startTime": "yesterday", "maxConcurrency": 51,
                           "retryPolicy": {"count": -1, "intervalInSecond": 5}, "delay": "10 minutes",
                           "dependsOn": [{"type": "TumblingWindowTriggerDependencyReference", "offset": "-01:00:00"}]}}}
    with pytest.raises(TriggerValidationError) as info:
        parse_trigger(bad)
    paths = dict(info.value.issues)
    tp = "$.properties.typeProperties"
    for path in ["$.name", "$.properties.colour", "$.properties.pipeline.pipelineReference.referenceName",
                 f"{tp}.frequency", f"{tp}.interval", f"{tp}.startTime", f"{tp}.maxConcurrency",
                 f"{tp}.retryPolicy.count", f"{tp}.retryPolicy.intervalInSecond", f"{tp}.delay",
                 f"{tp}.dependsOn[0].type"]:
        assert path in paths, path
    assert "intervalInSeconds" in paths[f"{tp}.retryPolicy.intervalInSecond"]  # did you mean
    assert "Minute, Hour, Day" in paths[f"{tp}.frequency"]
    assert "1-50" in paths[f"{tp}.maxConcurrency"]
    assert info.value.hint


def test_schedule_problems_name_the_schedule_fields():
    doc = json.loads(json.dumps(SCHEDULE))
    rec = doc["properties"]["typeProperties"]["recurrence"]
    rec.update(frequency="Hour", timeZone="Mars/Olympus", endTime="2025-01-01T00:00:00Z")
    rec["schedule"] = {"hours": [25], "weekDays": ["Funday"]}
    with pytest.raises(TriggerValidationError) as info:
        parse_trigger(doc)
    paths = dict(info.value.issues)
    base = "$.properties.typeProperties.recurrence"
    assert "IANA" in paths[f"{base}.timeZone"]
    assert "after startTime" in paths[f"{base}.endTime"]
    assert f"{base}.schedule.hours[0]" in paths and f"{base}.schedule.weekDays[0]" in paths
    assert "Day or longer" in paths[f"{base}.schedule.hours"]


def test_unknown_trigger_type_names_the_supported_ones():
    with pytest.raises(TriggerValidationError, match="ScheduleTrigger, TumblingWindowTrigger, BlobEventsTrigger"):
        parse_trigger({"name": "x", "properties": {"type": "CustomEventsTrigger", "pipelines": [],
                                                   "typeProperties": {}}})


def test_yaml_definition_reads_like_json(tmp_path):
    pytest.importorskip("yaml")
    path = tmp_path / "t.yaml"
    path.write_text("name: hourly\nproperties:\n  type: TumblingWindowTrigger\n  pipeline:\n"
                    "    pipelineReference: {referenceName: load}\n  typeProperties:\n    frequency: Hour\n"
                    "    interval: 1\n    startTime: '2026-03-02T07:00:00Z'\n")
    assert parse_trigger(path).settings == tumbling().settings


def _store_pipeline(lake, name):
    lake.storage.write_bytes(f"_lakeml/pipelines/{name}.json", json.dumps({"name": name}).encode())


def test_store_create_list_get_delete(lake, tmp_path):
    store = TriggerStore(lake.storage)
    with pytest.raises(ConfigError, match="not stored in this lake: load"):
        store.create(SCHEDULE)
    _store_pipeline(lake, "load")
    file = tmp_path / "nightly.json"
    file.write_text(json.dumps(SCHEDULE))
    store.create(file)
    assert store.names() == ["nightly"]
    assert store.get("nightly").settings == parse_trigger(SCHEDULE).settings
    with pytest.raises(ConfigError, match="already exists"):
        store.create(SCHEDULE)
    store.create(SCHEDULE, replace=True)
    lake.storage.write_bytes("_lakeml/trigger_state/nightly/fires/x/00000000000000000000.json", b"{}")
    store.delete("nightly")
    assert store.names() == [] and not lake.storage.exists("_lakeml/trigger_state/nightly")
    with pytest.raises(TriggerNotFoundError, match="nightly"):
        store.get("nightly")
