"""Server-side request forgery through the URLs a client registers (RFC 9700 4.15 and the
OIDC Core 10.1.1 / 16.x considerations; the OWASP SSRF prevention rules).

The provider fetches a client's ``jwks_uri`` (private_key_jwt, RFC 7523), its
``sector_identifier_uri`` (OIDC Core 8.1) and POSTs to its back-channel logout URI (OIDC
Back-Channel Logout 1.0, 2.5); it never fetches ``request_uri`` (OIDC Core 6.2, refused with
``request_uri_not_supported``). Whoever registers a client chooses these URLs, so each must be
refused when it names or resolves to the provider's own network: the cloud metadata service at
169.254.169.254 (the Capital One breach, 2019), loopback (CVE-2021-41269 style admin ports),
private ranges, and the same addresses written in forms that naive checks miss (decimal, octal,
hexadecimal, IPv4-mapped IPv6, 6to4). Answers are bounded in size and in time, and redirects
are never followed (a public URL redirecting to an internal one, CVE-2020-7640 style).
"""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.config import Settings
from idp.oidc import backchannel
from idp.oidc.clients import ClientRegistrationError, check_sector_identifier
from idp.oidc.outbound import OutboundRefused, check_url, fetch_json
from idp.storage.models import ClientAuthMethod
from tests.oidc.conftest import RP_REDIRECT_URI, RegisteredClient

# --- a counting peer on 127.0.0.1 -----------------------------------------------------------


class Peer:
    """A raw TCP listener that counts connections: proof that nothing was even attempted."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self.sock.close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    listener = Peer()
    yield listener
    listener.close()


# --- addresses and forms that must be refused -----------------------------------------------

INTERNAL_URLS = {
    "loopback": "https://127.0.0.1/jwks.json",
    "loopback-other": "https://127.8.9.10/jwks.json",
    "localhost-name": "https://localhost/jwks.json",
    "private-10": "https://10.0.0.5/jwks.json",
    "private-192-168": "https://192.168.1.1/jwks.json",
    "private-172-16": "https://172.16.0.1/jwks.json",
    "private-172-31": "https://172.31.255.254/jwks.json",
    "shared-100-64": "https://100.64.0.1/jwks.json",
    "cloud-metadata": "https://169.254.169.254/latest/meta-data/",
    "unspecified": "https://0.0.0.0/jwks.json",
    "zero-shorthand": "https://0/jwks.json",
    "decimal": "https://2130706433/jwks.json",
    "decimal-metadata": "https://2852039166/latest/meta-data/",
    "octal": "https://0177.0.0.1/jwks.json",
    "hexadecimal": "https://0x7f.0x0.0x0.0x1/jwks.json",
    "short-form": "https://127.1/jwks.json",
    "ipv6-loopback": "https://[::1]/jwks.json",
    "ipv6-unspecified": "https://[::]/jwks.json",
    "ipv6-ula": "https://[fd00::1]/jwks.json",
    "ipv6-link-local": "https://[fe80::1]/jwks.json",
    "ipv4-mapped-loopback": "https://[::ffff:127.0.0.1]/jwks.json",
    "ipv4-mapped-metadata": "https://[::ffff:a9fe:a9fe]/latest/meta-data/",
    "ipv4-compatible": "https://[::127.0.0.1]/jwks.json",
    "6to4-loopback": "https://[2002:7f00:1::]/jwks.json",
    "6to4-metadata": "https://[2002:a9fe:a9fe::1]/latest/meta-data/",
    "multicast": "https://224.0.0.1/jwks.json",
    "broadcast": "https://255.255.255.255/jwks.json",
}

UNSAFE_URLS = {
    "file": "file:///etc/passwd",
    "gopher": "gopher://127.0.0.1:6379/_INFO",
    "dict": "dict://127.0.0.1:11211/stat",
    "ftp": "ftp://ftp.example.org/jwks.json",
    "data": "data:application/json,{}",
    "javascript": "javascript:alert(1)",
    "ldap": "ldap://ldap.example.org/",
    "plain-http": "http://jwks.example.org/jwks.json",
    "no-host": "https:///jwks.json",
    "relative": "/jwks.json",
    "userinfo-confusion": "https://rp.example.org@127.0.0.1/jwks.json",
    "userinfo-only": "https://user:pass@rp.example.org/jwks.json",
}


@pytest.mark.parametrize("url", INTERNAL_URLS.values(), ids=INTERNAL_URLS.keys())
def test_internal_addresses_are_refused(settings: Settings, url: str) -> None:
    with pytest.raises(OutboundRefused):
        check_url(url, settings)


@pytest.mark.parametrize("url", UNSAFE_URLS.values(), ids=UNSAFE_URLS.keys())
def test_unsafe_schemes_and_forms_are_refused(settings: Settings, url: str) -> None:
    with pytest.raises(OutboundRefused):
        check_url(url, settings)


@pytest.mark.parametrize("host", ["a..b.example", "x" * 64 + ".example", ".example"])
def test_a_host_that_cannot_be_encoded_is_refused_not_a_crash(
    settings: Settings, host: str
) -> None:
    """An empty or over-long DNS label fails IDNA encoding with UnicodeError (not OSError):
    it must be a refusal like any unresolvable host, never an unhandled error (a 500)."""
    with pytest.raises(OutboundRefused):
        check_url(f"https://{host}/jwks.json", settings)


def test_a_public_address_passes_the_address_check(settings: Settings) -> None:
    """The control: the check refuses addresses, not every URL (no DNS needed here)."""
    check_url("https://93.184.215.14/jwks.json", settings)
    check_url("https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]/jwks.json", settings)


def test_a_name_resolving_to_loopback_is_refused_after_resolution(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS names are checked by what they resolve to (every address, not only the first)."""
    real = socket.getaddrinfo

    def resolve(host: str, *args: Any, **kwargs: Any) -> Any:
        if host == "jwks.attacker.example":
            return [
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.215.14", 0)),
                (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0)),
            ]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with pytest.raises(OutboundRefused, match="non-public"):
        check_url("https://jwks.attacker.example/jwks.json", settings)


