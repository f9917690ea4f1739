"""Redirect URI matching (RFC 9700 2.1 and 4.1: exact string matching; OIDC Core 3.1.2.1;
RFC 8252 7.3 and 8.3 for native apps on loopback). Open redirects through loose matching are
the most common provider flaw (e.g. CVE-2023-6927 and CVE-2020-10776 in Keycloak).

Properties checked with hypothesis, plus the classic look-alikes as named examples.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from idp.oidc.clients import ApplicationType, redirect_uri_matches
from tests.support.hypothesis_profiles import examples

WEB = "https://tramites.example.gub.uy/callback"
NATIVE = "http://127.0.0.1/callback"

URL_CHARACTERS = st.characters(
    codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x00"
)


@settings(max_examples=examples(300), deadline=None)
@given(requested=st.text(URL_CHARACTERS, max_size=80).map(lambda tail: WEB + tail))
@example(requested=WEB + "/")
@example(requested=WEB + "/../evil")
@example(requested=WEB + "?next=https://evil.example")
@example(requested=WEB + "#fragment")
@example(requested=WEB + "%2F..%2Fevil")
def test_a_web_client_matches_only_the_exact_registered_string(requested: str) -> None:
    """Anything appended to a registered URI (path, traversal, query, fragment, encoded
    characters) is a different URI and is refused."""
    assert redirect_uri_matches([WEB], requested, ApplicationType.WEB) is (requested == WEB)


@pytest.mark.parametrize(
    "requested",
    [
        "https://TRAMITES.example.gub.uy/callback",  # case of the host
        "https://tramites.example.gub.uy:443/callback",  # explicit default port
        "https://tramites.example.gub.uy/Callback",
        "https://tramites.example.gub.uy/callback/",
        "https://tramites.example.gub.uy/%63allback",  # percent-encoded 'c'
        "https://tramites.example.gub.uy/./callback",
        "https://tramites.example.gub.uy/x/../callback",
        "https://tramites.example.gub.uy@evil.example/callback",  # userinfo
        "https://evil.example/https://tramites.example.gub.uy/callback",
        "https://tramites.example.gub.uy.evil.example/callback",
        "http://tramites.example.gub.uy/callback",  # downgrade
        "//tramites.example.gub.uy/callback",  # scheme-relative
        " https://tramites.example.gub.uy/callback",
        "https://tramites.example.gub.uy/callback\x00",
        "javascript://tramites.example.gub.uy/callback",
    ],
)
def test_look_alikes_of_a_registered_web_uri_are_refused(requested: str) -> None:
    assert not redirect_uri_matches([WEB], requested, ApplicationType.WEB)


@settings(max_examples=examples(200), deadline=None)
@given(port=st.integers(min_value=1, max_value=65535))
def test_a_native_client_may_use_any_port_on_its_loopback_address(port: int) -> None:
    """RFC 8252 7.3: the port of a loopback redirect is chosen by the app at run time."""
    requested = f"http://127.0.0.1:{port}/callback"
    assert redirect_uri_matches([NATIVE], requested, ApplicationType.NATIVE)


@settings(max_examples=examples(300), deadline=None)
@given(
    host=st.sampled_from(
        [
            "127.0.0.1",
            "localhost",
            "127.0.0.1.evil.example",
            "localhost.evil.example",
            "0x7f000001",
            "2130706433",
            "[::ffff:127.0.0.1]",
            "127.1",
            "evil.example",
            "[::1]",
        ]
    ),
    userinfo=st.sampled_from(["", "user@", "127.0.0.1@", "evil.example@"]),
    path=st.sampled_from(["/callback", "/callback/", "/other", "/callback/../x", ""]),
    port=st.sampled_from(["", ":8080", ":0", ":99999", ":x"]),
    scheme=st.sampled_from(["http", "https", "ftp"]),
)
@example(host="127.0.0.1", userinfo="", path="/callback", port=":0", scheme="http")
def test_a_native_loopback_match_never_leaves_the_registered_host_and_path(
    host: str, userinfo: str, path: str, port: str, scheme: str
) -> None:
    """Whatever the variation, a native match has the scheme, host literal and path of the
    registered URI, no userinfo, and a valid port: only the port may differ."""
    requested = f"{scheme}://{userinfo}{host}{port}{path}"
    if not redirect_uri_matches([NATIVE], requested, ApplicationType.NATIVE):
        return
    parts = urlsplit(requested)
    assert parts.scheme == "http"
    assert parts.hostname == "127.0.0.1"
    assert parts.path == "/callback"
    assert "@" not in parts.netloc
    assert parts.port is None or 1 <= parts.port <= 65535


def test_a_web_client_gets_no_loopback_port_exception() -> None:
    registered = ["http://127.0.0.1/callback"]
    assert not redirect_uri_matches(registered, "http://127.0.0.1:9000/callback", "web")
