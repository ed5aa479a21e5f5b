"""Every lake URI goes through the storage layer's credential rules: an Azure location with no
credential source is refused with a CredentialError before any request (no credential chain, no
managed-identity probe of 169.254.169.254). The network guard fails any test that connects off
this machine, so these tests also prove nothing was attempted."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import lakeml
from lakeml.errors import CredentialError
from lakeml.session import Lake
from tests.azurite import ACCOUNT, Azurite
from tests.scoring.models import packed_logreg, training_frame

TARGETS = ["abfss://out@acct.dfs.core.windows.net/o.parquet", "az://out/o.parquet",
           "abfs://out@acct.dfs.core.windows.net/dir/o.parquet"]


@pytest.fixture
def scoring_lake(lake: Lake) -> Lake:
    lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    lake.write("src", training_frame(n=20))
    return lake


@pytest.mark.parametrize("target", TARGETS)
def test_score_to_azure_file_without_credentials_is_refused(scoring_lake: Lake, target: str) -> None:
    with pytest.raises(CredentialError) as info:
        scoring_lake.score("m", "src", target, outputs="label bigint")
    assert "lakeml does not guess" in str(info.value) or "account name" in str(info.value)


def test_score_to_azure_file_uses_the_lake_credentials(azure_lake: Lake) -> None:
    azure_lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    azure_lake.write("src", training_frame(n=20))
    container = azure_lake.storage.root.container
    target = f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/exports/o.parquet"
    result = azure_lake.score("m", "src", target, outputs="label bigint")
    assert result.rows == 20
    assert azure_lake.sql(f"SELECT COUNT(*) AS n FROM read_parquet('{target}')").collect().item() == 20


def test_sql_file_in_another_account_without_credentials_is_refused(lake: Lake) -> None:
    for query in ("SELECT * FROM read_parquet('abfss://c@other.dfs.core.windows.net/x.parquet')",
                  "SELECT * FROM OPENROWSET(BULK 'https://other.blob.core.windows.net/c/x.csv', FORMAT = 'CSV') AS r"):
        with pytest.raises(CredentialError):
            lake.sql(query).collect()
    with pytest.raises(CredentialError):
        lake.ingest("abfss://c@other.dfs.core.windows.net/x.csv", "t")


def test_describe_external_delta_table_uses_its_own_account_credentials(tmp_path: Path, azurite: Azurite) -> None:
    remote = lakeml.connect(f"az://{azurite.new_container()}/lake", storage_options=azurite.storage_options())
    remote.write("d", pl.DataFrame({"a": [1, 2, 3]}), format="delta")
    uri = remote.catalog.info("d").location
    local = lakeml.connect(tmp_path / "lake", storage_options=azurite.storage_options())
    local.register_table("d", uri, format="delta")
    assert local.describe("d").num_rows == 3


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    return subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", str(cwd / "lake"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180, env=env)


def test_cli_outputs_to_azure_without_credentials_are_refused(tmp_path: Path) -> None:
    lake = lakeml.connect(tmp_path / "lake")
    lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    lake.write("src", training_frame(n=20))
    runs = [
        _cli("predict", "--model", "m", "--data", "src", "--output", TARGETS[0], cwd=tmp_path),
        _cli("sql", "SELECT 1 AS a", "--format", "parquet", "--output", TARGETS[0], cwd=tmp_path),
        _cli("sql", "SELECT 1 AS a", "--format", "csv", "--output", TARGETS[1], cwd=tmp_path),
    ]
    for out in runs:
        assert out.returncode == 1, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: No "), out.stderr
        assert "Traceback" not in out.stderr and "DefaultAzureCredential" not in out.stderr


def test_cli_sql_parquet_output_to_azurite(tmp_path: Path, azurite: Azurite) -> None:
    container = azurite.new_container()
    remote = lakeml.connect(f"az://{container}/lake", storage_options=azurite.storage_options())
    remote.storage.ensure_root()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    env.update(AZURE_STORAGE_ACCOUNT_NAME=ACCOUNT, AZURE_STORAGE_ACCOUNT_KEY=azurite.storage_options()["account_key"],
               AZURE_STORAGE_ENDPOINT=azurite.endpoint)
    for fmt, name in (("parquet", "r.parquet"), ("csv", "r.csv")):
        target = f"az://{container}/exports/{name}"
        out = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", f"az://{container}/lake", "sql",
                              "SELECT 1 AS a", "--format", fmt, "--output", target], cwd=tmp_path,
                             capture_output=True, text=True, timeout=180, env=env)
        assert out.returncode == 0, out.stderr
    got = remote.sql(f"SELECT a FROM read_parquet('az://{container}/exports/r.parquet')").collect()
    assert got["a"].to_list() == [1]
    assert remote.storage_for(f"az://{container}/exports/r.csv").read_bytes("") == b"a\n1\n"


def test_onnx_runtime_telemetry_is_disabled_where_sessions_are_built(scoring_lake: Lake,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import onnxruntime as ort

    from lakeml.scoring import session as session_module

    calls: list[int] = []
    real = ort.disable_telemetry_events

    def spy() -> None:
        calls.append(1)
        real()

    monkeypatch.setattr(ort, "disable_telemetry_events", spy)
    monkeypatch.setattr(session_module, "_cache", type(session_module._cache)())
    scoring_lake.predict("m", "src", outputs="label bigint")
    assert calls