# --- each place the provider connects, with a peer that would see any attempt ---------------


def private_key_jwt_client(register: Callable[..., RegisteredClient], jwks_uri: str) -> str:
    return register(
        token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
        jwks_uri=jwks_uri,
        grant_types=["authorization_code", "client_credentials"],
    ).client_id


def test_a_jwks_uri_resolving_to_loopback_is_never_connected_to(
    client: TestClient, register: Callable[..., RegisteredClient], peer: Peer
) -> None:
    from tests.oidc.test_token_client_auth import assertion, new_key, post_with_assertion

    client_id = private_key_jwt_client(register, f"https://localhost:{peer.port}/jwks.json")
    response = post_with_assertion(client, client_id, assertion(client_id, new_key()))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    time.sleep(0.2)
    assert peer.connections == 0


def test_a_sector_identifier_uri_on_loopback_is_never_connected_to(
    settings: Settings, peer: Peer
) -> None:
    uri = f"https://localhost:{peer.port}/sector.json"
    with pytest.raises(ClientRegistrationError, match="cannot be fetched"):
        check_sector_identifier(uri, [RP_REDIRECT_URI], settings)
    time.sleep(0.2)
    assert peer.connections == 0


def test_a_backchannel_logout_uri_on_loopback_is_never_connected_to(
    app: FastAPI, peer: Peer
) -> None:
    context = app.state.provider
    failure = backchannel._post(f"https://127.0.0.1:{peer.port}/logout", "token", context)
    assert failure is not None
    assert failure.startswith("refused")
    time.sleep(0.2)
    assert peer.connections == 0


def test_request_uri_is_never_fetched(
    client: TestClient, register: Callable[..., RegisteredClient], peer: Peer
) -> None:
    rp = register()
    response = client.get(
        "/authorize",
        params={
            "client_id": rp.client_id,
            "redirect_uri": rp.redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "request_uri": f"http://127.0.0.1:{peer.port}/request.jwt",
        },
        follow_redirects=False,
    )
    assert response.status_code < 500
    assert "request_uri_not_supported" in response.headers.get("location", response.text)
    time.sleep(0.2)
    assert peer.connections == 0


# --- redirects, size and time, against a real server (private fetches allowed for it) -------


class Handler(http.server.BaseHTTPRequestHandler):
    requests: list[str]
    max_bytes: int

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.requests.append(self.path)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("location", "/internal")
            self.end_headers()
        elif self.path == "/internal":
            self._json(b'{"keys": []}')
        elif self.path == "/large":
            self._json(b'{"keys": "' + b"A" * (self.max_bytes * 4) + b'"}')
        elif self.path == "/endless":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(100_000):
                    self.wfile.write(b" " * 4096)
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", "100")
            self.end_headers()
            with contextlib.suppress(OSError):
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.2)
        elif self.path == "/silent":
            time.sleep(5)
        else:
            self._json(b'{"keys": []}')

    def _json(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)


@pytest.fixture
def fetch_settings(settings_factory: Callable[..., Settings], sqlite_database_url: str) -> Settings:
    return settings_factory(
        sqlite_database_url,
        allow_private_network_fetches=True,
        outbound_timeout_seconds=2.0,
        outbound_max_bytes=4096,
    )


@pytest.fixture
def server(fetch_settings: Settings) -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type(
        "BoundHandler",
        (Handler,),
        {"requests": seen, "max_bytes": fetch_settings.outbound_max_bytes},
    )
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", seen
    httpd.shutdown()
    httpd.server_close()


def test_the_control_fetch_works(fetch_settings: Settings, server: tuple[str, list[str]]) -> None:
    base, _ = server
    assert fetch_json(f"{base}/jwks.json", fetch_settings) == {"keys": []}


def test_redirects_are_not_followed(
    fetch_settings: Settings, server: tuple[str, list[str]]
) -> None:
    base, seen = server
    with pytest.raises(OutboundRefused, match="302"):
        fetch_json(f"{base}/redirect", fetch_settings)
    assert seen == ["/redirect"]


@pytest.mark.parametrize("path", ["/large", "/endless"])
def test_answers_larger_than_the_limit_are_cut_off(
    fetch_settings: Settings, server: tuple[str, list[str]], path: str
) -> None:
    base, _ = server
    started = time.monotonic()
    with pytest.raises(OutboundRefused, match="too large"):
        fetch_json(f"{base}{path}", fetch_settings)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("path", ["/silent", "/drip"])
def test_slow_answers_are_cut_off_at_the_time_limit(
    fetch_settings: Settings, server: tuple[str, list[str]], path: str
) -> None:
    """A silent peer, and one that drips a byte every 0.2 s: each read is quick, the whole is
    not (a per-read timeout alone waits 20 s here, and forever for an endless drip)."""
    base, _ = server
    started = time.monotonic()
    with pytest.raises(OutboundRefused):
        fetch_json(f"{base}{path}", fetch_settings)
    assert time.monotonic() - started < fetch_settings.outbound_timeout_seconds + 2
