"""Byte-level access to a lake root, on local disk or Azure, with atomic and create-only writes."""

from __future__ import annotations

import builtins
import contextlib
import os
import posixpath
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lakeml.errors import (
    CredentialError,
    InvalidNameError,
    LakeMLError,
    LakePathNotFoundError,
    StorageError,
)
from lakeml.storage.credentials import AzureCredentials, redact, resolve_azure_credentials
from lakeml.storage.uri import Location, parse_location


def clean_relpath(relpath: str) -> str:
    """Normalise a path below the lake root, refusing anything that escapes it."""
    text = relpath.replace("\\", "/").strip()
    if text.startswith("/") or (len(text) > 1 and text[1] == ":"):
        raise InvalidNameError(f"The lake path {relpath!r} is absolute.",
                               hint="Paths inside the lake are relative to its root.")
    norm = posixpath.normpath(text) if text else ""
    if norm in (".", ""):
        return ""
    if norm == ".." or norm.startswith("../"):
        raise InvalidNameError(f"The lake path {relpath!r} leaves the lake root.",
                               hint="Remove '..' from the path.")
    return norm


class LakeStorage:
    """Files under one lake root. Use :func:`open_storage` to build one.

    All paths are relative to the root. Writes of whole objects are atomic: a reader sees the old
    or the new bytes, never a part. ``write_bytes(..., overwrite=False)`` is create-only and is the
    building block of every commit protocol in lakeml (it works on object stores, which have no
    atomic rename).
    """

    def __init__(self, root: Location) -> None:
        self.root = root

    # -- addressing ---------------------------------------------------------------------------------
    def location(self, *parts: str) -> Location:
        """The location of a path below the root."""
        return self.root.join(*(clean_relpath(p) for p in parts))

    def uri(self, *parts: str) -> str:
        """The URI (or local path) of a path below the root, as polars and deltalake read it."""
        return self.location(*parts).uri

    @property
    def storage_options(self) -> dict[str, str]:
        """Options for polars' native cloud reader and deltalake (empty for local lakes)."""
        return {}

    def polars_options(self) -> dict[str, Any]:
        """Keyword arguments to pass to every polars ``scan_*``/``sink_*`` on a lake URI."""
        return {}

    def secrets(self) -> builtins.list[str]:
        """Secret strings to redact from messages."""
        return []

    def redact(self, text: str) -> str:
        """``text`` with every secret of this lake replaced by ``***``."""
        return redact(text, self.secrets())

    def describe(self) -> str:
        """A safe description of where this lake lives."""
        return self.root.uri

    # -- operations (implemented per backend) -------------------------------------------------------
    def exists(self, relpath: str) -> bool:
        """Whether a file or folder exists."""
        raise NotImplementedError

    def read_bytes(self, relpath: str) -> bytes:
        """The bytes of a file; LakePathNotFoundError if missing."""
        raise NotImplementedError

    def write_bytes(self, relpath: str, data: bytes, *, overwrite: bool = True) -> bool:
        """Write a whole file atomically. Create-only when ``overwrite`` is False: returns False
        (writing nothing) if it already exists."""
        raise NotImplementedError

    def list(self, relpath: str = "") -> builtins.list[str]:
        """Names of the immediate children of a folder; [] if it does not exist."""
        raise NotImplementedError

    def list_files(self, relpath: str) -> builtins.list[str]:
        """Every file below a folder, as paths relative to that folder, sorted."""
        raise NotImplementedError

    def modified_times(self, relpath: str) -> dict[str, float]:
        """Every file below a folder (or the file itself, keyed ``""``), with its last modification
        time in seconds since the epoch; {} if nothing is there."""
        raise NotImplementedError

    def delete(self, relpath: str, *, recursive: bool = False) -> None:
        """Delete a file (or a folder with ``recursive``); missing paths are ignored."""
        raise NotImplementedError

    def ensure_root(self) -> None:
        """Create the root (and on Azure the container) if missing."""
        raise NotImplementedError

    def sync(self, relpath: str) -> None:
        """Make the files below a folder durable before a commit references them.

        Object stores acknowledge a write once it is durable, so only local disks need work here.
        """

    def size(self, relpath: str) -> int:
        """Size of a file in bytes."""
        raise NotImplementedError


