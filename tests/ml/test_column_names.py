"""Column names that are not identifiers survive export, so PREDICT still binds by name."""

from __future__ import annotations

import numpy as np
import onnx
import polars as pl

from lakeml.session import Lake


def _frame(n: int = 400) -> pl.DataFrame:
    rng = np.random.default_rng(3)
    radius = rng.normal(size=n)
    return pl.DataFrame({
        "mean radius": radius,
        "tumour-grade": rng.choice(["low", "mid", "high"], size=n),
        "y": (radius + rng.normal(scale=0.5, size=n) > 0).astype(np.int64),
    })


def test_names_with_spaces_and_dashes_round_trip(lake: Lake):
    frame = _frame()
    lake.write("cells", frame)
    result = lake.train("cells", target="y", model="logistic")
    assert result.parity.passed
    names = [i.name for i in onnx.load_from_string(result.onnx_bytes).graph.input]
    assert names == ["mean radius", "tumour-grade"]
    mv = result.register("cells_model")
    scored = lake.predict(mv.ref, frame.drop("y"), outputs="label bigint")
    assert scored.height == frame.height
    via_sql = lake.sql(
        'SELECT p.label FROM PREDICT(MODEL = \'cells_model\', DATA = cells AS d) WITH (label bigint) AS p'
    ).collect()
    assert via_sql["label"].to_list() == scored["label"].to_list()
