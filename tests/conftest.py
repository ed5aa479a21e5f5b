"""Shared fixtures: fresh local lakes, and lakes on a real Azurite server."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest

import lakeml
from lakeml.engines.base import Capabilities
from lakeml.session import Lake
from tests.azurite import Azurite, start_azurite
from tests.netguard import _network_guard  # noqa: F401  (autouse: no test may reach off this machine)

# Never let an Azure credential chain or a stray account setting from the developer's shell leak in.
for _var in [v for v in os.environ if v.startswith(("AZURE_", "LAKEML_"))]:
    os.environ.pop(_var, None)
os.environ.setdefault("MPLBACKEND", "Agg")
# Scoring tests use ONNX Runtime unless they ask for compiled kernels (tests/scoring/test_kernels.py,
# with a tmp cache); no test writes to the user's ~/.cache.
os.environ["LAKEML_KERNEL"] = "ort"
os.environ["LAKEML_CACHE_DIR"] = os.path.join(tempfile.mkdtemp(prefix="lakeml-test-cache-"), "cache")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """A real Azurite blob server for the whole test session."""
    server = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield server
    server.stop()


@pytest.fixture
def lake(tmp_path: Path) -> Lake:
    """A fresh, empty local lake."""
    return lakeml.connect(tmp_path / "lake")


@pytest.fixture
def azure_lake(azurite: Azurite) -> Lake:
    """A fresh lake in a new container on Azurite."""
    container = azurite.new_container()
    lake = lakeml.connect(f"abfss://{container}@devstoreaccount1.dfs.core.windows.net/lake",
                          storage_options=azurite.storage_options())
    lake.storage.ensure_root()
    return lake


@pytest.fixture(params=["local", "azurite"])
def any_lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """The same test on a local lake and on an Azurite lake."""
    if request.param == "local":
        return lakeml.connect(tmp_path / "lake")
    return request.getfixturevalue("azure_lake")  # type: ignore[no-any-return]


# ---- engines: the conformance suite runs shared tests on Polars and on Spark through one parameter ----
CAPABILITIES = {f.name for f in fields(Capabilities)}
ENGINES = ["polars", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(scope="session")
def spark_session() -> Iterator[object]:
    """One local[2] Spark session for the whole run (starting one costs seconds)."""
    from lakeml.engines.spark.runtime import start_session

    spark = start_session("local[2]", {"spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
                                       "spark.ui.enabled": "false"})
    yield spark
    spark.stop()


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """The engine a conformance test runs on: ``"polars"`` or ``"spark"``."""
    return str(request.param)


@pytest.fixture
def engine_lake(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> Lake:
    """A fresh local lake on the engine under test (Spark: the run's shared session)."""
    if engine == "spark":
        return lakeml.connect(tmp_path / "lake", backend="spark", spark=request.getfixturevalue("spark_session"))
    return lakeml.connect(tmp_path / "lake")


#: ``any_engine_lake`` cases: each storage on Polars, and a local lake on Spark (Azure on Spark is a gap).
STORAGE_ENGINES = {"local": "polars", "azurite": "polars", "spark-local": "spark"}


@pytest.fixture(params=["local", "azurite", pytest.param("spark-local", marks=pytest.mark.spark)])
def any_engine_lake(request: pytest.FixtureRequest, tmp_path: Path) -> Lake:
    """The same test on a local and an Azurite lake on Polars, and on a local lake on Spark."""
    if request.param == "spark-local":
        return lakeml.connect(tmp_path / "lake", backend="spark", spark=request.getfixturevalue("spark_session"))
    if request.param == "local":
        return lakeml.connect(tmp_path / "lake")
    return request.getfixturevalue("azure_lake")  # type: ignore[no-any-return]


def _engine_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    if "engine" in callspec.params:
        return str(callspec.params["engine"])
    storage = callspec.params.get("any_engine_lake")
    return STORAGE_ENGINES.get(str(storage)) if storage is not None else None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "engine_gap(engine, capability, reason): a declared gap of one engine; "
                                       "the test runs there and must fail (strict xfail), never a silent skip")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        engine = _engine_of(item)
        for mark in item.iter_markers("engine_gap"):
            gap_engine, capability = mark.args[0], mark.args[1]
            if capability not in CAPABILITIES:  # a gap is always a flag an engine reports
                raise pytest.UsageError(f"{item.nodeid}: engine_gap names {capability!r}, which is not a "
                                        f"Capabilities flag ({sorted(CAPABILITIES)})")
            reason = mark.kwargs.get("reason") or (mark.args[2] if len(mark.args) > 2 else "")
            if engine == gap_engine:
                item.add_marker(pytest.mark.xfail(strict=True, reason=f"{gap_engine} gap [{capability}]: {reason}"))
