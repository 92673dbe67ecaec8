"""Bearer secrets: API keys for integrating systems and the access tokens of data subjects.

Both are random strings handed out once; only their sha256 is stored. They carry 192-256 random
bits, so a fast hash is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import secrets

API_KEY_PREFIX_LENGTH = 8


def secret_hash(raw: str) -> str:
    """What is stored of a key or token, and what a presented one is looked up by."""
    return hashlib.sha256(raw.encode()).hexdigest()


def new_api_key() -> tuple[str, str]:
    """(raw key, prefix). The raw key is shown once; the prefix names the key in lists."""
    prefix = secrets.token_hex(API_KEY_PREFIX_LENGTH // 2)
    return f"rk_{prefix}_{secrets.token_urlsafe(32)}", prefix


def new_access_token() -> str:
    """A data subject's access token: 192 random bits, in the link sent with the decision."""
    return secrets.token_urlsafe(24)
