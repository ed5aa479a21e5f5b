"""Azure credentials: which credential lakeml builds from which settings, and keeping secrets secret.

Sources, in order: explicit ``storage_options`` given to :func:`lakeml.connect`, then the
``AZURE_STORAGE_*`` environment variables. Kinds: account key, SAS token, connection string, and
Microsoft Entra ID through ``azure-identity`` when asked for (``auth="entra"``). With no source, an
Azure location is refused: lakeml never guesses, so no credential chain runs by surprise (a
managed-identity probe would call an address off this machine).

Every client lakeml builds fails fast when the storage endpoint cannot be reached: the Azure SDK
(through adlfs) and object_store (Polars, deltalake) get the timeouts and retry counts below, so an
unreachable endpoint fails within about ten seconds instead of minutes of silent retries.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from lakeml.errors import ConfigError, CredentialError
from lakeml.redaction import redact_text

AuthKind = Literal["account_key", "sas", "connection_string", "entra"]

_STORAGE_SCOPE = "https://storage.azure.com/.default"

CONNECT_TIMEOUT_S = 3
"""Seconds to wait for a TCP/TLS connection to the storage endpoint."""
READ_TIMEOUT_S = 20
"""Seconds to wait for the next bytes of a response from a connected endpoint."""
RETRIES = 2
"""Retries after a failed storage request (so three attempts at most)."""
RETRY_BACKOFF_S = 1
"""Seconds between retries of the Azure SDK (object_store backs off on its own, from 100 ms)."""

_OPTION_ALIASES = {
    "account_name": "account_name", "azure_storage_account_name": "account_name",
    "account_key": "account_key", "azure_storage_account_key": "account_key", "access_key": "account_key",
    "sas_token": "sas_token", "sas_key": "sas_token", "azure_storage_sas_token": "sas_token",
    "connection_string": "connection_string", "azure_storage_connection_string": "connection_string",
    "endpoint": "endpoint", "azure_storage_endpoint": "endpoint", "blob_endpoint": "endpoint",
    "allow_http": "allow_http", "auth": "auth",
    "connect_timeout": "connect_timeout", "timeout": "timeout", "max_retries": "max_retries",
}

_ENV = {
    "account_name": ("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT"),
    "account_key": ("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY"),
    "sas_token": ("AZURE_STORAGE_SAS_TOKEN",),
    "connection_string": ("AZURE_STORAGE_CONNECTION_STRING",),
    "endpoint": ("AZURE_STORAGE_ENDPOINT",),
    "auth": ("LAKEML_AZURE_AUTH",),
}


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value, for handing to a storage client only."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True)
class AzureCredentials:
    """The credential lakeml uses for an Azure lake. Secrets are wrapped in :class:`Secret`.

    Attributes:
        kind: which credential source was chosen.
        account_name: the storage account.
        endpoint: a custom blob endpoint (Azurite, sovereign clouds), or None for the public cloud.
        allow_http: allow a plain-HTTP endpoint (Azurite only).
        origin: where the settings came from ("storage_options" or "environment").
        connect_timeout, read_timeout, retries: how fast requests to an unreachable or silent endpoint
            give up (storage options ``connect_timeout``, ``timeout``, ``max_retries`` override them).
    """

    kind: AuthKind
    account_name: str
    account_key: Secret | None = None
    sas_token: Secret | None = None
    connection_string: Secret | None = None
    endpoint: str | None = None
    allow_http: bool = False
    origin: str = "storage_options"
    connect_timeout: float = CONNECT_TIMEOUT_S
    read_timeout: float = READ_TIMEOUT_S
    retries: int = RETRIES
    _token: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, compare=False, repr=False)

    def secrets(self) -> list[str]:
        """Every secret string, for redacting messages."""
        values = [s.reveal() for s in (self.account_key, self.sas_token, self.connection_string) if s]
        token = self._token.get("value")
        if token:
            values.append(token)
        return [v for v in values if v]

    def object_store_options(self) -> dict[str, str]:
        """Options for polars' native reader and deltalake (object_store keys)."""
        options: dict[str, str] = {"account_name": self.account_name}
        if self.kind in ("account_key", "connection_string") and self.account_key:
            options["account_key"] = self.account_key.reveal()
        elif self.sas_token:
            options["sas_token"] = self.sas_token.reveal().lstrip("?")
        elif self.kind == "entra":
            options["bearer_token"] = self.bearer_token()
        if self.endpoint:
            options["endpoint"] = self.endpoint
        if self.allow_http:
            options["allow_http"] = "true"
        options.update(timeout=f"{self.read_timeout:g}s", connect_timeout=f"{self.connect_timeout:g}s",
                       max_retries=str(self.retries))
        return options

    @property
    def blob_endpoint(self) -> str:
        """The blob endpoint requests go to, for messages (the custom endpoint, else the public cloud's)."""
        return self.endpoint or f"https://{self.account_name}.blob.core.windows.net"

    def aio_blob_service_client(self, *, account_url: str | None = None, credential: Any = None) -> Any:
        """An async ``BlobServiceClient`` with lakeml's timeouts and retry policy (for adlfs).

        ``account_url`` and ``credential`` are used for Entra ID sign-in (adlfs's own choice of URL and
        credential object); the other kinds connect with :meth:`adlfs_options`' connection string.
        """
        from azure.storage.blob.aio import BlobServiceClient, LinearRetry

        settings: dict[str, Any] = {
            "retry_policy": LinearRetry(backoff=RETRY_BACKOFF_S, random_jitter_range=0, retry_total=self.retries),
            "connection_timeout": self.connect_timeout,
            "read_timeout": self.read_timeout,
        }
        if self.kind == "entra":
            return BlobServiceClient(account_url=account_url or self.blob_endpoint, credential=credential, **settings)
        return BlobServiceClient.from_connection_string(self.adlfs_options()["connection_string"], **settings)

    def adlfs_options(self) -> dict[str, Any]:
        """Keyword arguments for ``adlfs.AzureBlobFileSystem``."""
        if self.kind == "entra":
            options: dict[str, Any] = {"account_name": self.account_name, "credential": _EntraTokenCredential(self)}
            if self.endpoint:
                options["account_host"] = self.endpoint.split("://", 1)[-1].split("/", 1)[0]
            return options
        parts = [f"DefaultEndpointsProtocol={'http' if self.allow_http else 'https'}",
                 f"AccountName={self.account_name}"]
        if self.account_key:
            parts.append(f"AccountKey={self.account_key.reveal()}")
        if self.sas_token and not self.account_key:
            parts.append(f"SharedAccessSignature={self.sas_token.reveal().lstrip('?')}")
        parts.append(f"BlobEndpoint={self.endpoint}" if self.endpoint else "EndpointSuffix=core.windows.net")
        return {"connection_string": ";".join(parts) + ";"}

    def bearer_token(self) -> str:
        """A Microsoft Entra ID access token for Azure Storage, refreshed five minutes before expiry."""
        with self._lock:
            if self._token.get("expires_on", 0) - 300 > time.time():
                return str(self._token["value"])
            try:
                from azure.identity import DefaultAzureCredential

                token = DefaultAzureCredential().get_token(_STORAGE_SCOPE)
            except Exception as exc:
                raise CredentialError(
                    f"Microsoft Entra ID sign-in for storage account '{self.account_name}' failed "
                    f"({type(exc).__name__}).",
                    hint="Sign in with 'az login', or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET, "
                    "or use an account key or SAS token instead.",
                ) from None
            self._token.update(value=token.token, expires_on=token.expires_on)
            return token.token

    def describe(self) -> str:
        """A safe one-line description (no secrets)."""
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"Azure account '{self.account_name}'{where} using {self.kind} from {self.origin}"


