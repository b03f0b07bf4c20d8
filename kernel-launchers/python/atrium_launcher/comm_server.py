"""The communication port: the server's way to signal (interrupt) and shut down the kernel from afar.

Version 2 (Atrium), one request per connection, newline-delimited JSON:
    launcher -> {"version": 2, "challenge": "<b64url 32 random bytes>"}
    server   -> {"body": "<JSON text>", "mac": "<b64url HMAC-SHA256(comm_key, 'atrium-comm/2\\0' + body)>"}
                body = {"kernel_id": ..., "challenge": <the one just sent>, "request": {"signum": N} | {"shutdown": 1}}
    launcher -> {"ok": true} | {"ok": false, "error": "..."}
The challenge is fresh per connection, so a recorded request cannot be replayed; requests without a valid MAC
are refused and logged. Version 1 (JEG): the server sends one JSON object and closes; no reply.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass
from typing import Callable, Optional

from atrium_launcher import PROTOCOL_V2
from atrium_launcher.crypto import b64url, comm_mac_ok

log = logging.getLogger("atrium_launcher.comm")

MAX_REQUEST_BYTES = 64 * 1024
REQUEST_TIMEOUT_S = 10.0


class RequestRefused(Exception):
    pass


@dataclass
class CommActions:
    on_signal: Callable[[int], None]
    on_shutdown: Callable[[], None]


def _read_until(conn: socket.socket, stop_at_newline: bool) -> bytes:
    data = b""
    while len(data) <= MAX_REQUEST_BYTES:
        chunk = conn.recv(4096)
        if not chunk:
            return data
        data += chunk
        if stop_at_newline and b"\n" in data:
            return data.split(b"\n", 1)[0]
    raise RequestRefused(f"request longer than {MAX_REQUEST_BYTES} bytes")


def parse_request(request: object) -> tuple[str, int]:
    """Validate a {"signum": N} / {"shutdown": 1} request -> ("signal", N) | ("shutdown", 0)."""
    if not isinstance(request, dict):
        raise RequestRefused("request is not a JSON object")
    if request.get("shutdown"):
        return "shutdown", 0
    signum = request.get("signum")
    if isinstance(signum, bool) or not isinstance(signum, int) or not 0 <= signum < signal.NSIG:
        raise RequestRefused(f"signum {signum!r} is not a signal number")
    return "signal", signum


def verify_v2(line: bytes, comm_key: bytes, kernel_id: str, challenge: str) -> tuple[str, int]:
    """Authenticate one v2 request line; return the parsed action. Pure, for tests."""
    try:
        outer = json.loads(line)
        body, mac = outer["body"], outer["mac"]
        if not isinstance(body, str) or not isinstance(mac, str):
            raise TypeError("body and mac must be strings")
    except Exception:
        raise RequestRefused("unauthenticated: request is not {body, mac}") from None
    if not comm_mac_ok(comm_key, body.encode("utf-8"), mac):
        raise RequestRefused("unauthenticated: bad MAC")
    inner = json.loads(body)
    if not isinstance(inner, dict) or inner.get("challenge") != challenge:
        raise RequestRefused("unauthenticated: stale or missing challenge (replay?)")
    if inner.get("kernel_id") != kernel_id:
        raise RequestRefused("request is for another kernel")
    return parse_request(inner.get("request"))


class CommServer:
    """Serves the comm port on a daemon thread; each connection is handled on its own short-lived thread."""

    def __init__(
        self,
        sock: socket.socket,
        protocol_version: int,
        kernel_id: str,
        comm_key: Optional[bytes],
        actions: CommActions,
    ):
        if protocol_version == PROTOCOL_V2 and not comm_key:
            raise ValueError("protocol version 2 needs a comm key")
        self._sock = sock
        self._version = protocol_version
        self._kernel_id = kernel_id
        self._comm_key = comm_key
        self._actions = actions
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="atrium-comm-port", daemon=True)

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    def start(self) -> None:
        self._sock.listen(16)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._sock.close()
        except OSError:
            pass

    def _serve(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, peer = self._sock.accept()
            except OSError:
                if self._stopped.is_set():
                    return
                continue
            threading.Thread(target=self._handle, args=(conn, peer), daemon=True).start()

    def _handle(self, conn: socket.socket, peer) -> None:
        with conn:
            conn.settimeout(REQUEST_TIMEOUT_S)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                if self._version == PROTOCOL_V2:
                    challenge = b64url(os.urandom(32))
                    conn.sendall(json.dumps({"version": 2, "challenge": challenge}).encode() + b"\n")
                    line = _read_until(conn, stop_at_newline=True)
                    assert self._comm_key is not None
                    action, signum = verify_v2(line, self._comm_key, self._kernel_id, challenge)
                else:
                    raw = _read_until(conn, stop_at_newline=False)
                    if not raw:
                        return  # a bare connect: JEG-style liveness probe
                    try:
                        action, signum = parse_request(json.loads(raw))
                    except ValueError:
                        raise RequestRefused("request is not JSON") from None
                if self._version == PROTOCOL_V2:
                    # Acknowledge before acting: a shutdown may end this process before a later reply.
                    self._reply_quietly(conn, {"ok": True})
                self._perform(action, signum, peer)
            except RequestRefused as exc:
                log.warning("comm port: refused request from %s:%s: %s", peer[0], peer[1], exc)
                if self._version == PROTOCOL_V2:
                    self._reply_quietly(conn, {"ok": False, "error": str(exc)})
            except (OSError, ValueError) as exc:
                log.warning("comm port: dropped connection from %s:%s: %s", peer[0], peer[1], exc)

    def _perform(self, action: str, signum: int, peer) -> None:
        if action == "shutdown":
            log.info("comm port: shutdown requested by %s:%s", peer[0], peer[1])
            self._actions.on_shutdown()
        else:
            if signum != 0:  # signal 0 is the server's liveness poll: too frequent to log
                log.info("comm port: signal %d requested by %s:%s", signum, peer[0], peer[1])
            self._actions.on_signal(signum)

    @staticmethod
    def _reply_quietly(conn: socket.socket, reply: dict) -> None:
        try:
            conn.sendall(json.dumps(reply).encode() + b"\n")
        except OSError:
            pass
