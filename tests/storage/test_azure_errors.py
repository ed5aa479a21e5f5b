"""Wrong credentials against a real Azurite: a clear error, and the secret nowhere to be seen."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import lakeml
from lakeml.errors import CredentialError, LakeMLError
from tests.azurite import ACCOUNT, Azurite

WRONG_KEY = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3Jvbmc="
REPO = Path(__file__).resolve().parents[2]


def test_wrong_key_gives_credential_error_without_the_key(azurite: Azurite, caplog: pytest.LogCaptureFixture):
    good = lakeml.connect(f"az://{azurite.new_container()}/lake", storage_options=azurite.storage_options())
    good.write("t", pl.DataFrame({"a": [1]}))
    caplog.set_level(logging.DEBUG)
    bad = lakeml.connect(good.root, storage_options=azurite.storage_options(key=WRONG_KEY))
    for action in (lambda: bad.tables(), lambda: bad.write("u", pl.DataFrame({"a": [1]})),
                   lambda: bad.table("t").collect()):
        with pytest.raises(LakeMLError) as info:
            action()
        text = f"{info.value}\n{info.value.hint}\n{info.value!r}"
        assert WRONG_KEY not in text and WRONG_KEY[:20] not in text
    with pytest.raises(CredentialError, match="refused the credentials"):
        bad.tables()
    assert WRONG_KEY not in caplog.text and WRONG_KEY[:20] not in caplog.text


def test_cli_with_wrong_key_prints_one_line_without_the_key(azurite: Azurite):
    container = azurite.new_container()
    lakeml.connect(f"az://{container}/lake", storage_options=azurite.storage_options()).storage.ensure_root()
    conn = (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={WRONG_KEY};"
            f"BlobEndpoint={azurite.endpoint};")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env["AZURE_STORAGE_CONNECTION_STRING"] = conn
    out = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", f"az://{container}/lake", "tables"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert out.stderr.startswith("error: ") and len(out.stderr.strip().splitlines()) == 1
    assert WRONG_KEY not in out.stderr + out.stdout and WRONG_KEY[:20] not in out.stderr + out.stdout


def test_missing_container_is_clear(azurite: Azurite):
    lake = lakeml.connect(f"az://{azurite.new_container()}/lake", storage_options=azurite.storage_options())
    assert lake.tables() == []  # an empty (missing) lake just has no tables
    lake.write("t", pl.DataFrame({"a": [1]}))  # writes create the container
    assert lake.tables() == ["t"]


@pytest.mark.parametrize("port", [40312, 54033, 4031])
def test_a_port_with_403_in_it_is_no_refusal(port: int):
    from lakeml.errors import StorageError
    from lakeml.storage.lakefs import open_storage, translate_azure_error

    storage = open_storage("az://c/lake", {"account_name": ACCOUNT, "account_key": WRONG_KEY,
                                           "endpoint": f"http://127.0.0.1:{port}/{ACCOUNT}"})
    error = translate_azure_error(OSError(f"Cannot connect to host 127.0.0.1:{port}"), action="list 'tables'",
                                  storage=storage)
    assert type(error) is StorageError and "could not be reached" in error.message
    refused = translate_azure_error(OSError("Operation returned an invalid status 403"), action="read",
                                    storage=storage)
    assert isinstance(refused, CredentialError)
