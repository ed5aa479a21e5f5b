"""The lake's external-access rule: which locations SQL file reads and ``register_table`` may reach."""

from __future__ import annotations

from dataclasses import replace

from lakeml.context import StorageContext
from lakeml.errors import ExternalAccessError
from lakeml.storage.uri import Location, safe_uri


def check_access(lake: StorageContext, location: Location, *, what: str) -> None:
    """Refuse ``location`` if the lake's external access is off and it is outside the lake root.

    Args:
        lake: the :class:`~lakeml.session.Lake` (its ``config.external_access`` and root).
        location: the location to read, local paths already resolved (symlinks followed).
        what: what is being done, for the message (e.g. ``"read_csv()"``).

    Raises:
        ExternalAccessError: external access is off and the location is not under the lake root.
    """
    if getattr(lake.config, "external_access", True):
        return
    root = lake.storage.root
    creds = getattr(lake.storage, "credentials", None)
    if not root.is_local and root.account is None and creds is not None:
        root = replace(root, account=creds.account_name)  # az://container URIs live in the lake's account
    if root.contains(location):
        return
    raise ExternalAccessError(
        f"{what} may not read {safe_uri(location.uri)}: it is outside the lake at {safe_uri(lake.root)} and "
        "this lake's external access is off.",
        hint="Copy the files under the lake root (e.g. with [[lake.ingest|lakeml ingest]]), or "
             "[[open the lake with config={'external_access': True} (or LAKEML_EXTERNAL_ACCESS=1)|set "
             "LAKEML_EXTERNAL_ACCESS=1]] if reading any location is intended.",
    )
