"""Sealing the connection info for the server, and the communication port's request MAC.

Version 2 (Atrium): X25519 ECDH with an ephemeral launcher key -> HKDF-SHA256 -> AES-256-GCM, bound to the
kernel id and the one-time launch token; the same HKDF output gives the per-launch comm-port MAC key.
Version 1 (JEG): a random AES-128 key sealed with the server's RSA key (PKCS#1 v1.5), the connection info
AES-ECB encrypted with PKCS#7 padding, the whole base64 JSON. Kept only so JEG servers can use this launcher.

The portal's counterpart is server/kernels/launch-protocol/payload.ts and comm-auth.ts: change both together,
and regenerate the cross-language fixture (tests/make_fixture.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any, Tuple

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

V2_LABEL = b"atrium-launch/2"
TOKEN_ID_LABEL = b"atrium-launch-token/2\x00"
COMM_MAC_LABEL = b"atrium-comm/2\x00"


class PublicKeyError(ValueError):
    """--public-key is not a base64 DER public key of a supported type."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_server_public_key(b64_der: str) -> Tuple[str, Any]:
    """Return ("x25519" | "rsa", key) for a base64 DER SubjectPublicKeyInfo (JEG's stripped-PEM form)."""
    try:
        der = base64.b64decode(b64_der, validate=True)
        key = serialization.load_der_public_key(der)
    except Exception as exc:
        raise PublicKeyError(f"--public-key is not a base64 DER public key: {exc}") from None
    if isinstance(key, X25519PublicKey):
        return "x25519", key
    if isinstance(key, RSAPublicKey):
        if key.key_size < 1024:
            raise PublicKeyError(f"--public-key is an RSA key of {key.key_size} bits; at least 1024 are needed")
        return "rsa", key
    raise PublicKeyError(f"--public-key has unsupported type {type(key).__name__}; expected X25519 or RSA")


def token_id(launch_token: str) -> str:
    """Public handle of a launch token: lets the server find the launch without the token on the wire."""
    return b64url(hashlib.sha256(TOKEN_ID_LABEL + launch_token.encode("utf-8")).digest()[:16])


def _v2_aad(kernel_id: str, tid: str, epk: str, nonce: str) -> bytes:
    return "|".join([V2_LABEL.decode(), kernel_id, tid, epk, nonce]).encode("utf-8")


def derive_v2_keys(shared: bytes, launch_token: str, kernel_id: str, epk_raw: bytes, server_raw: bytes):
    """HKDF-SHA256 -> (aes_key, comm_key), 32 bytes each."""
    info = V2_LABEL + b"\x00" + kernel_id.encode("utf-8") + b"\x00" + epk_raw + server_raw
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=launch_token.encode("utf-8"), info=info).derive(shared)
    return okm[:32], okm[32:]


def seal_v2(conn_info: dict, kernel_id: str, launch_token: str, server_key: X25519PublicKey) -> Tuple[bytes, bytes]:
    """Seal the connection info for an Atrium server. Returns (wire bytes, comm_key)."""
    eph = X25519PrivateKey.generate()
    epk_raw = eph.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    server_raw = server_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    aes_key, comm_key = derive_v2_keys(eph.exchange(server_key), launch_token, kernel_id, epk_raw, server_raw)
    tid = token_id(launch_token)
    nonce = os.urandom(12)
    epk, nonce_text = b64url(epk_raw), b64url(nonce)
    plaintext = json.dumps({**conn_info, "kernel_id": kernel_id, "token_id": tid}).encode("utf-8")
    ciphertext = AESGCM(aes_key).encrypt(nonce, plaintext, _v2_aad(kernel_id, tid, epk, nonce_text))
    envelope = {
        "version": 2,
        "kernel_id": kernel_id,
        "token_id": tid,
        "epk": epk,
        "nonce": nonce_text,
        "ciphertext": b64url(ciphertext),
    }
    return json.dumps(envelope).encode("utf-8"), comm_key


def seal_v1(conn_info: dict, server_key: RSAPublicKey) -> bytes:
    """Seal the connection info exactly as a stock JEG launcher does (JEG's version-1 payload)."""
    aes_key = os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(json.dumps(conn_info).encode("utf-8")) + padder.finalize()
    # ECB is JEG's choice, not ours: kept byte-for-byte so JEG servers can read it. Version 2 replaces it.
    encryptor = Cipher(algorithms.AES(aes_key), modes.ECB()).encryptor()
    encrypted_info = encryptor.update(padded) + encryptor.finalize()
    encrypted_key = server_key.encrypt(aes_key, asym_padding.PKCS1v15())
    payload = {
        "version": 1,
        "key": base64.b64encode(encrypted_key).decode("ascii"),
        "conn_info": base64.b64encode(encrypted_info).decode("ascii"),
    }
    return base64.b64encode(json.dumps(payload).encode("utf-8"))


def comm_mac(comm_key: bytes, body: bytes) -> str:
    """MAC of one comm-port request body (the exact UTF-8 bytes of the `body` string)."""
    return b64url(hmac.new(comm_key, COMM_MAC_LABEL + body, hashlib.sha256).digest())


def comm_mac_ok(comm_key: bytes, body: bytes, mac: str) -> bool:
    return hmac.compare_digest(comm_mac(comm_key, body), mac)
