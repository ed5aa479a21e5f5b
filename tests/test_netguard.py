"""The network guard refuses connects off this machine, in this process and in subprocesses."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.netguard import take_attempts
from tests.netguard_site.netguard_hook import LOG_ENV, OffMachineConnectError, is_local_address

REPO = Path(__file__).resolve().parents[1]

# A private address that no test may reach: the hook refuses it before the kernel is asked, so no
# packet is ever sent to it.
OFF_MACHINE = ("10.255.255.1", 9)


def test_loopback_and_unix_addresses_are_local() -> None:
    assert is_local_address(("127.0.0.1", 80)) and is_local_address(("127.8.9.10", 80))
    assert is_local_address(("::1", 80, 0, 0)) and is_local_address(("::ffff:127.0.0.1", 80, 0, 0))
    assert is_local_address("/tmp/some.sock") and is_local_address(b"\0abstract")
    assert is_local_address(("localhost", 80))


def test_other_addresses_are_not_local() -> None:
    for address in [OFF_MACHINE, ("169.254.169.254", 80), ("8.8.8.8", 53), ("2001:db8::1", 443, 0, 0),
                    ("acct.blob.core.windows.net", 443), ("::ffff:10.0.0.1", 80, 0, 0)]:
        assert not is_local_address(address), address


def test_connect_off_machine_is_refused_before_it_happens() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)  # even if the guard failed, the test would not wait on the network
        with pytest.raises(OffMachineConnectError, match=r"10\.255\.255\.1"):
            sock.connect(OFF_MACHINE)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, pytest.raises(OffMachineConnectError):
        udp.sendto(b"x", OFF_MACHINE)
    # The attempts were recorded: the autouse guard would fail this test. Take them so it passes.
    assert len(take_attempts()) == 2


def test_a_swallowed_refusal_still_fails_the_test(tmp_path: Path) -> None:
    (tmp_path / "conftest.py").write_text("from tests.netguard import _network_guard  # noqa: F401\n")
    (tmp_path / "test_sneaky.py").write_text(
        "import socket\n\n"
        "def test_sneaky():\n"
        "    try:\n"
        "        socket.create_connection(('10.255.255.1', 9), timeout=0.01)\n"
        "    except OSError:\n"
        "        pass  # a library that swallows the error must not hide the attempt\n")
    # The inner pytest installs its own guard: keep this session's log (and subprocess hook) out of it.
    env = {k: v for k, v in os.environ.items() if k != LOG_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                          str(tmp_path)], cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert "1 passed, 1 error" in out.stdout, out.stdout + out.stderr
    assert "Tried to send traffic off this machine" in out.stdout and "10.255.255.1" in out.stdout


def test_subprocesses_are_guarded_and_reported() -> None:
    code = ("import socket\n"
            "try:\n"
            "    socket.create_connection(('10.255.255.1', 9), timeout=0.01)\n"
            "except PermissionError as exc:\n"
            "    print('refused', exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.startswith("refused Network guard"), out.stderr
    found = take_attempts()
    assert len(found) == 1 and "10.255.255.1" in found[0]
