"""ONNX external data is refused: a model must never read files next to the scoring process.

The crafted model adds an initializer stored as external data at a relative path; ONNX Runtime
loading from bytes resolves it against the working directory, so scoring would return that
file's bytes as scores."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import polars as pl
import pytest
from onnx import TensorProto, helper

from lakeml.errors import ModelError
from lakeml.registry.manifest import sha256_hex
from lakeml.registry.registry import ROOT
from lakeml.session import Lake

SECRET_FILE = "rel_hostname"


def _model(*, external: bool, where: str = "initializer") -> bytes:
    if external:
        weight = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1])
        weight.data_location = TensorProto.EXTERNAL
        for key, value in (("location", SECRET_FILE), ("offset", "0"), ("length", "4")):
            entry = weight.external_data.add()
            entry.key, entry.value = key, value
    else:
        weight = helper.make_tensor("W", TensorProto.FLOAT, [1], [0.0])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])
    if where == "initializer":
        graph = helper.make_graph([helper.make_node("Add", ["x", "W"], ["y"])], "g", [x], [y], [weight])
    else:  # the same tensor hidden in a Constant node's attribute
        nodes = [helper.make_node("Constant", [], ["W"], value=weight), helper.make_node("Add", ["x", "W"], ["y"])]
        graph = helper.make_graph(nodes, "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.fixture
def in_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The scoring process's working directory, holding a file the model points at."""
    work = tmp_path / "work"
    work.mkdir()
    (work / SECRET_FILE).write_bytes(np.array([1234.5], dtype=np.float32).tobytes())
    monkeypatch.chdir(work)
    return work


@pytest.mark.parametrize("where", ["initializer", "constant"])
def test_register_refuses_external_data(lake: Lake, in_workdir: Path, where: str) -> None:
    with pytest.raises(ModelError, match="external data") as info:
        lake.models.register(_model(external=True, where=where), name="leaky")
    assert SECRET_FILE in str(info.value) and info.value.hint
    assert lake.models.names() == []


def test_loading_a_tampered_model_with_external_data_is_refused(lake: Lake, in_workdir: Path) -> None:
    lake.models.register(_model(external=False), name="m")
    data = pl.DataFrame({"x": [1.0, 2.0]}, schema={"x": pl.Float32})
    assert lake.predict("m", data)["y"].to_list() == [1.0, 2.0]
    # Swap the stored bytes behind lakeml's back (manifest hash updated to match).
    bad = _model(external=True)
    folder = f"{ROOT}/m/1"
    manifest = json.loads(lake.storage.read_bytes(f"{folder}/manifest.json"))
    manifest["sha256"] = sha256_hex(bad)
    lake.storage.write_bytes(f"{folder}/model.onnx", bad)
    lake.storage.write_bytes(f"{folder}/manifest.json", json.dumps(manifest).encode())
    with pytest.raises(ModelError, match="external data"):
        lake.predict("m", data)
    with pytest.raises(ModelError, match="external data"):
        bound = lake.models.bind("m", alias="mm")
        data.select(bound.expr("x")).to_series().to_list()
    lake.write("t", data)
    with pytest.raises(ModelError, match="external data"):
        lake.sql("SELECT p.y FROM PREDICT(MODEL = 'm', DATA = t AS d) WITH (y real) AS p").collect()


def test_get_session_refuses_external_data(in_workdir: Path) -> None:
    from lakeml.scoring.session import get_session

    with pytest.raises(ModelError, match="external data"):
        get_session(_model(external=True), threads=1)
    assert onnx.load_model_from_string(_model(external=False))  # the clean twin is a valid model
