"""Finding free TCP ports inside the port range the server imposed (firewalled clusters open only a range)."""

from __future__ import annotations

import random
import socket
from typing import List

from atrium_launcher.args import PortRange


class NoFreePortError(RuntimeError):
    pass


def bind_in_range(ip: str, port_range: PortRange, attempts: int = 50) -> socket.socket:
    """Return a TCP socket bound on `ip` to a free port within the range (any port if unrestricted)."""
    if port_range.unrestricted:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((ip, 0))
        return sock
    last_error: Exception | None = None
    for _ in range(attempts):
        candidate = random.randint(port_range.lower, port_range.upper)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((ip, candidate))
            return sock
        except OSError as exc:
            last_error = exc
            sock.close()
    raise NoFreePortError(
        f"no free port on {ip} within {port_range.lower}..{port_range.upper} after {attempts} tries: {last_error}"
    )


def pick_ports(ip: str, port_range: PortRange, count: int) -> List[int]:
    """Pick `count` distinct free ports. They are released before returning, for ipykernel to bind;
    holding all of them while picking keeps them distinct."""
    held = []
    try:
        for _ in range(count):
            held.append(bind_in_range(ip, port_range))
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()
