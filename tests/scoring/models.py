"""Small real ONNX models for registry/scoring tests (built with skl2onnx and onnx.helper)."""

from __future__ import annotations

import numpy as np
import onnx
import polars as pl
from onnx import TensorProto, helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType, Int64TensorType, StringTensorType
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def training_frame(n: int = 300, seed: int = 0) -> pl.DataFrame:
    """Two float features, an int64 count, a string plan, and a binary label."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=n).astype(np.float32)
    b = rng.normal(size=n).astype(np.float32)
    plan = rng.choice(["basic", "pro", "max"], size=n)
    y = ((a + 0.5 * b + (plan == "pro")) > 0.3).astype(np.int64)
    return pl.DataFrame({"a": a, "b": b, "visits": rng.integers(0, 50, size=n).astype(np.int64),
                         "plan": plan, "y": y})


def packed_logreg(*, zipmap: bool = False, seed: int = 0) -> tuple[bytes, LogisticRegression]:
    """LogisticRegression on [N,2] float input named 'input' (needs a feature list)."""
    df = training_frame(seed=seed)
    x = df.select("a", "b").to_numpy()
    clf = LogisticRegression().fit(x, df["y"].to_numpy())
    onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, 2]))],
                          options={id(clf): {"zipmap": zipmap}}, target_opset=15)
    return onx.SerializeToString(), clf


def packed_forest(seed: int = 0) -> tuple[bytes, RandomForestClassifier]:
    """A small random forest on [N,2] float input (for tree-model tests)."""
    df = training_frame(seed=seed)
    x = df.select("a", "b").to_numpy()
    clf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(x, df["y"].to_numpy())
    onx = convert_sklearn(clf, initial_types=[("input", FloatTensorType([None, 2]))],
                          options={id(clf): {"zipmap": False}}, target_opset=15)
    return onx.SerializeToString(), clf


def column_pipeline() -> tuple[bytes, Pipeline]:
    """Pipeline with per-column inputs a (float [N,1]), visits (int64 [N,1]), plan (string [N,1])."""
    df = training_frame()
    pdf = df.to_pandas()
    pre = ColumnTransformer([("num", StandardScaler(), ["a", "visits"]),
                             ("cat", OneHotEncoder(handle_unknown="ignore"), ["plan"])])
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression())]).fit(pdf[["a", "visits", "plan"]], pdf["y"])
    onx = convert_sklearn(pipe, initial_types=[("a", FloatTensorType([None, 1])),
                                               ("visits", Int64TensorType([None, 1])),
                                               ("plan", StringTensorType([None, 1]))],
                          options={id(pipe.steps[-1][1]): {"zipmap": False}}, target_opset=15)
    return onx.SerializeToString(), pipe


def regressor() -> tuple[bytes, LinearRegression]:
    """LinearRegression on [N,2] float input; output 'variable' [N,1] float."""
    df = training_frame()
    reg = LinearRegression().fit(df.select("a", "b").to_numpy(), df["visits"].to_numpy())
    onx = convert_sklearn(reg, initial_types=[("input", FloatTensorType([None, 2]))], target_opset=15)
    return onx.SerializeToString(), reg


def add_model(x_type: int = TensorProto.FLOAT, *, names: tuple[str, str] = ("x", "y"),
              shape: list[int | str | None] | None = None) -> bytes:
    """out = x + y (element type x_type, shape [N] by default), plus twice = 2*x as a second output."""
    shape = shape or ["N"]
    xi = helper.make_tensor_value_info(names[0], x_type, shape)
    yi = helper.make_tensor_value_info(names[1], x_type, shape)
    out = helper.make_tensor_value_info("sum", x_type, shape)
    twice = helper.make_tensor_value_info("twice", x_type, shape)
    graph = helper.make_graph([helper.make_node("Add", [names[0], names[1]], ["sum"]),
                               helper.make_node("Add", [names[0], names[0]], ["twice"])],
                              "add", [xi, yi], [out, twice])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()
