"""Atrium's kernel launcher.

Runs where the kernel runs (this host, a YARN container as the Spark driver, a Kubernetes pod): picks ports,
starts ipykernel in this very process, reports the connection info to the portal's response address
(encrypted), and serves the communication port for signal and shutdown requests.

The wire protocol is specified in kernel-launchers/README.md; the portal's half lives in
server/kernels/launch-protocol/. Change both together.
"""

PROTOCOL_V1 = 1  # Jupyter Enterprise Gateway's format, for stock JEG servers
PROTOCOL_V2 = 2  # Atrium's own (default)

__all__ = ["PROTOCOL_V1", "PROTOCOL_V2"]
