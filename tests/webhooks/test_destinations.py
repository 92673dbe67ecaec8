"""A webhook goes to the address that was checked, not to whatever its name resolves to when the
connection is made (DNS rebinding), and HTTPS still verifies the certificate against the name."""

from __future__ import annotations

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webhooks.destinations import DestinationRefused, destination_pinned


def test_the_request_goes_to_the_checked_address_under_the_original_name(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    pinned = destination_pinned("https://localhost:8443/hooks?x=1")
    assert pinned.url == "https://127.0.0.1:8443/hooks?x=1"
    assert pinned.headers == {"Host": "localhost:8443"}
    assert pinned.extensions == {"sni_hostname": "localhost"}
    assert pinned.hostname == "localhost"
    # An address in the URL is already what is checked: nothing to rename.
    literal = destination_pinned("https://[::1]/hooks")
    assert (literal.url, literal.extensions) == ("https://[::1]/hooks", {})


def test_pinning_refuses_what_the_check_refuses(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    with pytest.raises(DestinationRefused, match="loopback, private"):
        destination_pinned("https://localhost/hooks")


def _certificate_for(name: str, tmp_path) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert_path), str(key_path)


class _Ok(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - the standard library's name
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(204)
        self.send_header("X-Host-Seen", self.headers["Host"])
        self.end_headers()

    def log_message(self, *args):
        pass


def test_https_to_the_pinned_address_verifies_the_certificate_against_the_name(settings, tmp_path):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    cert, key = _certificate_for("localhost", tmp_path)
    server = HTTPServer(("127.0.0.1", 0), _Ok)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    server.socket = served.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trusted = ssl.create_default_context(cafile=cert)
    try:
        pinned = destination_pinned(f"https://localhost:{server.server_port}/hooks")
        with httpx.Client(verify=trusted, trust_env=False) as client:
            request = client.build_request(
                "POST", pinned.url, content=b"{}", headers=pinned.headers, extensions=pinned.extensions
            )
            response = client.send(request)
            assert response.status_code == 204
            assert response.headers["X-Host-Seen"] == f"localhost:{server.server_port}"
            # The same address without the name: the certificate does not match, refused.
            with pytest.raises(httpx.ConnectError, match="(?i)certificate|hostname|match"):
                client.post(f"https://127.0.0.1:{server.server_port}/hooks", content=b"{}")
    finally:
        server.shutdown()
