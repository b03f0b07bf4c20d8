"""The kernel's sockets encrypt (CURVE): keys are made per launch, the public one goes in the sealed connection info,
and a socket bound by the launcher's kernel app answers a CURVE client that knows the key and nobody else."""

import pytest
import zmq

from atrium_launcher.launcher import CurveKeys, build_connection_info, curve_kernel_app
from atrium_launcher.args import parse_args

pytest.importorskip("ipykernel")


def _args():
    return parse_args(["--kernel-id", "k-1", "--response-address", "127.0.0.1:9", "--public-key", "x" * 44, "--ip", "127.0.0.1"])


def test_keys_are_z85_and_only_the_public_one_is_reported():
    keys = CurveKeys.generate()
    assert keys is not None, "pyzmq wheels ship libsodium"
    assert len(keys.public) == 40 and len(keys.secret) == 40
    info = build_connection_info(_args(), [1, 2, 3, 4, 5], "k", 6, keys)
    assert info["curve_server_key"] == keys.public.decode("ascii")
    assert keys.secret.decode("ascii") not in repr(info)
    assert "curve_server_key" not in build_connection_info(_args(), [1, 2, 3, 4, 5], "k", 6, None)


def _receive(sock, timeout_ms):
    return sock.recv_multipart() if sock.poll(timeout_ms) else None


def test_a_socket_the_kernel_app_binds_answers_curve_clients_only():
    keys = CurveKeys.generate()
    app = curve_kernel_app(keys)()
    ctx = zmq.Context()
    server = ctx.socket(zmq.ROUTER)
    try:
        port = app._bind_socket(server, 0)
        client_public, client_secret = zmq.curve_keypair()
        good = ctx.socket(zmq.DEALER)
        good.curve_serverkey, good.curve_publickey, good.curve_secretkey = keys.public, client_public, client_secret
        good.connect(f"tcp://127.0.0.1:{port}")
        plain = ctx.socket(zmq.DEALER)
        plain.connect(f"tcp://127.0.0.1:{port}")
        plain.send(b"from a client without the key")
        good.send(b"from Atrium")
        received = _receive(server, 3000)
        assert received is not None and received[-1] == b"from Atrium"
        assert _receive(server, 500) is None, "the plain client's message never arrives"
    finally:
        for sock in (server,):
            sock.close(linger=0)
        ctx.destroy(linger=0)


def test_only_when_the_portal_asks():
    base = ["--kernel-id", "k-1", "--response-address", "127.0.0.1:9", "--public-key", "x" * 44]
    assert parse_args(base, environ={}).curve is False, "an older portal, which could not connect with CURVE"
    assert parse_args(base, environ={"ATRIUM_KERNEL_CURVE": "1"}).curve is True


def test_a_kernel_whose_sockets_did_not_become_curve_servers_is_refused():
    from types import SimpleNamespace

    from atrium_launcher.launcher import CurveNotApplied, require_curve_sockets

    keys = CurveKeys.generate()
    ctx = zmq.Context()
    sockets = []
    try:
        def bound(curve):
            s = ctx.socket(zmq.ROUTER)
            sockets.append(s)
            if curve:
                s.curve_secretkey, s.curve_publickey, s.curve_server = keys.secret, keys.public, True
            return s

        good = SimpleNamespace(shell_socket=bound(True), control_socket=bound(True), stdin_socket=bound(True), iopub_thread=SimpleNamespace(socket=bound(True)))
        require_curve_sockets(good)
        plain_stdin = SimpleNamespace(shell_socket=bound(True), control_socket=bound(True), stdin_socket=bound(False), iopub_thread=SimpleNamespace(socket=bound(True)))
        with pytest.raises(CurveNotApplied, match="stdin_socket"):
            require_curve_sockets(plain_stdin)
    finally:
        for s in sockets:
            s.close(linger=0)
        ctx.destroy(linger=0)
