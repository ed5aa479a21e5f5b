"""The relay itself: it must behave like a network hop, whatever the client process is doing."""

from __future__ import annotations

import ctypes
import socket
import struct

from tests.faults.relay import Relay

_RECV_BOUND_SECONDS = 30  # a relay that cannot answer fails the test after this, instead of hanging it


def test_a_client_holding_the_interpreter_lock_still_gets_its_response(relay: Relay):
    # deltalake's DeltaTable.history() waits for its HTTP response without releasing the GIL; a
    # relay on threads of this interpreter could then never answer. recv called through ctypes.PyDLL
    # keeps the GIL held while it blocks, in the same way.
    libc = ctypes.PyDLL(None)
    libc.recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.recv.restype = ctypes.c_ssize_t
    buffer = ctypes.create_string_buffer(65536)
    with socket.create_connection(("127.0.0.1", relay.port)) as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", _RECV_BOUND_SECONDS, 0))
        client.sendall(b"GET /devstoreaccount1?comp=list HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        received = libc.recv(client.fileno(), buffer, len(buffer), 0)
    assert received > 0, "no response while the client held the interpreter lock"
    assert buffer.raw[:received].startswith(b"HTTP/1.1 ")
    assert relay.requests == [("GET", "/devstoreaccount1?comp=list")]
