"""Secrets typed into a location (SAS query strings, keys, connection strings) never come back in a
message: not in SQL errors, register_table, ingest, score targets, nor the CLI's stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lakeml
from lakeml.errors import CredentialError, LakeMLError
from lakeml.session import Lake
from lakeml.storage.uri import safe_uri
from tests.azurite import ACCOUNT, Azurite
from tests.scoring.models import packed_logreg, training_frame

SIG = "FAKESIGs3cr3tZZ9%2Bq%3D"
SAS = f"sv=2024-01-01&ss=b&srt=sco&sp=rl&se=2030-01-01&sig={SIG}"
# An 88-character base64 string, shaped like an Azure account key (not Azurite's public key).
KEY = "S2V5S2V5U2VjcmV0S2V5U2VjcmV0S2V5U2VjcmV0S2V5U2VjcmV0S2V5U2VjcmV0S2V5U2VjcmV0S2V5U2VjcmV0Kw=="
REPO = Path(__file__).resolve().parents[2]

# Every form of a secret-bearing location a user can type.
SAS_LOCATIONS = [
    f"https://acct.blob.core.windows.net/raw/x.parquet?{SAS}",
    f"https://acct.dfs.core.windows.net/raw/dir/x.csv?{SAS}",
    f"abfss://raw@acct.dfs.core.windows.net/x.parquet?{SAS}",
    f"abfs://raw@acct.dfs.core.windows.net/x.parquet?{SAS}",
    f"az://raw/x.parquet?{SAS}",
    f"file:///tmp/x.parquet?{SAS}",
]


def _secret_free(text: str) -> None:
    for secret in (SIG, "FAKESIG", "s3cr3t", KEY, KEY[:20]):
        assert secret not in text, f"secret {secret!r} leaked in: {text}"


def _raises_clean(action: Callable[[], Any]) -> LakeMLError:
    with pytest.raises(LakeMLError) as info:
        action()
    exc = info.value
    _secret_free(f"{exc}\n{exc.message}\n{exc.hint}\n{exc!r}\n{exc.args}")
    return exc


def test_safe_uri_drops_query_strings_and_secrets() -> None:
    assert safe_uri(f"abfss://raw@acct.dfs.core.windows.net/x.parquet?{SAS}") == \
        "abfss://raw@acct.dfs.core.windows.net/x.parquet?***"
    assert safe_uri("az://raw/x.parquet") == "az://raw/x.parquet"
    assert safe_uri("/data/x.parquet") == "/data/x.parquet"
    assert safe_uri("https://user:hunter2@host/p") == "https://user:***@host/p"
    conn = f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={KEY};EndpointSuffix=core.windows.net"
    assert KEY not in safe_uri(conn) and "AccountName=a" in safe_uri(conn)
    assert SIG not in safe_uri(f"BlobEndpoint=https://a.blob.core.windows.net;SharedAccessSignature={SAS}")
    assert KEY not in safe_uri(f"{{'account_key': '{KEY}'}}")


def test_redaction_leaves_ordinary_text_alone() -> None:
    from lakeml.redaction import redact_text

    for text in ("No table 'flight'. Did you mean 'az://c/flights'?", "the bearer token expired",
                 "Known options: ['account_key', 'sas_token'].", "sha256 " + "ab" * 32,
                 "Use https://aka.ms/azsdk/python/identity to troubleshoot."):
        assert redact_text(text) == text
    token = "eyJ0eXAiOiJKV1QiLCJhbGciOi.eyJhdWQiOiJodHRwczovL3N0b3JhZ2UuYXp1cmUuY29t.sig"
    assert redact_text(f"Authorization: Bearer {token}") == "Authorization: Bearer ***"


@pytest.mark.parametrize("location", SAS_LOCATIONS)
@pytest.mark.parametrize("template", [
    "SELECT * FROM read_parquet('{loc}')",
    "SELECT * FROM read_csv('{loc}')",
    "SELECT * FROM read_ndjson(['{loc}'])",
    "SELECT * FROM OPENROWSET(BULK '{loc}', FORMAT = 'PARQUET') AS r",
    "SELECT * FROM OPENROWSET(BULK '{loc}', FORMAT = 'CSV', HEADER_ROW = TRUE) AS r",
    "SELECT * FROM read_parquet('{loc}') WHERE",  # a syntax error echoes the query text
])
def test_sql_never_echoes_a_sas_token(lake: Lake, location: str, template: str) -> None:
    exc = _raises_clean(lambda: lake.sql(template.format(loc=location)).collect())
    assert "?***" in str(exc) or "syntax" in str(exc).lower() or "WHERE" in str(exc)


@pytest.mark.parametrize("location", SAS_LOCATIONS)
def test_register_ingest_and_score_never_echo_a_sas_token(lake: Lake, location: str) -> None:
    _raises_clean(lambda: lake.register_table("t", location))
    _raises_clean(lambda: lake.ingest(location, "t"))
    lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    lake.write("src", training_frame(n=5))
    _raises_clean(lambda: lake.score("m", "src", location, outputs="label bigint"))


def test_account_key_and_connection_string_never_in_messages(tmp_path: Path, azurite: Azurite) -> None:
    """A local lake with settings for another (Azurite) account: a wrong key, then missing files."""
    conn = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={azurite.endpoint};")
    container = azurite.new_container()
    uri = f"abfss://{container}@{ACCOUNT}.dfs.core.windows.net/missing.parquet"
    lakeml.connect(tmp_path / "lake").models.register(packed_logreg()[0], name="m", features=["a", "b"])
    lakeml.connect(tmp_path / "lake").write("src", training_frame(n=5))
    for options in ({"connection_string": conn}, azurite.storage_options(key=KEY)):
        lake = lakeml.connect(tmp_path / "lake", storage_options=options)
        _raises_clean(lambda lake=lake: lake.sql(f"SELECT * FROM read_parquet('{uri}')").collect())
        _raises_clean(lambda lake=lake: lake.sql(
            f"SELECT * FROM OPENROWSET(BULK '{uri.replace('.parquet', '.csv')}', FORMAT = 'CSV') AS r").collect())
        _raises_clean(lambda lake=lake: lake.ingest(uri, "t"))
        _raises_clean(lambda lake=lake: lake.register_table("t", uri.replace("missing.parquet", "dir/")))
        exc = _raises_clean(lambda lake=lake: lake.score("m", "src", uri.replace("missing", "out"),
                                                         outputs="label bigint"))
        assert isinstance(exc, CredentialError), exc
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    env["AZURE_STORAGE_CONNECTION_STRING"] = conn
    for args in (["sql", f"SELECT * FROM read_parquet('{uri}')"],
                 ["predict", "--model", "m", "--data", "src", "--output", uri.replace("missing", "out")]):
        out = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", str(tmp_path / "lake"), *args],
                             cwd=tmp_path, capture_output=True, text=True, timeout=180, env=env)
        assert out.returncode == 1 and out.stderr.startswith("error: "), out.stderr
        _secret_free(out.stdout + out.stderr)


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    return subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", str(cwd / "lake"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=180, env=env)


def test_cli_never_prints_a_sas_token(tmp_path: Path) -> None:
    location = SAS_LOCATIONS[0]
    lake = lakeml.connect(tmp_path / "lake")
    lake.models.register(packed_logreg()[0], name="m", features=["a", "b"])
    lake.write("src", training_frame(n=5))
    runs = [
        _cli("sql", f"SELECT * FROM read_parquet('{location}')", cwd=tmp_path),
        _cli("sql", f"SELECT * FROM OPENROWSET(BULK '{SAS_LOCATIONS[2]}', FORMAT = 'CSV') AS r", cwd=tmp_path),
        _cli("ingest", SAS_LOCATIONS[4], "t", cwd=tmp_path),
        _cli("register", "t", SAS_LOCATIONS[2], cwd=tmp_path),
        _cli("predict", "--model", "m", "--data", location, cwd=tmp_path),
        _cli("predict", "--model", "m", "--data", "src", "--output", SAS_LOCATIONS[2], cwd=tmp_path),
        _cli("sql", "SELECT 1 AS a", "--format", "parquet", "--output", SAS_LOCATIONS[2], cwd=tmp_path),
    ]
    for out in runs:
        assert out.returncode == 1, out.stderr
        assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr, out.stderr
        _secret_free(out.stdout + out.stderr)
