"""Fixtures of the pipeline tests: a local lake, a fake clock and small definition builders."""

from __future__ import annotations

import pytest

import lakeml
from lakeml.pipeline.clock import FakeClock


@pytest.fixture
def lake(tmp_path):
    return lakeml.connect(tmp_path / "lake")


@pytest.fixture
def clock():
    return FakeClock()


def pipeline(*activities, name="p", parameters=None, variables=None, concurrency=None):
    props = {"activities": list(activities)}
    if parameters:
        props["parameters"] = parameters
    if variables:
        props["variables"] = variables
    if concurrency:
        props["concurrency"] = concurrency
    return {"name": name, "properties": props}


def act(name, kind="Wait", deps=None, policy=None, **props):
    """An activity; ``deps`` maps a name to its conditions (a string or a list)."""
    if kind == "Wait" and not props:
        props = {"waitTimeInSeconds": 0}
    out = {"name": name, "type": kind, "typeProperties": props}
    if deps:
        out["dependsOn"] = [{"activity": d, "dependencyConditions": [c] if isinstance(c, str) else c}
                            for d, c in deps.items()]
    if policy:
        out["policy"] = policy
    return out


def fail(name, deps=None, message="boom", code="E1"):
    return act(name, "Fail", deps=deps, message=message, errorCode=code)