class LocalStorage(LakeStorage):
    """A lake on the local disk."""

    def _p(self, relpath: str) -> Path:
        return Path(self.uri(relpath))

    def exists(self, relpath: str) -> bool:
        return self._p(relpath).exists()

    def read_bytes(self, relpath: str) -> bytes:
        path = self._p(relpath)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise LakePathNotFoundError(f"No file {relpath!r} in the lake at {self.root.uri}.",
                                        hint="Check the name, or list the folder.") from None
        except OSError as exc:
            raise StorageError(f"Could not read {path}: {exc.strerror}.", hint="Check permissions.") from exc

    def write_bytes(self, relpath: str, data: bytes, *, overwrite: bool = True) -> bool:
        path = self._p(relpath)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; lake files are shared like any file
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if overwrite:
                os.replace(tmp, path)
                return True
            try:
                os.link(tmp, path)  # atomic create-only: fails if the name exists
            except FileExistsError:
                return False
            _fsync_dir(path.parent)
            return True
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)

    def list(self, relpath: str = "") -> builtins.list[str]:
        path = self._p(relpath)
        if not path.is_dir():
            return []
        return sorted(p.name for p in path.iterdir() if not p.name.startswith(".") or p.name == ".lakeml")

    def list_files(self, relpath: str) -> builtins.list[str]:
        base = self._p(relpath)
        if not base.is_dir():
            return []
        return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())

    def modified_times(self, relpath: str) -> dict[str, float]:
        base = self._p(relpath)
        if base.is_file():
            return {"": base.stat().st_mtime}
        times: dict[str, float] = {}
        for path in base.rglob("*") if base.is_dir() else ():
            with contextlib.suppress(FileNotFoundError):  # a concurrent writer may remove its temp files
                if path.is_file():
                    times[path.relative_to(base).as_posix()] = path.stat().st_mtime
        return times

    def delete(self, relpath: str, *, recursive: bool = False) -> None:
        path = self._p(relpath)
        if path.is_dir():
            if recursive:
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.rmdir()
        else:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def ensure_root(self) -> None:
        Path(self.root.path).mkdir(parents=True, exist_ok=True)

    def sync(self, relpath: str) -> None:
        base = self._p(relpath)
        folders = {base}
        for path in base.rglob("*"):
            if path.is_file():
                with open(path, "rb") as handle:
                    os.fsync(handle.fileno())
                folders.add(path.parent)
        for folder in folders:
            _fsync_dir(folder)

    def size(self, relpath: str) -> int:
        return self._p(relpath).stat().st_size


def _umask() -> int:
    """The process umask (Linux reports it without changing it; elsewhere set-and-restore)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _fsync_dir(folder: Path) -> None:
    """Persist a folder's entries (a new name) on local disk."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AzureStorage(LakeStorage):
    """A lake in an Azure Blob / ADLS Gen2 container, through adlfs (blob API)."""

    def __init__(self, root: Location, credentials: AzureCredentials, *, cache: bool = True) -> None:
        super().__init__(root)
        self.credentials = credentials
        self._cache = cache
        self._fs: Any = None

    @property
    def fs(self) -> Any:
        """The adlfs filesystem (built on first use)."""
        if self._fs is None:
            import adlfs

            fs = adlfs.AzureBlobFileSystem(
                **self.credentials.adlfs_options(),
                skip_instance_cache=True,
                use_listings_cache=False,
            )
            # adlfs builds its client with the SDK's default retries (minutes against a dead endpoint)
            fs.service_client = self.credentials.aio_blob_service_client(
                account_url=getattr(fs, "account_url", None), credential=fs.credential)
            self._fs = fs
        return self._fs

    @property
    def storage_options(self) -> dict[str, str]:
        return self.credentials.object_store_options()

    def polars_options(self) -> dict[str, Any]:
        # Polars reads max_retries as a number; deltalake (and the string form above) as text
        options = self.storage_options
        return {"storage_options": {**options, "max_retries": int(options["max_retries"])}, "credential_provider": None}

    def secrets(self) -> builtins.list[str]:
        return self.credentials.secrets()

    def describe(self) -> str:
        return f"{self.root.uri} ({self.credentials.describe()})"

    def _path(self, relpath: str) -> str:
        return self.location(relpath).fs_path

    @contextlib.contextmanager
    def _errors(self, action: str, relpath: str) -> Iterator[None]:
        try:
            yield
        except LakeMLError:
            raise
        except FileNotFoundError:
            raise LakePathNotFoundError(f"No file {relpath!r} in the lake at {self.root.uri}.",
                                        hint="Check the name, or list the folder.") from None
        except Exception as exc:
            raise translate_azure_error(exc, action=f"{action} {relpath!r}", storage=self) from None

    def exists(self, relpath: str) -> bool:
        with self._errors("check", relpath):
            return bool(self.fs.exists(self._path(relpath)))

    def read_bytes(self, relpath: str) -> bytes:
        with self._errors("read", relpath):
            return bytes(self.fs.cat_file(self._path(relpath)))

    def write_bytes(self, relpath: str, data: bytes, *, overwrite: bool = True) -> bool:
        from azure.core.exceptions import ResourceExistsError

        with self._errors("write", relpath):
            try:
                # One Put Blob is atomic; overwrite=False sends If-None-Match: * (a conditional put).
                self.fs.pipe_file(self._path(relpath), data, overwrite=overwrite)
            except (ResourceExistsError, FileExistsError):
                if overwrite:
                    raise
                return False
            return True

    def list(self, relpath: str = "") -> builtins.list[str]:
        with self._errors("list", relpath):
            try:
                entries = self.fs.ls(self._path(relpath), detail=False)
            except FileNotFoundError:
                return []
        base = self._path(relpath).rstrip("/")
        names = {posixpath.basename(str(e).rstrip("/")) for e in entries if str(e).rstrip("/") != base}
        return sorted(n for n in names if n)

    def list_files(self, relpath: str) -> builtins.list[str]:
        base = self._path(relpath).rstrip("/")
        with self._errors("list", relpath):
            try:
                found = self.fs.find(base)
            except FileNotFoundError:
                return []
        return sorted(str(f)[len(base) + 1:] for f in found if str(f).startswith(base + "/"))

    def modified_times(self, relpath: str) -> dict[str, float]:
        base = self._path(relpath).rstrip("/")
        with self._errors("list", relpath):
            try:
                found = self.fs.find(base, detail=True)
            except FileNotFoundError:
                return {}
        if isinstance(found, list):  # adlfs ignores detail=True for a single file (and for no match)
            if not found:
                return {}
            with self._errors("stat", relpath):
                stamp = self.fs.info(base).get("last_modified")
            return {"": stamp.timestamp() if stamp is not None else 0.0}
        times: dict[str, float] = {}
        for name, info in found.items():
            key = "" if str(name).rstrip("/") == base else str(name)[len(base) + 1:]
            stamp = info.get("last_modified")
            times[key] = stamp.timestamp() if stamp is not None else 0.0
        return times

    def delete(self, relpath: str, *, recursive: bool = False) -> None:
        with self._errors("delete", relpath), contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._path(relpath), recursive=recursive)

    def ensure_root(self) -> None:
        with self._errors("create container", ""):
            if not self.fs.exists(self.root.container):
                with contextlib.suppress(FileExistsError):
                    self.fs.mkdir(self.root.container)

    def size(self, relpath: str) -> int:
        with self._errors("stat", relpath):
            return int(self.fs.size(self._path(relpath)))


