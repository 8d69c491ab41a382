"""A pinned HTTPS request still speaks to the name in the URL: TLS sends it as SNI and verifies the
certificate against it, and the Host header carries it, although the connection goes to the
checked address. A real TLS server on 127.0.0.1 with a certificate from a throwaway CA."""

from __future__ import annotations

import datetime
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from app.core import outbound

TIMEOUT = httpx.Timeout(5.0)


def _cert(name: str, issuer_name: str, key, issuer_key, *, ca: bool):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def tls_server(tmp_path):
    """HTTPS on 127.0.0.1 with a certificate for `tls.test`; records SNI names and Host headers."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Test CA", "Test CA", ca_key, ca_key, ca=True)
    leaf = _cert("tls.test", "Test CA", key, ca_key, ca=False)
    (tmp_path / "leaf.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    seen = {"sni": [], "host": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            seen["host"].append(self.headers.get("Host"))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "leaf.pem", tmp_path / "key.pem")
    server_ctx.sni_callback = lambda sock, name, ctx: seen["sni"].append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = server_ctx.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client_ctx = ssl.create_default_context(
        cadata=ca.public_bytes(serialization.Encoding.PEM).decode()
    )
    try:
        yield server.server_address[1], client_ctx, seen
    finally:
        server.shutdown()
        server.server_close()


def to_loopback(host, port):
    return ["127.0.0.1"]


async def test_a_pinned_https_request_sends_and_verifies_the_urls_name(tls_server):
    port, trust, seen = tls_server
    reply = await outbound.request(
        "GET",
        f"https://tls.test:{port}/",
        allow=outbound.Allowlist.parse("127.0.0.1"),
        timeout=TIMEOUT,
        max_bytes=100,
        resolver=to_loopback,
        verify=trust,
    )
    assert (reply.status, reply.body) == (200, b"ok")
    assert seen == {"sni": ["tls.test"], "host": [f"tls.test:{port}"]}


async def test_a_certificate_for_another_name_is_refused(tls_server):
    port, trust, seen = tls_server
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED|certificate"):
        await outbound.request(
            "GET",
            f"https://other.test:{port}/",
            allow=outbound.Allowlist.parse("127.0.0.1"),
            timeout=TIMEOUT,
            max_bytes=100,
            resolver=to_loopback,
            verify=trust,
        )
    assert seen["sni"] == ["other.test"] and seen["host"] == []


async def test_the_allowlist_is_checked_before_any_connection(tls_server):
    port, trust, seen = tls_server
    with pytest.raises(outbound.AddressRefused, match=r"tls.test resolves to a loopback address"):
        await outbound.request(
            "GET",
            f"https://tls.test:{port}/",
            allow=outbound.Allowlist(),
            timeout=TIMEOUT,
            max_bytes=100,
            resolver=to_loopback,
            verify=trust,
        )
    assert seen == {"sni": [], "host": []}
