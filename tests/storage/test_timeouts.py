"""An unreachable storage endpoint fails fast, with a message naming the endpoint.

The endpoint is a closed port on the loopback interface: connections are refused at once, so what
these tests see is lakeml's retry policy and message, never a remote address.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import lakeml
from lakeml.errors import ConfigError, StorageError
from lakeml.storage.credentials import RETRIES, resolve_azure_credentials

KEY = base64.b64encode(b"k" * 64).decode()


@pytest.fixture
def closed_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/devstoreaccount1"


def test_python_api_names_the_unreachable_endpoint(closed_endpoint: str) -> None:
    lake = lakeml.connect("az://c/lake", storage_options={"account_name": "devstoreaccount1", "account_key": KEY,
                                                         "endpoint": closed_endpoint})
    with pytest.raises(StorageError) as info:
        lake.tables()
    assert f"Azure storage at {closed_endpoint} could not be reached" in info.value.message
    assert KEY not in str(info.value)


def test_cli_names_the_unreachable_endpoint_on_one_line(closed_endpoint: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "LAKEML_"))}
    env.update(AZURE_STORAGE_ACCOUNT_NAME="devstoreaccount1", AZURE_STORAGE_ACCOUNT_KEY=KEY,
               AZURE_STORAGE_ENDPOINT=closed_endpoint)
    out = subprocess.run([sys.executable, "-m", "lakeml.cli.main", "--lake", "az://c/lake", "tables"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert out.stderr.startswith("error: Azure storage at " + closed_endpoint) and len(out.stderr.splitlines()) == 1


def test_every_client_gets_the_timeouts_and_retries() -> None:
    creds = resolve_azure_credentials({"account_name": "a", "account_key": KEY}, env={})
    options = creds.object_store_options()
    assert options["max_retries"] == str(RETRIES) and options["connect_timeout"].endswith("s")
    assert creds.aio_blob_service_client() is not None


def test_storage_options_override_the_limits_and_round_trip() -> None:
    creds = resolve_azure_credentials({"account_name": "a", "account_key": KEY, "connect_timeout": "1s",
                                       "timeout": 7, "max_retries": "0"}, env={})
    assert (creds.connect_timeout, creds.read_timeout, creds.retries) == (1.0, 7.0, 0)
    again = resolve_azure_credentials(creds.object_store_options(), env={})
    assert (again.connect_timeout, again.read_timeout, again.retries) == (1.0, 7.0, 0)
    with pytest.raises(ConfigError, match="connect_timeout"):
        resolve_azure_credentials({"account_name": "a", "account_key": KEY, "connect_timeout": "soon"}, env={})
