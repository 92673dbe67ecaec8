"""Keyed commitments to a decision's features: HMAC-SHA256 of their canonical JSON under a random
key of the decision's own (`Decision.features_key`).

An unsalted sha256 of the features could be tested against guesses: with the other features
known, one attribute fell in a few dozen tries. A keyed commitment can be recomputed, and so
checked against the features, only while the key exists; erasure (oversight.retention.erase_rows)
destroys the key with the features, after which the commitment kept on the decision and in its
audit events says nothing about them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

KEY_BYTES = 32


def features_key() -> bytes:
    return secrets.token_bytes(KEY_BYTES)


def features_commitment(*, key: bytes, features: Any) -> str:
    """HMAC-SHA256 (hex) of the features' canonical JSON, the form audit events use."""
    return keyed_commitment(key=key, value=features)


def keyed_commitment(*, key: bytes, value: Any) -> str:
    """HMAC-SHA256 (hex) of a value's canonical JSON under a decision's key: what audit events
    hold of what the person wrote (a statement, a reply), gone with the key at erasure."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(bytes(key), canonical, hashlib.sha256).hexdigest()


def commitment_verifies(*, key: bytes | None, features: Any, commitment: str) -> bool | None:
    """Whether `features` are those committed to; None once the key is erased: nothing can be
    checked then, by design."""
    if key is None:
        return None
    return hmac.compare_digest(features_commitment(key=key, features=features), commitment)
