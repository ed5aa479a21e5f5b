"""Which credential lakeml builds from which settings — without ever running a credential chain."""

from __future__ import annotations

import pytest

import lakeml
from lakeml.errors import ConfigError, CredentialError
from lakeml.storage.credentials import Secret, redact, resolve_azure_credentials
from lakeml.storage.uri import parse_location

KEY = "c2VjcmV0LWtleS1mb3ItdGVzdHMtb25seQ=="
SAS = "sv=2024-01-01&ss=b&srt=sco&sp=rwdl&sig=AbCdEf123%2BsecretSig%3D"


def test_account_key_from_explicit_options():
    creds = resolve_azure_credentials({"account_name": "acct", "account_key": KEY}, env={})
    assert creds.kind == "account_key"
    assert creds.object_store_options() == {"account_name": "acct", "account_key": KEY, "timeout": "20s",
                                            "connect_timeout": "3s", "max_retries": "2"}
    assert KEY in creds.adlfs_options()["connection_string"]


def test_sas_from_environment():
    creds = resolve_azure_credentials(None, env={"AZURE_STORAGE_ACCOUNT_NAME": "acct",
                                                 "AZURE_STORAGE_SAS_TOKEN": "?" + SAS})
    assert creds.kind == "sas" and creds.origin == "environment"
    assert creds.object_store_options()["sas_token"] == SAS


def test_connection_string_fills_account_and_endpoint():
    conn = f"DefaultEndpointsProtocol=http;AccountName=dev1;AccountKey={KEY};BlobEndpoint=http://127.0.0.1:1/dev1;"
    creds = resolve_azure_credentials(None, env={"AZURE_STORAGE_CONNECTION_STRING": conn})
    assert (creds.kind, creds.account_name, creds.endpoint, creds.allow_http) == (
        "connection_string", "dev1", "http://127.0.0.1:1/dev1", True)
    assert creds.object_store_options()["account_key"] == KEY


def test_account_from_abfss_uri_and_key_from_env():
    location = parse_location("abfss://data@myacct.dfs.core.windows.net/lake")
    creds = resolve_azure_credentials(None, account_hint=location.account, env={"AZURE_STORAGE_ACCOUNT_KEY": KEY})
    assert creds.account_name == "myacct" and creds.kind == "account_key"


def test_explicit_options_win_over_environment():
    creds = resolve_azure_credentials({"account_name": "a", "sas_token": SAS},
                                      env={"AZURE_STORAGE_ACCOUNT_KEY": KEY})
    assert creds.kind == "sas"
    assert KEY not in creds.secrets()


def test_entra_is_chosen_only_when_asked_and_builds_lazily():
    creds = resolve_azure_credentials({"account_name": "acct", "auth": "entra"}, env={})
    assert creds.kind == "entra"
    # Nothing ran yet: the token is fetched on first use only (never in tests).
    assert creds._token == {}
    env = {"AZURE_STORAGE_ACCOUNT_NAME": "acct", "LAKEML_AZURE_AUTH": "entra"}
    env_creds = resolve_azure_credentials(None, env=env)
    assert env_creds.kind == "entra"


def test_no_credential_source_is_refused():
    with pytest.raises(CredentialError) as info:
        resolve_azure_credentials({"account_name": "acct"}, env={})
    assert "does not guess" in str(info.value)
    assert "auth" in str(info.value.hint)


def test_connect_refuses_azure_lake_without_credentials(monkeypatch):
    with pytest.raises(CredentialError):
        lakeml.connect("abfss://data@acct.dfs.core.windows.net/lake")


def test_no_account_is_refused():
    with pytest.raises(CredentialError, match="account name"):
        lakeml.connect("az://data/lake", storage_options={"account_key": KEY})


def test_unknown_option_and_auth_kind():
    with pytest.raises(ConfigError, match="Unknown Azure storage option 'acount_key'"):
        resolve_azure_credentials({"account_name": "a", "acount_key": KEY}, env={})
    with pytest.raises(ConfigError, match="Unknown Azure auth kind"):
        resolve_azure_credentials({"account_name": "a", "auth": "magic"}, env={})


def test_secrets_never_in_repr():
    creds = resolve_azure_credentials({"account_name": "acct", "account_key": KEY}, env={})
    assert KEY not in repr(creds) and KEY not in str(creds) and KEY not in creds.describe()
    assert repr(Secret(KEY)) == "Secret('***')"
    lake = lakeml.connect("az://data/lake", storage_options={"account_name": "acct", "account_key": KEY})
    assert KEY not in repr(lake)


def test_redact_masks_keys_and_sas_signatures():
    text = f"failed with key {KEY} at https://x.blob.core.windows.net/c?{SAS}"
    cleaned = redact(text, [KEY])
    assert KEY not in cleaned and "AbCdEf123" not in cleaned
    assert cleaned.endswith("https://x.blob.core.windows.net/c?***")  # the whole query string goes
    assert redact(f"token sv=1&sig={SAS.split('sig=')[1]} failed", []) == "token sv=1&sig=*** failed"


def test_sas_token_in_uri_is_refused():
    with pytest.raises(ConfigError, match="query string"):
        parse_location(f"abfss://c@acct.dfs.core.windows.net/lake?{SAS}")
