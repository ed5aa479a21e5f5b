"""A loopback HTTP relay in front of Azurite that loses responses, delays them or resets connections.

The relay runs in a child process of its own, like a real network hop: a client library that holds
the interpreter lock while it waits for a response (deltalake's ``DeltaTable.history()`` does) would
starve a relay running on threads of the test's own interpreter, and its request would hang until
the client's timeout. The test process drives the child over its stdin/stdout, one JSON line a call.

Every request is forwarded to Azurite on a fresh upstream connection (with ``Connection: close``). A
rule matches a request by method and a regular expression on its path, a given number of times, and
then:

- ``drop``: forwards the request (Azurite applies it) and closes the client connection without
  sending the response, the way a response is lost on a real network;
- ``reset``: resets the client connection before forwarding anything (the request never happened);
- ``delay``: forwards the request and sends the response after a pause.

It listens on 127.0.0.1 only and talks only to the upstream port on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from typing import IO, Any, Literal

Action = Literal["drop", "reset", "delay"]


@dataclass
class Rule:
    """What to do to requests matching ``method`` and ``path`` (a regex), ``times`` times."""

    method: str
    path: str
    action: Action
    times: int = 1
    delay: float = 0.0

    def matches(self, method: str, target: str) -> bool:
        return self.times > 0 and method == self.method and re.search(self.path, target) is not None


class AddedRule:
    """A rule installed in a running relay; :attr:`hits` lists the request targets it acted on."""

    def __init__(self, relay: Relay, rule_id: int, rule: Rule) -> None:
        self._relay, self._id, self.rule = relay, rule_id, rule

    @property
    def hits(self) -> list[str]:
        return list(self._relay._call({"op": "hits", "id": self._id})["hits"])


class Relay:
    """A relay running in a child process; use as a context manager or call :meth:`close`."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._process = subprocess.Popen([sys.executable, __file__, str(upstream_port)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)
        self._lock = threading.Lock()
        self.port: int = int(self._read()["port"])

    def add(self, rule: Rule) -> AddedRule:
        return AddedRule(self, int(self._call({"op": "add", "rule": asdict(rule)})["id"]), rule)

    @property
    def requests(self) -> list[tuple[str, str]]:
        """Every request the relay has received, as (method, target)."""
        return [(m, t) for m, t in self._call({"op": "requests"})["requests"]]

    def close(self) -> None:
        if self._process.poll() is None:
            assert self._process.stdin is not None
            self._process.stdin.close()  # the child exits at the end of its input
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, message: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            assert self._process.stdin is not None
            self._process.stdin.write(json.dumps(message) + "\n")
            self._process.stdin.flush()
            return self._read()

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError(f"the relay process exited (code {self._process.poll()})")
        reply: dict[str, Any] = json.loads(line)
        return reply


class _Server:
    """The relay itself, in the child process: one thread a client connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.rules: list[tuple[Rule, list[str]]] = []
        self.requests: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def add(self, rule: Rule) -> int:
        with self._lock:
            self.rules.append((rule, []))
            return len(self.rules) - 1

    def hits(self, rule_id: int) -> list[str]:
        with self._lock:
            return list(self.rules[rule_id][1])

    def seen(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.requests)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _rule_for(self, method: str, target: str) -> Rule | None:
        with self._lock:
            self.requests.append((method, target))
            for rule, hits in self.rules:
                if rule.matches(method, target):
                    rule.times -= 1
                    hits.append(target)
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
            try:
                response = self._forward(_with_close(head), body, head_only=method == b"HEAD")
            except OSError:
                return  # the upstream failed: the client sees its connection close, as on a network
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


def _control(server: _Server, commands: IO[str], replies: IO[str]) -> None:
    """Answer the test process's calls until its end of the pipe closes."""
    def reply(message: dict[str, Any]) -> None:
        replies.write(json.dumps(message) + "\n")
        replies.flush()

    reply({"port": server.port})
    for line in commands:
        call = json.loads(line)
        if call["op"] == "add":
            reply({"id": server.add(Rule(**call["rule"]))})
        elif call["op"] == "hits":
            reply({"hits": server.hits(int(call["id"]))})
        elif call["op"] == "requests":
            reply({"requests": server.seen()})


if __name__ == "__main__":
    _control(_Server(int(sys.argv[1])), sys.stdin, sys.stdout)
