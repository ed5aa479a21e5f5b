"""The model registry: versions, aliases, references, manifests, errors, concurrency, ADLS."""

from __future__ import annotations

import json
import pickle
import threading

import onnx
import polars as pl
import pytest

from lakeml.errors import InvalidNameError, LakePathNotFoundError, ModelError, ModelExistsError, ModelNotFoundError
from lakeml.registry.manifest import Manifest
from lakeml.registry.refs import ModelRef
from lakeml.session import Lake
from tests.scoring.models import add_model, column_pipeline, packed_forest, packed_logreg, training_frame


def test_model_ref_parse_in_one_place() -> None:
    assert ModelRef.parse("churn") == ModelRef("churn")
    assert ModelRef.parse("churn:3") == ModelRef("churn", version=3)
    assert ModelRef.parse("churn@champion") == ModelRef("churn", alias="champion")
    assert str(ModelRef.parse(" churn:3 ")) == "churn:3"
    for bad in ["", "churn:0", "churn:x", "../etc", "a/b", "churn@1x", "churn@", ":3"]:
        with pytest.raises(InvalidNameError):
            ModelRef.parse(bad)


def test_register_bytes_path_and_proto_versions_from_one(lake: Lake, tmp_path) -> None:
    first = lake.models.register(add_model(), name="add", description="x+y", tags={"team": "ds"},
                                 metrics={"auc": 0.9}, lineage={"table": "t"}, extra={"parity": {"max": 0}})
    path = tmp_path / "m.onnx"
    path.write_bytes(packed_logreg()[0])
    second = lake.models.register(str(path), name="add", features=["a", "b"])
    third = lake.models.register(onnx.load_model(str(tmp_path / "m.onnx")).__class__.FromString(
        packed_forest()[0]), name="add", features=["a", "b"])
    assert [first.version, second.version, third.version] == [1, 2, 3]
    assert lake.models.get("add").version == 3
    m = lake.models.get("add:1").manifest
    assert (m.description, m.tags, m.metrics, m.lineage, m.extra) == (
        "x+y", {"team": "ds"}, {"auc": 0.9}, {"table": "t"}, {"parity": {"max": 0}})
    assert [i.name for i in m.inputs] == ["x", "y"] and [o.name for o in m.outputs] == ["sum", "twice"]
    assert m.inputs[0].sql_type == "real" and m.opset == 15
    assert lake.models.get("add:2").onnx_bytes() == path.read_bytes()


def test_manifest_round_trips_json(lake: Lake) -> None:
    mv = lake.models.register(packed_logreg()[0], name="lr", features=["a", "b"])
    assert Manifest.from_json(mv.manifest.to_json()) == mv.manifest
    raw = json.loads(lake.storage.read_bytes("_lakeml/models/lr/1/manifest.json"))
    assert raw["features"] == ["a", "b"] and raw["sha256"] == mv.sha256
    assert raw["outputs"][1] == {"name": "probabilities", "onnx_type": "tensor(float)", "elem_type": "float",
                                 "shape": [None, 2], "sql_type": "array(real, 2)"}


def test_register_fitted_estimators_via_onnx_export(lake: Lake) -> None:
    _, clf = packed_logreg()
    mv = lake.models.register(clf, name="est", features=["a", "b"])
    out = lake.predict("est", training_frame(), outputs="probabilities array(real, 2)")
    assert out.height == 300 and mv.manifest.features == ("a", "b")
    _, pipe = column_pipeline()
    sample = training_frame().select("a", "visits", "plan").head(5)
    mv2 = lake.models.register(pipe, name="pipe_est", sample=sample)
    assert [i.name for i in mv2.manifest.inputs] == ["a", "visits", "plan"]
    assert lake.predict("pipe_est", training_frame()).height == 300


def test_register_lightgbm(lake: Lake) -> None:
    lightgbm = pytest.importorskip("lightgbm")
    df = training_frame()
    clf = lightgbm.LGBMClassifier(n_estimators=10, verbose=-1).fit(df.select("a", "b").to_pandas(), df["y"].to_numpy())
    mv = lake.models.register(clf, name="lgbm")
    assert mv.manifest.features == ("a", "b")  # learnt from feature_names_in_
    probs = lake.predict("lgbm", df, outputs="probabilities array(real, 2)")["probabilities"]
    native = clf.predict_proba(df.select("a", "b").to_pandas())
    assert abs(probs.to_numpy()[0][1] - native[0][1]) < 1e-4


def test_bad_onnx_bytes(lake: Lake) -> None:
    with pytest.raises(ModelError, match=r"not a valid ONNX model") as err:
        lake.models.register(b"not a model at all", name="bad")
    assert "Hint:" in str(err.value)
    assert lake.models.names() == []


def test_pickles_are_never_loaded(lake: Lake, tmp_path) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps({"boom": 1}))
    with pytest.raises(ModelError, match="pickled models are never loaded"):
        lake.models.register(str(path), name="p")
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        lake.models.register(path.read_bytes(), name="p")
    with pytest.raises(LakePathNotFoundError, match="does not exist"):
        lake.models.register(str(tmp_path / "missing.onnx"), name="p")
    with pytest.raises(ModelError, match="Cannot register an object of type dict"):
        lake.models.register({"a": 1}, name="p")


