"""Fixtures of the fault-injection suite: a lossy relay in front of Azurite, and lakes behind it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import lakeml
from lakeml.session import Lake
from tests.azurite import ACCOUNT, Azurite
from tests.faults.relay import Relay


@pytest.fixture
def relay(azurite: Azurite) -> Iterator[Relay]:
    """A fresh relay in front of the session's Azurite."""
    with Relay(azurite.port) as server:
        yield server


@pytest.fixture
def relay_lake(azurite: Azurite, relay: Relay) -> Lake:
    """A lake in a new Azurite container, reached through the relay."""
    options = azurite.storage_options() | {"endpoint": f"http://127.0.0.1:{relay.port}/{ACCOUNT}"}
    lake = lakeml.connect(f"abfss://{azurite.new_container()}@{ACCOUNT}.dfs.core.windows.net/lake",
                          storage_options=options)
    lake.storage.ensure_root()
    return lake
