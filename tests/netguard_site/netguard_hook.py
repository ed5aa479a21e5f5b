"""The network guard's hook: no test (nor a subprocess of one) may send traffic off this machine.

An audit hook (``sys.addaudithook``) sees every Python-level ``socket.connect`` (and ``sendto`` /
``sendmsg`` with an address, as UDP sends without connecting). A destination that is not on this
machine (anything but 127.0.0.0/8, ::1, a unix socket or the name ``localhost``) is refused by
raising from the hook, which aborts the call before the kernel sees it, so no packet leaves. The
attempt is also recorded, and the test that made it fails even when a library swallowed the error.

Subprocesses do not inherit audit hooks. The pytest plugin (``tests/netguard.py``) therefore puts
this folder, whose ``sitecustomize.py`` installs the same hook, first on ``PYTHONPATH`` and names a
log file in ``NETGUARD_LOG``: every Python subprocess of the tests (the CLI tests run ``lakeml``
that way) refuses off-machine connects too and writes them to the log, which the plugin reads
after each test.

Native code that opens its own sockets (Rust object_store inside Polars and deltalake, ONNX
Runtime) is not seen by audit hooks; lakeml's own rules (no credential chain, ``credential_provider
=None``, refusing Azure locations without credentials before any request) are what keeps those
quiet, and the tests of those rules check the refusal happens.

This module imports nothing of lakeml, of pytest or of the tests package, so ``sitecustomize`` can
load it in any Python process.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Callable
from typing import Any

LOG_ENV = "NETGUARD_LOG"
SITE_DIR = os.path.dirname(os.path.abspath(__file__))
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


class OffMachineConnectError(PermissionError):
    """A test tried to reach an address off this machine; the connect was never made."""


def is_local_address(address: Any) -> bool:
    """Whether a socket address stays on this machine (loopback or unix socket)."""
    if isinstance(address, str | bytes | bytearray | os.PathLike):
        return True  # AF_UNIX path (or abstract name)
    if not isinstance(address, tuple) or not address:
        return True  # no host part (e.g. netlink (pid, groups)): nothing routable
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return True  # netlink and friends: integers, not hosts
    text = host.split("%", 1)[0].strip("[]")
    if text.lower() in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False  # a host name other than localhost: it would be resolved and reached off-machine
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


_EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg"}


def install(record: Callable[[str], None]) -> None:
    """Install the audit hook (once per process); ``record`` is told of every refused attempt."""
    if getattr(sys, "_lakeml_netguard", False):
        return

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event not in _EVENTS or len(args) < 2:
            return
        address = args[1]
        if address is None or is_local_address(address):
            return
        what = f"{event} to {address!r} (pid {os.getpid()})"
        record(what)
        raise OffMachineConnectError(f"Network guard: refused {what}; tests must stay on this machine.")

    sys.addaudithook(hook)
    sys._lakeml_netguard = True  # type: ignore[attr-defined]


def append_to_log(path: str) -> Callable[[str], None]:
    """A recorder that appends one line per refused attempt to ``path`` (for subprocesses)."""

    def record(what: str) -> None:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(what + "\n")

    return record
