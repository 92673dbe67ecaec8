"""A real OpenID Connect provider (tests/sso/provider: django-oauth-toolkit) in a process of its
own, on a free port, with its own SQLite file; Rationale's live server set up as its client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.services import ROOT, wait_until

CLIENT_ID = "rationale-test-client"
CLIENT_SECRET = "rationale-test-secret"  # noqa: S105 - the test provider's own


@dataclass
class Provider:
    url: str
    env: dict
    log: Path

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def set_groups(self, username: str, *groups: str) -> None:
        """Change the person's groups at the provider, as its administrator would."""
        _provider_command(self.env, "groups", username, *groups)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _provider_command(env: dict, *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "tests.sso.provider", *args], cwd=ROOT, env=env, check=True, timeout=60
    )


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.fixture
def provider(tmp_path, live_server, settings):
    """The provider running, and Rationale's settings pointing at it (single sign-on on)."""
    port = _free_port()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = tmp_path / "provider-key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.sso.provider.settings",
        "PROVIDER_PORT": str(port),
        "PROVIDER_DB": str(tmp_path / "provider.sqlite3"),
        "PROVIDER_KEY_FILE": str(key_file),
    }
    _provider_command(env, "setup", f"{live_server.url}/accounts/oidc/callback/", CLIENT_ID, CLIENT_SECRET)
    log = tmp_path / "provider.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.sso.provider", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    provider = Provider(url=f"http://127.0.0.1:{port}", env=env, log=log)
    try:
        wait_until(
            lambda: _answers(f"{provider.issuer}/.well-known/openid-configuration"),
            timeout=30,
            what="the OpenID Connect provider to answer",
            state=lambda: log.read_text()[-2000:],
        )
        settings.OIDC_RP_CLIENT_ID = CLIENT_ID
        settings.OIDC_RP_CLIENT_SECRET = CLIENT_SECRET
        settings.OIDC_OP_AUTHORIZATION_ENDPOINT = f"{provider.issuer}/authorize/"
        settings.OIDC_OP_TOKEN_ENDPOINT = f"{provider.issuer}/token/"
        settings.OIDC_OP_USER_ENDPOINT = f"{provider.issuer}/userinfo/"
        settings.OIDC_OP_JWKS_ENDPOINT = f"{provider.issuer}/.well-known/jwks.json"
        settings.OIDC_OP_ISSUER = provider.issuer
        settings.OIDC_PROVIDER_NAME = "Example IdP"
        settings.AUTHENTICATION_BACKENDS = [
            *settings.AUTHENTICATION_BACKENDS,
            "decisions.sso.StaffOIDCBackend",
        ]
        yield provider
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