class _EntraTokenCredential:
    """An azure-core TokenCredential backed by :meth:`AzureCredentials.bearer_token`'s cache."""

    def __init__(self, creds: AzureCredentials) -> None:
        self._creds = creds

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        value = self._creds.bearer_token()
        return AccessToken(value, int(self._creds._token.get("expires_on", time.time() + 300)))


def _normalise(options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        canonical = _OPTION_ALIASES.get(key.lower())
        if canonical is None:
            raise ConfigError(
                f"Unknown Azure storage option '{key}'.",
                hint=f"Known options: {sorted(set(_OPTION_ALIASES.values()))}.",
            )
        out[canonical] = value
    return out


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for canonical, names in _ENV.items():
        for name in names:
            if env.get(name):
                out[canonical] = env[name]
                break
    return out


def _parse_connection_string(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in text.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            fields[key.strip().lower()] = value.strip()
    return fields


def _seconds(key: str, value: Any) -> float:
    text = str(value).strip().lower()
    try:
        seconds = float(text[:-1] if text.endswith("s") else text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise ConfigError(f"Storage option {key}={value!r} is not a positive number of seconds.",
                          hint=f"Write e.g. {key}='10s' or {key}=10.")
    return seconds


def _limits(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The timeout and retry settings given as storage options (object_store's names and forms)."""
    limits: dict[str, Any] = {}
    if settings.get("connect_timeout") is not None:
        limits["connect_timeout"] = _seconds("connect_timeout", settings["connect_timeout"])
    if settings.get("timeout") is not None:
        limits["read_timeout"] = _seconds("timeout", settings["timeout"])
    if settings.get("max_retries") is not None:
        text = str(settings["max_retries"]).strip()
        if not text.isdigit():
            raise ConfigError(f"Storage option max_retries={settings['max_retries']!r} is not a whole number.",
                              hint="Write e.g. max_retries=2.")
        limits["retries"] = int(text)
    return limits


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def resolve_azure_credentials(
    storage_options: Mapping[str, Any] | None,
    *,
    account_hint: str | None = None,
    env: Mapping[str, str] | None = None,
) -> AzureCredentials:
    """Choose the Azure credential for a lake from explicit options, else the environment.

    Args:
        storage_options: explicit settings (``account_name``, ``account_key``, ``sas_token``,
            ``connection_string``, ``endpoint``, ``allow_http``, ``auth="entra"``).
        account_hint: the account named in an ``abfss://container@account...`` URI.
        env: the environment to read (defaults to ``os.environ``).

    Raises:
        CredentialError: no credential source is configured (lakeml refuses to guess).
        ConfigError: unknown option names or contradictory settings.
    """
    explicit = _normalise(storage_options or {})
    environment = _from_env(os.environ if env is None else env)
    has_explicit_secret = any(k in explicit for k in ("account_key", "sas_token", "connection_string", "auth"))
    settings = explicit if has_explicit_secret else {**environment, **explicit}
    origin = "storage_options" if has_explicit_secret else "environment"

    auth = str(settings.get("auth", "")).lower() or None
    if auth not in (None, "entra", "key", "sas", "connection_string"):
        raise ConfigError(f"Unknown Azure auth kind '{auth}'.",
                          hint="Use [[auth='entra'|LAKEML_AZURE_AUTH=entra]] for Microsoft Entra ID, or give an "
                               "account key, SAS token or connection string.")
    endpoint = settings.get("endpoint")
    allow_http = _truthy(settings.get("allow_http", False)) or bool(endpoint and str(endpoint).startswith("http://"))
    account = settings.get("account_name") or account_hint
    limits = _limits(settings)

    if settings.get("connection_string"):
        fields = _parse_connection_string(str(settings["connection_string"]))
        account = fields.get("accountname") or account
        endpoint = fields.get("blobendpoint") or endpoint
        allow_http = allow_http or (fields.get("defaultendpointsprotocol") == "http") or bool(
            endpoint and endpoint.startswith("http://"))
        if not account:
            raise ConfigError("The Azure connection string has no AccountName.",
                              hint="Copy the full connection string from the storage account's access keys page.")
        key = fields.get("accountkey")
        sas = fields.get("sharedaccesssignature")
        if not key and not sas:
            raise ConfigError("The Azure connection string has neither AccountKey nor SharedAccessSignature.",
                              hint="Copy the full connection string, or give an account key or SAS token instead.")
        return AzureCredentials("connection_string", account,
                                account_key=Secret(key) if key else None, sas_token=Secret(sas) if sas else None,
                                connection_string=Secret(str(settings["connection_string"])),
                                endpoint=endpoint, allow_http=allow_http, origin=origin, **limits)
    if not account:
        raise CredentialError(
            "No Azure storage account name is configured for this lake.",
            hint="Use an abfss://container@ACCOUNT.dfs.core.windows.net/ URI, [[pass "
                 "storage_options={'account_name': ...}, |]]or set AZURE_STORAGE_ACCOUNT_NAME.",
        )
    if settings.get("account_key") and auth in (None, "key"):
        return AzureCredentials("account_key", str(account), account_key=Secret(str(settings["account_key"])),
                                endpoint=endpoint, allow_http=allow_http, origin=origin, **limits)
    if settings.get("sas_token") and auth in (None, "sas"):
        return AzureCredentials("sas", str(account), sas_token=Secret(str(settings["sas_token"]).lstrip("?")),
                                endpoint=endpoint, allow_http=allow_http, origin=origin, **limits)
    if auth == "entra":
        return AzureCredentials("entra", str(account), endpoint=endpoint, allow_http=allow_http, origin=origin,
                                **limits)
    raise CredentialError(
        f"No credential is configured for Azure storage account '{account}'; lakeml does not guess one.",
        hint="[[Pass storage_options with account_key, sas_token or connection_string (or set "
             "AZURE_STORAGE_ACCOUNT_KEY / AZURE_STORAGE_SAS_TOKEN / AZURE_STORAGE_CONNECTION_STRING), or ask for "
             "Microsoft Entra ID sign-in with storage_options={'auth': 'entra'} or LAKEML_AZURE_AUTH=entra.|Set "
             "AZURE_STORAGE_ACCOUNT_KEY, AZURE_STORAGE_SAS_TOKEN or AZURE_STORAGE_CONNECTION_STRING, or "
             "LAKEML_AZURE_AUTH=entra for Microsoft Entra ID sign-in.]]",
    )


def redact(text: str, secrets: list[str]) -> str:
    """Replace every secret (and anything secret-shaped, see :mod:`lakeml.redaction`) in ``text`` with ``***``."""
    return redact_text(text, secrets)
