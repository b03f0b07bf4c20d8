"""The launch sequence: parse -> bind ports -> seal and report connection info -> serve comm port -> run kernel.

The kernel runs in THIS process (so on YARN it is the Spark driver); the comm port is a daemon thread of it.
Exit codes: 0 normal end, 2 bad command line, 3 the server did not accept the connection info.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import socket
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Optional

from atrium_launcher import PROTOCOL_V1, PROTOCOL_V2
from atrium_launcher.args import LaunchArgs, LaunchArgsError, parse_args, resolve_protocol_version
from atrium_launcher.comm_server import CommActions, CommServer
from atrium_launcher.crypto import PublicKeyError, load_server_public_key, seal_v1, seal_v2
from atrium_launcher.ports import NoFreePortError, bind_in_range, pick_ports

log = logging.getLogger("atrium_launcher")

REPORT_DEADLINE_S = 30.0  # to reach the response address and (v2) get its acknowledgement
SHUTDOWN_GRACE_S = 5.0  # after a comm-port shutdown, how long the kernel gets to stop cleanly

EXIT_BAD_ARGS = 2
EXIT_NOT_ACCEPTED = 3


class ReportError(RuntimeError):
    """The connection info could not be delivered, or the server refused it."""


def _route_ip(ip: str, response_host: str, response_port: int) -> str:
    """The address the server should use to reach us: the bind address, or the interface routing to it."""
    if ip not in ("0.0.0.0", ""):
        return ip
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect((response_host, response_port))  # UDP connect sends nothing; it only picks a route
            return probe.getsockname()[0]
    except OSError:
        return socket.gethostbyname(socket.gethostname())


class CurveKeys:
    """The kernel's CURVE key pair (Z85 text): its sockets encrypt everything they carry, and the server learns the
    public half only through the sealed connection info. Absent when this pyzmq has no CURVE (libsodium)."""

    def __init__(self, public: bytes, secret: bytes):
        self.public = public
        self.secret = secret

    @staticmethod
    def generate() -> Optional["CurveKeys"]:
        import zmq

        if not zmq.has("curve"):
            log.warning("this pyzmq has no CURVE support: the kernel's traffic is signed, not encrypted")
            return None
        public, secret = zmq.curve_keypair()
        return CurveKeys(public, secret)


def build_connection_info(args: LaunchArgs, ports: list[int], key: str, comm_port: int, curve: Optional[CurveKeys] = None) -> dict:
    pid = os.getpid()
    extra = {"curve_server_key": curve.public.decode("ascii")} if curve else {}
    return {
        "shell_port": ports[0],
        "iopub_port": ports[1],
        "stdin_port": ports[2],
        "hb_port": ports[3],
        "control_port": ports[4],
        "ip": args.ip,
        "key": key,
        "transport": "tcp",
        "signature_scheme": "hmac-sha256",
        "kernel_name": "",
        "kernel_id": args.kernel_id,
        "pid": pid,
        "pgid": os.getpgid(pid),
        "comm_port": comm_port,
        "hostname": socket.gethostname(),
        "host_ip": _route_ip(args.ip, args.response_host, args.response_port),
        **extra,
    }


def report(args: LaunchArgs, wire: bytes, expect_ack: bool, deadline_s: float = REPORT_DEADLINE_S) -> None:
    """Deliver the sealed payload; with `expect_ack`, wait for the server's {"ok": true}."""
    deadline = time.monotonic() + deadline_s
    delay = 0.1
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise ReportError(f"could not reach response address {args.response_host}:{args.response_port}")
        try:
            sock = socket.create_connection((args.response_host, args.response_port), timeout=min(remaining, 5.0))
            break
        except OSError as exc:
            log.warning("response address %s:%s not reachable yet: %s", args.response_host, args.response_port, exc)
            time.sleep(min(delay, max(remaining, 0)))  # back-off between connection attempts, bounded by deadline
            delay = min(delay * 2, 2.0)
    with sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(max(deadline - time.monotonic(), 0.1))
        sock.sendall(wire)
        sock.shutdown(socket.SHUT_WR)  # end of payload
        if not expect_ack:
            return
        reply = b""
        try:
            while len(reply) < 4096:
                chunk = sock.recv(1024)
                if not chunk:
                    break
                reply += chunk
        except OSError as exc:
            raise ReportError(f"no acknowledgement from the server: {exc}") from None
    try:
        accepted = json.loads(reply.decode("utf-8").strip() or "{}").get("ok") is True
    except ValueError:
        accepted = False
    if not accepted:
        raise ReportError("the server refused the connection info (unknown, replayed or mismatched launch)")