def test_invalid_model_names(lake: Lake) -> None:
    for bad in ["../x", "a/b", "", "a.b", "-x"]:
        with pytest.raises(InvalidNameError):
            lake.models.register(add_model(), name=bad)


def test_unknown_name_version_alias(lake: Lake) -> None:
    lake.models.register(add_model(), name="churn")
    with pytest.raises(ModelNotFoundError, match="No model 'chrun'") as err:
        lake.models.get("chrun")
    assert "Did you mean 'churn'?" in str(err.value)
    with pytest.raises(ModelNotFoundError, match="No model version 'churn:7'") as err:
        lake.models.get("churn:7")
    assert "churn:1" in str(err.value)
    with pytest.raises(ModelNotFoundError, match="No alias 'churn@champion'"):
        lake.models.get("churn@champion")
    with pytest.raises(ModelNotFoundError):
        lake.models.set_alias("churn", 2, "champion")


def test_duplicate_registration(lake: Lake) -> None:
    lake.models.register(add_model(), name="m")
    with pytest.raises(ModelExistsError, match=r"already registered as m:1") as err:
        lake.models.register(add_model(), name="m")
    assert "set_alias" in str(err.value)
    assert lake.models.register(add_model(), name="other").version == 1  # same bytes, other name: fine


def test_aliases_set_and_move(lake: Lake) -> None:
    lake.models.register(add_model(), name="m")
    lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    lake.models.set_alias("m", 1, "champion")
    assert lake.models.get("m@champion").version == 1
    assert lake.models.get("m:1").aliases == ("champion",)
    lake.models.set_alias("m", 2, "champion")
    assert lake.models.get("m@champion").version == 2
    lake.models.delete_alias("m", "champion")
    with pytest.raises(ModelNotFoundError):
        lake.models.get("m@champion")


def test_versions_are_immutable(lake: Lake) -> None:
    lake.models.register(add_model(), name="m")
    assert not lake.storage.write_bytes("_lakeml/models/m/1/model.onnx", b"x", overwrite=False)
    lake.storage.write_bytes("_lakeml/models/m/1/model.onnx", b"tampered")
    with pytest.raises(ModelError, match="does not match its recorded sha256"):
        lake.models.get("m:1").onnx_bytes()


def test_interrupted_registration_is_invisible(lake: Lake) -> None:
    lake.models.register(add_model(), name="m")
    lake.storage.write_bytes("_lakeml/models/m/2/model.onnx", packed_logreg()[0], overwrite=False)  # no manifest
    assert lake.models.get("m").version == 1
    assert lake.models.list()["version"].to_list() == [1]
    assert lake.models.register(packed_forest()[0], name="m", features=["a", "b"]).version == 3


def test_concurrent_registration_allocates_distinct_versions(lake: Lake) -> None:
    blobs = [add_model(shape=[None]), add_model(shape=["batch"]), add_model(shape=["n"]), add_model(shape=["rows"])]
    results: list[int] = []
    errors: list[BaseException] = []

    def work(data: bytes) -> None:
        try:
            results.append(lake.models.register(data, name="race").version)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(b,)) for b in blobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sorted(results) == [1, 2, 3, 4]


def test_list_and_models_view(lake: Lake) -> None:
    lake.models.register(add_model(), name="b_model", description="adds")
    lake.models.register(packed_logreg()[0], name="a_model", features=["a", "b"])
    lake.models.set_alias("a_model", 1, "champion")
    listing = lake.models.list()
    assert listing["name"].to_list() == ["a_model", "b_model"]
    assert listing["aliases"].to_list() == [["champion"], []]
    from lakeml.registry.views import views

    view = views(lake)["models"]().collect()
    assert view.columns == ["name", "version", "aliases", "created", "description", "sha256", "model"]
    assert view.schema["model"] == pl.Binary
    assert view.filter(pl.col("name") == "b_model")["model"][0] == add_model()


def test_rule_17_describe_shows_the_with_mapping(lake: Lake) -> None:
    lake.models.register(column_pipeline()[0], name="pipe", description="churn pipeline")
    text = lake.models.describe("pipe")
    assert "Model pipe:1" in text and "churn pipeline" in text
    assert "plan    tensor(string)  [N, 1]  varchar" in text
    assert "probabilities  tensor(float)  [N, 2]  array(real, 2)" in text
    assert "WITH (label bigint, probabilities array(real, 2))" in text
    d = lake.models.describe_dict("pipe")
    assert d["inputs"][1] == {"name": "visits", "onnx_type": "tensor(int64)", "shape": "[N, 1]", "sql_type": "bigint"}
    lake.models.register(packed_logreg()[0], name="lr", features=["a", "b"])
    assert "(packed in this order into input 'input')" in lake.models.describe("lr")


@pytest.mark.slow
def test_registry_on_azurite(azure_lake: Lake) -> None:
    azure_lake.models.register(add_model(), name="m")
    azure_lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    azure_lake.models.set_alias("m", 1, "champion")
    assert azure_lake.models.get("m@champion").onnx_bytes() == add_model()
    assert azure_lake.models.get("m").version == 2
    with pytest.raises(ModelExistsError):
        azure_lake.models.register(add_model(), name="m")
