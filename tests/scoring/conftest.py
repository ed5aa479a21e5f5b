"""Fixtures for scoring tests: a lake with a few registered real ONNX models and a customers table."""

from __future__ import annotations

import pytest

from lakeml.session import Lake
from tests.scoring.models import column_pipeline, packed_logreg, training_frame


@pytest.fixture
def scoring_lake(lake: Lake) -> Lake:
    """Local lake with 'churn' (packed LR, features a,b), 'pipe' (per-column pipeline), table 'cust'."""
    lake.models.register(packed_logreg()[0], name="churn", features=["a", "b"])
    lake.models.register(column_pipeline()[0], name="pipe")
    lake.write("cust", training_frame().with_row_index("id"))
    return lake


@pytest.fixture
def engine_scoring_lake(scoring_lake: Lake, engine_lake: Lake) -> Lake:
    """``scoring_lake``'s models and table, on the engine under test (both lakes share one root)."""
    assert engine_lake.root == scoring_lake.root
    return engine_lake