def _write_connection_file(kernel_id: str, info: dict) -> str:
    from jupyter_client.connect import write_connection_file

    fd, path = tempfile.mkstemp(prefix=f"kernel-{kernel_id}_", suffix=".json")
    os.close(fd)
    write_connection_file(
        fname=path,
        shell_port=info["shell_port"],
        iopub_port=info["iopub_port"],
        stdin_port=info["stdin_port"],
        hb_port=info["hb_port"],
        control_port=info["control_port"],
        ip=info["ip"],
        key=info["key"].encode("ascii"),
    )
    return path


def _make_actions(stop_kernel: Callable[[], None], spark_enabled: bool) -> CommActions:
    def on_signal(signum: int) -> None:
        if signum == 0:
            return  # liveness poll: answering at all is the answer
        os.kill(os.getpid(), signum)
        if signum == signal.SIGINT and spark_enabled:
            from atrium_launcher.spark import cancel_spark_jobs

            cancel_spark_jobs()

    def on_shutdown() -> None:
        stop_kernel()

        def hard_exit() -> None:
            log.error("kernel did not stop within %.0fs of the shutdown request; exiting hard", SHUTDOWN_GRACE_S)
            os._exit(1)

        timer = threading.Timer(SHUTDOWN_GRACE_S, hard_exit)
        timer.daemon = True
        timer.start()

    return CommActions(on_signal=on_signal, on_shutdown=on_shutdown)


def curve_kernel_app(curve: Optional[CurveKeys]) -> Any:
    """IPKernelApp whose shell, control, stdin and iopub sockets are CURVE servers (the heartbeat's echo carries no
    data and stays plain). The kernel's own debugger socket, which connects to its shell, is made a CURVE client."""
    import zmq
    from ipykernel.kernelapp import IPKernelApp

    if curve is None:
        return IPKernelApp

    class CurveKernelApp(IPKernelApp):  # type: ignore[misc, valid-type]
        def _bind_socket(self, s: Any, port: int) -> Any:
            s.curve_secretkey = curve.secret
            s.curve_publickey = curve.public
            s.curve_server = True
            return super()._bind_socket(s, port)

        def init_control(self, context: Any) -> None:
            super().init_control(context)
            endpoint = self.shell_socket.getsockopt(zmq.LAST_ENDPOINT)
            if not endpoint:
                return
            self.debug_shell_socket.close(linger=0)
            client_public, client_secret = zmq.curve_keypair()
            debug_shell = context.socket(zmq.DEALER)
            debug_shell.linger = 1000
            debug_shell.curve_serverkey = curve.public
            debug_shell.curve_publickey = client_public
            debug_shell.curve_secretkey = client_secret
            debug_shell.connect(endpoint)
            self.debug_shell_socket = debug_shell

    return CurveKernelApp


class CurveNotApplied(RuntimeError):
    """A kernel socket did not become a CURVE server (an ipykernel that binds another way): the launch stops."""


def require_curve_sockets(app: Any) -> None:
    """Fails closed: the portal connects with CURVE, so a plain socket would be a kernel nobody can talk to."""
    import zmq

    def is_curve_server(sock: Any) -> bool:
        return hasattr(sock, "getsockopt") and bool(sock.getsockopt(zmq.CURVE_SERVER))

    plain = [name for name in ("shell_socket", "control_socket", "stdin_socket") if not is_curve_server(getattr(app, name, None))]
    # iopub is wrapped by its thread once bound: the bound socket is the thread's (else the app's own).
    iopub = getattr(getattr(app, "iopub_thread", None), "socket", None) or getattr(app, "iopub_socket", None)
    if not is_curve_server(iopub):
        plain.append("iopub_socket")
    if plain:
        raise CurveNotApplied(f"this ipykernel bound {', '.join(plain)} without CURVE; the kernel's traffic would not be encrypted")


