"""pytest plugin: fail any test that tries to reach an address off this machine.

Enabled from ``tests/conftest.py``. The hook itself (and why it covers subprocesses) is in
``tests/netguard_site/netguard_hook.py``. In this process a refused attempt is recorded in memory;
in subprocesses it is appended to the ``NETGUARD_LOG`` file. After each test (setup, call and
teardown included) both are checked and the test fails naming every attempt. An attempt made
outside any test (a session fixture's setup) fails the next test that checks: none is dropped.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

import pytest

from tests.netguard_site import netguard_hook

_attempts: list[str] = []
_log_path = os.path.join(tempfile.mkdtemp(prefix="netguard-"), "attempts.log")


def _start() -> None:
    netguard_hook.install(_attempts.append)
    os.environ[netguard_hook.LOG_ENV] = _log_path
    path = os.environ.get("PYTHONPATH", "")
    if netguard_hook.SITE_DIR not in path.split(os.pathsep):
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (netguard_hook.SITE_DIR, path) if p)


def take_attempts() -> list[str]:
    """Every refused attempt since the last call (this process and its subprocesses), clearing them."""
    found = list(_attempts)
    _attempts.clear()
    if os.path.exists(_log_path):
        with open(_log_path, encoding="utf-8") as handle:
            found.extend(line.strip() for line in handle if line.strip())
        os.remove(_log_path)
    return found


_start()


@pytest.fixture(autouse=True)
def _network_guard() -> Iterator[None]:
    """Fails the test if it (or a subprocess of it) tried to connect off this machine."""
    yield
    found = take_attempts()
    if found:
        pytest.fail("Tried to send traffic off this machine:\n  " + "\n  ".join(found), pytrace=False)
