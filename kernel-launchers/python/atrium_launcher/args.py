"""Command-line parsing: Atrium's argument names and Jupyter Enterprise Gateway's, into one LaunchArgs.

Both spellings are accepted so that stock JEG kernelspecs (`--RemoteProcessProxy.kernel-id ...`) can run this
launcher unchanged. When both spellings of one option are given, Atrium's name wins.
Touch this file when a kernelspec needs a new launcher option; keep parse_args free of side effects.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Mapping, Optional, Sequence

from atrium_launcher import PROTOCOL_V1, PROTOCOL_V2

KERNEL_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# The kernel takes five ports and the launcher one more for the communication port.
PORTS_NEEDED = 6


class LaunchArgsError(ValueError):
    """The command line cannot describe a launch; the message says which option and why."""


@dataclass(frozen=True)
class PortRange:
    lower: int
    upper: int

    @property
    def unrestricted(self) -> bool:
        return self.lower == 0 and self.upper == 0


@dataclass(frozen=True)
class LaunchArgs:
    kernel_id: str
    response_host: str
    response_port: int
    public_key: str
    port_range: PortRange
    # None: not given on the command line; resolve_protocol_version decides from the key's type.
    protocol_version: Optional[int]
    launch_token: Optional[str]
    spark_init: str  # "lazy" | "none"
    ip: str
    kernel_class_name: str
    connection_file: Optional[str]
    # The portal asks the kernel to encrypt (CURVE) when it can connect so (ATRIUM_KERNEL_CURVE=1): an older portal
    # that cannot never gets a kernel it cannot talk to.
    curve: bool = False


def parse_port_range(text: Optional[str]) -> PortRange:
    """`lo..hi` -> PortRange; empty or `0..0` means any free port."""
    if not text:
        return PortRange(0, 0)
    parts = text.split("..")
    if len(parts) != 2:
        raise LaunchArgsError(f"--port-range '{text}' is not of the form <lower>..<upper>")
    try:
        lower, upper = int(parts[0]), int(parts[1])
    except ValueError:
        raise LaunchArgsError(f"--port-range '{text}' has a bound that is not a whole number") from None
    if lower == 0 and upper == 0:
        return PortRange(0, 0)
    if not (1 <= lower <= upper <= 65535):
        raise LaunchArgsError(f"--port-range '{text}' must satisfy 1 <= lower <= upper <= 65535")
    if upper - lower + 1 < PORTS_NEEDED:
        raise LaunchArgsError(
            f"--port-range '{text}' holds {upper - lower + 1} ports; the launcher needs at least {PORTS_NEEDED}"
        )
    return PortRange(lower, upper)


def parse_response_address(text: str) -> tuple[str, int]:
    """`host:port` (or `[v6]:port`) -> (host, port)."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise LaunchArgsError(f"--response-address '{text}' is not of the form <host>:<port>")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port_text)
    except ValueError:
        raise LaunchArgsError(f"--response-address '{text}' has a port that is not a number") from None
    if not 1 <= port <= 65535:
        raise LaunchArgsError(f"--response-address '{text}' has a port outside 1..65535")
    return host, port


def resolve_protocol_version(explicit: Optional[int], public_key_kind: str) -> int:
    """Pick the payload version. `public_key_kind` is "x25519" or "rsa".

    Without --protocol-version the key decides: JEG servers only ever hand out RSA keys and never a launch
    token, so an RSA key means version 1. Atrium's version 2 needs an X25519 key.
    """
    version = explicit if explicit is not None else (PROTOCOL_V1 if public_key_kind == "rsa" else PROTOCOL_V2)
    if version == PROTOCOL_V2 and public_key_kind != "x25519":
        raise LaunchArgsError("protocol version 2 needs an X25519 --public-key; this one is RSA")
    if version == PROTOCOL_V1 and public_key_kind != "rsa":
        raise LaunchArgsError("protocol version 1 (JEG) needs an RSA --public-key; this one is X25519")
    return version


