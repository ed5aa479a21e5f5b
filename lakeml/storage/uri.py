"""Lake locations: parse local paths and Azure URIs into one value type."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from lakeml.errors import ConfigError
from lakeml.redaction import redact_text

Scheme = Literal["file", "azure"]

_AZURE_SCHEMES = {"az", "abfs", "abfss", "adl"}
_DFS_HOST = re.compile(r"^(?P<account>[a-z0-9]{3,24})\.(dfs|blob)\.core\.windows\.net$")


@dataclass(frozen=True)
class Location:
    """A folder or file in a lake: a local path, or a path in an Azure container.

    Attributes:
        scheme: ``"file"`` or ``"azure"``.
        path: for local locations an absolute POSIX path; for Azure the path inside the container
            (no leading slash, may be empty).
        container: the Azure container (file system), or None for local paths.
        account: the storage account named in an ``abfss://container@account...`` URI, if any.
    """

    scheme: Scheme
    path: str
    container: str | None = None
    account: str | None = None

    @property
    def is_local(self) -> bool:
        """True for local-disk locations."""
        return self.scheme == "file"

    @property
    def uri(self) -> str:
        """The URI polars and deltalake read: a local path, or ``az://container/path``."""
        if self.is_local:
            return self.path
        return f"az://{self.container}/{self.path}".rstrip("/") if self.path else f"az://{self.container}"

    @property
    def fs_path(self) -> str:
        """The path fsspec filesystems use: local path, or ``container/path`` for adlfs."""
        if self.is_local:
            return self.path
        return f"{self.container}/{self.path}".rstrip("/")

    def join(self, *parts: str) -> Location:
        """A location below this one (parts are POSIX relative paths)."""
        clean = [p.strip("/") for p in parts if p and p.strip("/")]
        if not clean:
            return self
        joined = posixpath.join(self.path, *clean) if self.path else posixpath.join(*clean)
        return Location(self.scheme, joined, self.container, self.account)

    def contains(self, other: Location) -> bool:
        """Whether ``other`` is this location or below it (same disk or same Azure container).

        Paths are compared segment by segment after normalising ``..``, so ``lake/../x`` and the
        sibling ``lakehouse`` are not inside ``lake``. An Azure location that names no account is
        taken to be in this location's account. Local paths are compared as given: resolve symlinks
        first (``parse_location`` does).
        """
        if self.scheme != other.scheme or self.container != other.container:
            return False
        if self.account and other.account and self.account != other.account:
            return False
        mine, theirs = posixpath.normpath("/" + self.path), posixpath.normpath("/" + other.path)
        return mine == "/" or theirs == mine or theirs.startswith(mine.rstrip("/") + "/")

    def __str__(self) -> str:
        return self.uri


def parse_location(value: str | Path) -> Location:
    """Parse a lake root or table location.

    Accepts local paths, ``file://`` URIs, ``az://container/path``, ``abfs://container/path`` and
    ``abfss://container@account.dfs.core.windows.net/path``.

    Raises:
        ConfigError: for an empty value or an unsupported scheme.
    """
    text = str(value).strip()
    if not text:
        raise ConfigError("An empty lake location was given.", hint="Pass a folder like './lake' or an "
                          "'abfss://container@account.dfs.core.windows.net/path' URI.")
    if "://" not in text:
        return Location("file", Path(text).expanduser().resolve().as_posix())
    parsed = urlparse(text)
    scheme = parsed.scheme.lower()
    if scheme != "file" and scheme not in _AZURE_SCHEMES:
        raise ConfigError(
            f"Unsupported lake location scheme '{scheme}://' in {safe_uri(text)!r}.",
            hint="Use a local path, file://, az://, abfs:// or abfss:// (Azure Data Lake Storage).",
        )
    if parsed.query or parsed.fragment:
        raise ConfigError(
            f"The location {safe_uri(text)!r} carries a query string; a lake URI must not (it could hold a "
            "SAS token).",
            hint="Pass SAS tokens and keys through [[storage_options or |]]AZURE_STORAGE_* variables.",
        )
    if scheme == "file":
        return Location("file", Path(parsed.path).resolve().as_posix())
    netloc = parsed.netloc
    account: str | None = None
    if "@" in netloc:
        container, host = netloc.split("@", 1)
        match = _DFS_HOST.match(host.lower())
        account = match.group("account") if match else host.split(".")[0]
    else:
        container = netloc
    if not container:
        raise ConfigError(f"No container in the Azure URI {safe_uri(text)!r}.",
                          hint="Write az://<container>/<path> or abfss://<container>@<account>.dfs.core.windows.net/<path>.")
    return Location("azure", parsed.path.strip("/"), container, account)


def safe_uri(value: str | Path | Location) -> str:
    """A location as messages, logs and CLI output may show it: no query string (it can hold a SAS
    token: shown as ``?***``), no password, no key or signature (see :mod:`lakeml.redaction`)."""
    return redact_text(str(value).strip())
