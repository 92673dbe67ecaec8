"""The ID token checks single sign-on adds to the library's (signature and nonce): the audience
and the issuer (OpenID Connect Core 3.1.3.7). Tokens signed here with a key of the test's own."""

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.exceptions import SuspiciousOperation

from decisions.sso import StaffOIDCBackend

ISSUER = "https://sso.example.org/realms/example"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def backend(settings):
    settings.OIDC_RP_CLIENT_ID = "rationale"
    settings.OIDC_OP_ISSUER = ISSUER
    settings.OIDC_RP_IDP_SIGN_KEY = (
        KEY.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return StaffOIDCBackend()


def token(**claims) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": "rationale", "sub": "42", "nonce": "n-1", "iat": now, "exp": now + 300}
    return jwt.encode({**body, **claims}, KEY, algorithm="RS256")


def test_a_token_for_this_client_from_the_issuer_verifies(backend):
    assert backend.verify_token(token(), nonce="n-1")["sub"] == "42"
    assert backend.verify_token(token(aud=["other", "rationale"]), nonce="n-1")["sub"] == "42"


@pytest.mark.parametrize(
    ("claims", "refusal"),
    [
        ({"aud": "another-client"}, "issued to another client"),
        ({"iss": "https://evil.example/realms/example"}, "from another issuer"),
        ({"iss": ""}, "from another issuer"),
        ({"nonce": "n-2"}, "Nonce verification failed"),
    ],
)
def test_a_token_for_another_client_or_from_another_issuer_is_refused(backend, claims, refusal):
    with pytest.raises(SuspiciousOperation, match=refusal):
        backend.verify_token(token(**claims), nonce="n-1")