_REFUSED = re.compile(r"authenticationfailed|authorizationfailure|\b403\b|signature|clientauthenticationerror"
                      r"|authorizationpermissionmismatch")


def translate_azure_error(exc: BaseException, *, action: str, storage: LakeStorage) -> LakeMLError:
    """Turn an Azure SDK / object_store error into a LakeMLError without leaking secrets."""
    text = storage.redact(f"{type(exc).__name__}: {exc}")
    lowered = text.lower()
    first_line = text.splitlines()[0][:300] if text else type(exc).__name__
    # A status of 403 as a word: a bare "403" also matches ports and request ids ("127.0.0.1:40312").
    if _REFUSED.search(lowered):
        return CredentialError(
            f"Azure refused the credentials while trying to {action} in {storage.root.uri}.",
            hint="Check the account key / SAS token (and that the SAS allows read, write, list), "
                 "or the role assignment for Entra ID sign-in.",
        )
    if "containernotfound" in lowered or "container not found" in lowered:
        return LakePathNotFoundError(
            f"The Azure container '{storage.root.container}' does not exist ({action}).",
            hint="Create it first, e.g. with 'lakeml --lake <uri> init'.",
        )
    credentials = getattr(storage, "credentials", None)
    if credentials is not None and any(s in lowered for s in ("servicerequesterror", "cannot connect", "timeout",
                                                              "timed out", "connection refused", "name resolution")):
        return StorageError(
            f"Azure storage at {credentials.blob_endpoint} could not be reached while trying to {action}: "
            f"{first_line}",
            hint="Check the endpoint (AZURE_STORAGE_ENDPOINT or the lake URI's account), the network, and that "
                 "the storage service is running.",
        )
    return StorageError(f"Azure storage failed to {action}: {first_line}",
                        hint="Check the endpoint, network access and credentials.")


def open_storage(root: str | Path | Location, storage_options: Mapping[str, Any] | None = None) -> LakeStorage:
    """Open the storage of a lake root (local path or Azure URI).

    Raises:
        CredentialError: an Azure root with no credential source configured.
    """
    location = root if isinstance(root, Location) else parse_location(root)
    if location.is_local:
        return LocalStorage(location)
    creds = resolve_azure_credentials(storage_options, account_hint=location.account)
    return AzureStorage(location, creds)


def new_token() -> str:
    """A fresh unique name fragment for files under construction."""
    return uuid.uuid4().hex