#: Where Atrium puts the one-time launch token (--launch-token is still accepted).
LAUNCH_TOKEN_ENV = "ATRIUM_LAUNCH_TOKEN"
CURVE_ENV = "ATRIUM_KERNEL_CURVE"


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="atrium_launcher",
        description="Start an ipykernel here and report its connection info to an Atrium (or JEG) server.",
        allow_abbrev=False,
    )
    # Atrium's names.
    p.add_argument("--kernel-id", dest="kernel_id")
    p.add_argument("--response-address", dest="response_address", metavar="HOST:PORT")
    p.add_argument("--public-key", dest="public_key", help="base64 DER SubjectPublicKeyInfo (X25519 or RSA)")
    p.add_argument("--port-range", dest="port_range", metavar="LO..HI")
    p.add_argument("--protocol-version", dest="protocol_version", type=int, choices=[PROTOCOL_V1, PROTOCOL_V2])
    p.add_argument("--launch-token", dest="launch_token", help=f"prefer the environment variable {LAUNCH_TOKEN_ENV}")
    # lazy: the session is created on first use of `spark`/`sc`. background: its creation starts as soon as the
    # kernel runs (a YARN cluster-mode driver must create it within spark.yarn.am.waitTime, and the RM reports
    # the application RUNNING only then); `spark`/`sc` wait for it on first use.
    p.add_argument("--spark-init", dest="spark_init", choices=["lazy", "background", "eager", "none"])
    p.add_argument("--ip", dest="ip", default="0.0.0.0", help="address the kernel and comm port bind to")
    # On Kubernetes the pod's address is known only inside the pod (env from fieldRef status.podIP); naming the
    # variable keeps the pod spec a plain argv that needs no $(VAR) expansion by the kubelet.
    p.add_argument("--ip-from-env", dest="ip_from_env", metavar="NAME",
                   help="bind to (and advertise) the address in environment variable NAME, e.g. POD_IP; wins over --ip")
    # JEG's names (and JEG's own un-prefixed spellings of the spark/kernel-class options).
    p.add_argument("--RemoteProcessProxy.kernel-id", dest="rpp_kernel_id")
    p.add_argument("--RemoteProcessProxy.response-address", dest="rpp_response_address")
    p.add_argument("--RemoteProcessProxy.public-key", dest="rpp_public_key")
    p.add_argument("--RemoteProcessProxy.port-range", dest="rpp_port_range")
    p.add_argument("--RemoteProcessProxy.spark-context-initialization-mode", dest="rpp_spark_init")
    p.add_argument("--spark-context-initialization-mode", dest="jeg_spark_init")
    p.add_argument("--RemoteProcessProxy.cluster-type", dest="rpp_cluster_type")
    p.add_argument("--cluster-type", dest="cluster_type")
    p.add_argument("--kernel-class-name", dest="kernel_class_name", default="ipykernel.ipkernel.IPythonKernel")
    # JEG kernelspecs may still pass {connection_file} positionally.
    p.add_argument("connection_file", nargs="?")
    return p


ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


def resolve_ip(ip: str, ip_from_env: Optional[str], environ: Mapping[str, str]) -> str:
    """The bind address: the one in environment variable `ip_from_env` when named, else `ip`.

    A named variable that is unset or not an IP address is an error, not a silent fall-back to 0.0.0.0: the
    launcher would otherwise advertise an address the portal may not reach.
    """
    if not ip_from_env:
        return ip
    if not ENV_NAME_RE.match(ip_from_env):
        raise LaunchArgsError(f"--ip-from-env '{ip_from_env}' is not an environment variable name")
    value = environ.get(ip_from_env, "").strip()
    if not value:
        raise LaunchArgsError(f"--ip-from-env {ip_from_env}: the variable is not set (on Kubernetes, set it from fieldRef status.podIP)")
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise LaunchArgsError(f"--ip-from-env {ip_from_env}: '{value}' is not an IP address") from None
    return value


def parse_args(argv: Sequence[str], environ: Optional[Mapping[str, str]] = None) -> LaunchArgs:
    """Parse the launcher's command line. Raises LaunchArgsError with a message naming the option.

    `environ` (default os.environ) is read for --ip-from-env and for the launch token, which Atrium passes in the
    environment (ATRIUM_LAUNCH_TOKEN), never on the command line: a process's argv is readable by every user of
    the host (a YARN node), and a pod's command by everyone who may list pods."""
    parser = _build_parser()
    try:
        ns = parser.parse_args(list(argv))
    except SystemExit as exc:  # argparse already printed usage
        raise LaunchArgsError("invalid command line (see usage above)") from exc

    kernel_id = ns.kernel_id or ns.rpp_kernel_id
    if not kernel_id:
        raise LaunchArgsError("--kernel-id (or --RemoteProcessProxy.kernel-id) is required")
    if not KERNEL_ID_RE.match(kernel_id):
        raise LaunchArgsError(f"--kernel-id '{kernel_id}' must be 1-128 characters of [A-Za-z0-9._-]")

    response_address = ns.response_address or ns.rpp_response_address
    if not response_address:
        raise LaunchArgsError("--response-address (or --RemoteProcessProxy.response-address) is required")
    host, port = parse_response_address(response_address)

    public_key = ns.public_key or ns.rpp_public_key
    if not public_key:
        raise LaunchArgsError("--public-key (or --RemoteProcessProxy.public-key) is required")

    spark_init = ns.spark_init or ns.jeg_spark_init or ns.rpp_spark_init or "none"
    if spark_init not in ("lazy", "background", "eager", "none"):
        raise LaunchArgsError(f"spark initialization mode '{spark_init}' is not one of lazy, background, eager, none")
    cluster_type = ns.cluster_type or ns.rpp_cluster_type or "spark"
    if spark_init == "eager":
        spark_init = "lazy"  # Atrium never blocks the kernel's start on Spark; eager is served lazily
    if cluster_type != "spark":
        spark_init = "none"

    return LaunchArgs(
        kernel_id=kernel_id,
        response_host=host,
        response_port=port,
        public_key=public_key.strip(),
        port_range=parse_port_range(ns.port_range or ns.rpp_port_range),
        protocol_version=ns.protocol_version,
        launch_token=ns.launch_token or (os.environ if environ is None else environ).get(LAUNCH_TOKEN_ENV) or None,
        spark_init=spark_init,
        ip=resolve_ip(ns.ip, ns.ip_from_env, os.environ if environ is None else environ),
        kernel_class_name=ns.kernel_class_name,
        connection_file=ns.connection_file,
        curve=(os.environ if environ is None else environ).get(CURVE_ENV) == "1",
    )