def run_kernel(
    args: LaunchArgs,
    connection_file: str,
    start_comm: Callable[[Callable[[], None], list[int]], None],
    curve: Optional[CurveKeys] = None,
) -> None:
    """Start IPKernelApp in-process. `start_comm(stop_kernel, ports)` is called once the kernel has bound its
    ports (shell, iopub, stdin, hb, control: the order of build_connection_info) and can be stopped."""
    from tornado import ioloop

    user_ns: dict[str, Any] = {}
    spark_now = False
    if args.spark_init in ("lazy", "background"):
        from atrium_launcher.spark import install_lazy_spark

        spark_now = install_lazy_spark(user_ns) and args.spark_init == "background"

    module_name, _, class_name = args.kernel_class_name.rpartition(".")
    kernel_class = getattr(__import__(module_name, fromlist=[class_name]), class_name)
    app = curve_kernel_app(curve).instance(kernel_class=kernel_class, user_ns=user_ns, connection_file=connection_file, ip=args.ip)
    app.initialize([])
    if curve is not None:
        require_curve_sockets(app)
    main_loop = ioloop.IOLoop.current()  # the loop app.start() runs; captured here to stop it from the comm thread

    def stop_kernel() -> None:
        main_loop.add_callback(main_loop.stop)

    start_comm(stop_kernel, [app.shell_port, app.iopub_port, app.stdin_port, app.hb_port, app.control_port])
    if spark_now:
        # After the report, not before IPython's start: the two compete for the driver's CPU, and the user waits
        # for the report; `spark`/`sc` wait for this thread when used.
        from atrium_launcher.spark import start_spark_in_background

        start_spark_in_background(user_ns)
    try:
        app.start()
    finally:
        app.close()


def main(argv: list[str], *, run: Optional[Callable[..., None]] = None) -> int:
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.WARNING,
        format="[%(levelname).1s %(asctime)s %(name)s] %(message)s",
    )
    # The launcher's own steps at INFO; libraries (py4j logs every connection at INFO) only when they warn:
    # the kernel's stderr reaches the user's cells.
    log.setLevel(logging.INFO)
    try:
        args = parse_args(argv)
        key_kind, server_key = load_server_public_key(args.public_key)
        version = resolve_protocol_version(args.protocol_version, key_kind)
        if version == PROTOCOL_V2 and not args.launch_token:
            raise LaunchArgsError("protocol version 2 needs the launch token the server issues per launch (ATRIUM_LAUNCH_TOKEN)")
    except (LaunchArgsError, PublicKeyError) as exc:
        log.error("%s", exc)
        return EXIT_BAD_ARGS

    log.info("launching kernel %s (launch protocol v%d)", args.kernel_id, version)
    try:
        # The comm socket is bound first and held, so the kernel's ports can never collide with it.
        comm_sock = bind_in_range(args.ip, args.port_range)
        # Without a range, ipykernel binds ports given as 0 itself (retrying on a clash): no window between
        # picking a port and binding it. A range (firewalled clusters) needs ports picked here.
        ports = [0] * 5 if args.port_range.unrestricted else pick_ports(args.ip, args.port_range, 5)
    except NoFreePortError as exc:
        log.error("%s", exc)
        return EXIT_NOT_ACCEPTED
    hmac_key = secrets.token_hex(32)
    # Only when the portal asks, and only over the sealed v2 payload.
    curve = CurveKeys.generate() if version == PROTOCOL_V2 and args.curve else None
    comm_port = comm_sock.getsockname()[1]
    connection_file = _write_connection_file(args.kernel_id, build_connection_info(args, ports, hmac_key, comm_port))

    def start_comm(stop_kernel: Callable[[], None], bound_ports: list[int]) -> None:
        info = build_connection_info(args, bound_ports, hmac_key, comm_port, curve)
        comm_key: Optional[bytes] = None
        if version == PROTOCOL_V2:
            assert args.launch_token is not None
            wire, comm_key = seal_v2(info, args.kernel_id, args.launch_token, server_key)
        else:
            wire = seal_v1(info, server_key)
        server = CommServer(
            comm_sock, version, args.kernel_id, comm_key, _make_actions(stop_kernel, args.spark_init != "none")
        )
        server.start()
        # Report only once the comm port listens: the server may signal as soon as it has the info.
        report(args, wire, expect_ack=(version == PROTOCOL_V2))
        log.info("connection info accepted; comm port %d", server.port)

    try:
        if run is None:
            run_kernel(args, connection_file, start_comm, curve)
        else:
            run(args, connection_file, start_comm)
    except ReportError as exc:
        log.error("%s; exiting so no unreachable kernel is left running", exc)
        return EXIT_NOT_ACCEPTED
    except CurveNotApplied as exc:
        log.error("%s; exiting before reporting", exc)
        return EXIT_NOT_ACCEPTED
    finally:
        try:
            os.remove(connection_file)
        except OSError:
            pass
    log.info("kernel %s ended", args.kernel_id)
    return 0


__all__ = ["main", "report", "build_connection_info", "PROTOCOL_V1", "PROTOCOL_V2"]
