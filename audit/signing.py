"""The platform's Ed25519 key: signs audit checkpoints and export manifests."""

from __future__ import annotations

import base64
import hashlib
import os
from functools import lru_cache

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings


@lru_cache(maxsize=1)
def signing_key() -> Ed25519PrivateKey:
    seed_b64 = settings.AUDIT_SIGNING_KEY
    if not seed_b64:
        # Only reachable with DEBUG on (settings refuse to start otherwise): the demo keeps one
        # generated key in var/ so its checkpoints stay verifiable across restarts.
        path = settings.AUDIT_SIGNING_KEY_FILE
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(base64.b64encode(os.urandom(32)).decode())
            path.chmod(0o600)
        seed_b64 = path.read_text().strip()
    seed = base64.b64decode(seed_b64)
    if len(seed) != 32:
        raise ValueError("AUDIT_SIGNING_KEY must be the base64 of exactly 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def public_key_raw() -> bytes:
    return public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_pem() -> str:
    return (
        public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id() -> str:
    return hashlib.sha256(public_key_raw()).hexdigest()[:16]


def sign(message: bytes) -> str:
    return signing_key().sign(message).hex()


def verify(message: bytes, signature_hex: str, key: Ed25519PublicKey | None = None) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        (key or public_key()).verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
