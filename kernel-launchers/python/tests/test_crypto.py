"""Sealing (v1, v2) and the comm-port MAC, checked by opening what the launcher seals."""

import base64
import json

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from atrium_launcher.comm_server import RequestRefused, verify_v2
from atrium_launcher.crypto import (
    PublicKeyError,
    _v2_aad,
    b64url,
    b64url_decode,
    comm_mac,
    derive_v2_keys,
    load_server_public_key,
    seal_v1,
    seal_v2,
    token_id,
)

INFO = {"shell_port": 1, "iopub_port": 2, "stdin_port": 3, "hb_port": 4, "control_port": 5, "key": "k"}


def spki_b64(pub) -> str:
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def open_v2(wire: bytes, server_priv: X25519PrivateKey, token: str):
    """Reference opener (the portal's is payload.ts)."""
    env = json.loads(wire)
    epk_raw = b64url_decode(env["epk"])
    server_raw = server_priv.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    shared = server_priv.exchange(X25519PublicKey.from_public_bytes(epk_raw))
    aes_key, comm_key = derive_v2_keys(shared, token, env["kernel_id"], epk_raw, server_raw)
    aad = _v2_aad(env["kernel_id"], env["token_id"], env["epk"], env["nonce"])
    plain = AESGCM(aes_key).decrypt(b64url_decode(env["nonce"]), b64url_decode(env["ciphertext"]), aad)
    return env, json.loads(plain), comm_key


@pytest.fixture(scope="module")
def x_priv():
    return X25519PrivateKey.generate()


@pytest.fixture(scope="module")
def rsa_priv():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_key_type_detection(x_priv, rsa_priv):
    assert load_server_public_key(spki_b64(x_priv.public_key()))[0] == "x25519"
    assert load_server_public_key(spki_b64(rsa_priv.public_key()))[0] == "rsa"
    with pytest.raises(PublicKeyError):
        load_server_public_key("not base64!!")
    with pytest.raises(PublicKeyError):
        load_server_public_key(base64.b64encode(b"\x30\x03garbage").decode())


def test_v2_round_trip_binds_kernel_id_and_token(x_priv):
    wire, comm_key = seal_v2(INFO, "kid-1", "token-abc", x_priv.public_key())
    env, plain, opened_comm_key = open_v2(wire, x_priv, "token-abc")
    assert env["version"] == 2 and env["kernel_id"] == "kid-1" and env["token_id"] == token_id("token-abc")
    assert "token-abc" not in wire.decode()  # the token itself never travels
    assert plain["shell_port"] == 1 and plain["kernel_id"] == "kid-1" and plain["token_id"] == env["token_id"]
    assert opened_comm_key == comm_key and len(comm_key) == 32


def test_v2_wrong_token_or_tampering_fails(x_priv):
    wire, _ = seal_v2(INFO, "kid-1", "token-abc", x_priv.public_key())
    with pytest.raises(InvalidTag):
        open_v2(wire, x_priv, "another-token")
    env = json.loads(wire)
    ct = bytearray(b64url_decode(env["ciphertext"]))
    ct[3] ^= 1
    with pytest.raises(InvalidTag):
        open_v2(json.dumps({**env, "ciphertext": b64url(bytes(ct))}).encode(), x_priv, "token-abc")
    with pytest.raises(InvalidTag):  # the kernel id in the clear header is authenticated too
        open_v2(json.dumps({**env, "kernel_id": "kid-2"}).encode(), x_priv, "token-abc")


def test_v2_each_seal_is_fresh(x_priv):
    a, ka = seal_v2(INFO, "kid-1", "t", x_priv.public_key())
    b, kb = seal_v2(INFO, "kid-1", "t", x_priv.public_key())
    assert a != b and ka != kb


def test_v1_is_jeg_format(rsa_priv):
    wire = seal_v1({**INFO, "kernel_id": "kid-1"}, rsa_priv.public_key())
    payload = json.loads(base64.b64decode(wire))
    assert set(payload) == {"version", "key", "conn_info"} and payload["version"] == 1
    aes_key = rsa_priv.decrypt(base64.b64decode(payload["key"]), asym_padding.PKCS1v15())
    assert len(aes_key) == 16
    decryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).decryptor()
    padded = decryptor.update(base64.b64decode(payload["conn_info"])) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    info = json.loads(unpadder.update(padded) + unpadder.finalize())
    assert info["kernel_id"] == "kid-1" and info["shell_port"] == 1


def _signed(comm_key, kernel_id, challenge, request):
    body = json.dumps({"kernel_id": kernel_id, "challenge": challenge, "request": request})
    return json.dumps({"body": body, "mac": comm_mac(comm_key, body.encode())}).encode()


def test_comm_request_verification():
    key = b"k" * 32
    assert verify_v2(_signed(key, "kid", "ch1", {"signum": 2}), key, "kid", "ch1") == ("signal", 2)
    assert verify_v2(_signed(key, "kid", "ch1", {"shutdown": 1}), key, "kid", "ch1") == ("shutdown", 0)


@pytest.mark.parametrize("line, fragment", [
    (b'{"signum": 2}', "unauthenticated"),  # JEG-style, no MAC
    (_signed(b"x" * 32, "kid", "ch1", {"signum": 2}), "bad MAC"),
    (_signed(b"k" * 32, "kid", "old-challenge", {"signum": 2}), "replay"),
    (_signed(b"k" * 32, "other", "ch1", {"signum": 2}), "another kernel"),
    (_signed(b"k" * 32, "kid", "ch1", {"signum": 999}), "not a signal"),
    (b"garbage", "unauthenticated"),
])
def test_comm_request_refusals(line, fragment):
    with pytest.raises(RequestRefused, match=fragment):
        verify_v2(line, b"k" * 32, "kid", "ch1")
