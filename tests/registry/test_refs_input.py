"""Model references and names that ``str.isdigit``/``re.match`` let through: a clean error, never a traceback."""

from __future__ import annotations

import polars as pl
import pytest

from lakeml.errors import InvalidNameError, LakeMLError
from lakeml.query.names import validate_name
from lakeml.registry.refs import ModelRef, validate_model_name
from lakeml.session import Lake
from tests.scoring.models import packed_logreg


@pytest.mark.parametrize("ref", ["m:²", "m:٣", "m:¹²", "m:1.0", "m:0", "m:-1", "m: 1x", "m:"])
def test_bad_versions_are_invalid_name_errors(ref: str) -> None:
    with pytest.raises(InvalidNameError, match="Invalid model version"):
        ModelRef.parse(ref)


def test_bad_versions_through_the_lake(lake: Lake) -> None:
    lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    data = pl.DataFrame({"a": [1.0], "b": [2.0]})
    for action in (lambda: lake.models.get("m:²"), lambda: lake.predict("m:²", data),
                   lambda: lake.sql("SELECT p.label FROM PREDICT(MODEL = 'm:²', DATA = t AS d) "
                                    "WITH (label bigint) AS p").collect()):
        with pytest.raises(LakeMLError):
            action()


@pytest.mark.parametrize("name", ["m\n", "m\nx", "_m", "__"])
def test_names_with_trailing_newline_or_leading_underscore_are_refused(name: str) -> None:
    with pytest.raises(InvalidNameError):
        validate_model_name(name)
    with pytest.raises(InvalidNameError):
        validate_name(name)
