"""Every ``Lake`` method that delegates shows the delegate's parameters (no ``**kwargs`` pass-through)."""

from __future__ import annotations

import inspect
import pydoc
import re
from collections.abc import Callable
from typing import Any

import pytest

import lakeml
from lakeml.explore.api import chart, profile
from lakeml.ml.api import train
from lakeml.ml.automl.api import automl
from lakeml.scoring.api import predict, score
from lakeml.session import Lake

DELEGATES: dict[str, Callable[..., Any]] = {
    "train": train, "automl": automl, "profile": profile, "chart": chart, "predict": predict, "score": score,
}


def _params(fn: Callable[..., Any]) -> list[tuple[str, Any, Any, Any]]:
    return [(p.name, p.kind, p.default, p.annotation) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize("name", sorted(DELEGATES))
def test_lake_method_mirrors_its_delegate(name: str) -> None:
    method = getattr(Lake, name)
    delegate = DELEGATES[name]
    ours = _params(method)[1:]  # self
    theirs = _params(delegate)[1:]  # lake
    assert ours == theirs
    assert inspect.signature(method).return_annotation == inspect.signature(delegate).return_annotation
    assert not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(method).parameters.values())


@pytest.mark.parametrize("name", sorted(DELEGATES))
def test_lake_method_docstring_names_every_parameter(name: str) -> None:
    method = getattr(Lake, name)
    assert inspect.signature(method).return_annotation not in ("Any", inspect.Signature.empty)
    doc = inspect.getdoc(method) or ""
    for param in list(inspect.signature(method).parameters)[1:]:
        assert re.search(rf"^\s*{param}\b.*:", doc, re.MULTILINE), f"Lake.{name} docstring lacks {param!r}"


@pytest.mark.parametrize("name", ["train", "automl"])
def test_lake_ml_methods_are_their_delegates(name: str, tmp_path) -> None:
    # one source of truth for the parameters and their defaults: the method is the ML layer's function
    assert inspect.unwrap(getattr(Lake, name)) is DELEGATES[name]
    lake = lakeml.connect(str(tmp_path / "lake"))
    bound = getattr(lake, name)
    assert bound.__self__ is lake and inspect.unwrap(bound.__func__) is DELEGATES[name]


def test_help_shows_every_parameter() -> None:
    text = pydoc.render_doc(Lake.automl, renderer=pydoc.plaintext)
    assert "**kwargs" not in text
    for param in ("time_budget", "max_trials", "early_stopping", "max_rows", "progress"):
        assert param in text
