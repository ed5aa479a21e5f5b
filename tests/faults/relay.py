"""A loopback HTTP relay in front of Azurite that loses responses, delays them or resets connections.

Every request is forwarded to Azurite on a fresh upstream connection (with ``Connection: close``, so
the response ends where the upstream closes). A rule matches a request by method and a regular
expression on its path, a given number of times, and then:

- ``drop``: forwards the request (Azurite applies it) and closes the client connection without
  sending the response, the way a response is lost on a real network;
- ``reset``: resets the client connection before forwarding anything (the request never happened);
- ``delay``: forwards the request and sends the response after a pause.

It listens on 127.0.0.1 only and talks only to the upstream port on 127.0.0.1.
"""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Literal

Action = Literal["drop", "reset", "delay"]


@dataclass
class Rule:
    """What to do to requests matching ``method`` and ``path`` (a regex), ``times`` times."""

    method: str
    path: str
    action: Action
    times: int = 1
    delay: float = 0.0
    hits: list[str] = field(default_factory=list)

    def matches(self, method: str, target: str) -> bool:
        return self.times > 0 and method == self.method and re.search(self.path, target) is not None


class Relay:
    """A running relay; use as a context manager or call :meth:`close`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def close(self) -> None:
        self._closed = True
        self._server.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _rule_for(self, method: str, target: str) -> Rule | None:
        with self._lock:
            self.requests.append((method, target))
            for rule in self.rules:
                if rule.matches(method, target):
                    rule.times -= 1
                    rule.hits.append(target)
                    return rule
        return None

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                head, body = _read_request(client)
            except (OSError, ValueError):
                return
            if not head:
                return
            method, target = head.split(b" ", 2)[:2]
            rule = self._rule_for(method.decode(), target.decode())
            if rule is not None and rule.action == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            response = self._forward(_with_close(head), body, head_only=method == b"HEAD")
            if rule is not None and rule.action == "drop":
                return
            if rule is not None and rule.action == "delay":
                time.sleep(rule.delay)
            try:
                client.sendall(response)
            except OSError:
                return

    def _forward(self, head: bytes, body: bytes, *, head_only: bool = False) -> bytes:
        with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=60) as upstream:
            upstream.sendall(head + b"\r\n\r\n" + body)
            return _read_response(upstream, head_only=head_only)


def _read_response(sock: socket.socket, *, head_only: bool) -> bytes:
    """One whole HTTP response, ended by its framing (Content-Length, chunks) or else by EOF.

    Framing matters: an upstream may keep the connection open despite ``Connection: close`` (Azurite
    does for some list requests), and waiting for EOF would then hang until the socket timeout.
    """
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return buffer
        buffer += chunk
    head, rest = buffer.split(b"\r\n\r\n", 1)
    status = int(head.split(b" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(b":") for line in head.split(b"\r\n")[1:])}
    if head_only or status in (204, 304) or 100 <= status < 200:
        return head + b"\r\n\r\n"
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    elif b"content-length" in headers:
        length = int(headers[b"content-length"])
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
    else:
        while chunk := sock.recv(65536):
            rest += chunk
    return head + b"\r\n\r\n" + rest


def _read_request(sock: socket.socket) -> tuple[bytes, bytes]:
    """One HTTP/1.1 request: its head (without the blank line) and its body, de-chunked as sent."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        if not chunk:
            return b"", b""
        buffer += chunk
    head, rest = buffer.split(b"\r\n\r\n", 1)
    headers = {k.strip().lower(): v.strip() for k, _, v in
               (line.partition(b":") for line in head.split(b"\r\n")[1:])}
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ValueError("connection closed inside a chunked body")
            rest += chunk
        return head, rest
    length = int(headers.get(b"content-length", b"0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ValueError("connection closed inside the body")
        rest += chunk
    return head, rest


def _with_close(head: bytes) -> bytes:
    """The request head with ``Connection: close``, so the upstream response ends at EOF."""
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"])
