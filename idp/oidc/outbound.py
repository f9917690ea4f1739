"""Fetching client-supplied URLs safely (SSRF defences, RFC 9700 4.15 and OIDC Core 10.1.1).

https only (http only for loopback, and only when private fetches are allowed); the host must
not resolve to a private, loopback, link-local, multicast, reserved or unspecified address
(nor carry one, as IPv4-mapped, 6to4 or Teredo addresses do) unless
``IDP_ALLOW_PRIVATE_NETWORK_FETCHES``; no redirects; a time limit (for the whole answer, not
only for each read) and a size limit.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from idp.config import Settings


class OutboundRefused(ValueError):
    """The URL may not be fetched, or the answer was unusable; for logs only."""


def _addresses(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        # UnicodeError: an empty or over-long label (``a..b``) fails IDNA encoding
        raise OutboundRefused(f"cannot resolve {host}") from exc
    return [ipaddress.ip_address(info[4][0]) for info in infos]


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries (IPv4-mapped, 6to4, Teredo): a relay or a
    dual-stack socket may deliver to them."""
    teredo = address.teredo
    candidates = [address.ipv4_mapped, address.sixtofour, teredo[1] if teredo else None]
    return [candidate for candidate in candidates if candidate is not None]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and not all(
        _is_public(embedded) for embedded in _embedded_ipv4(address)
    ):
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, settings: Settings) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise OutboundRefused("not an absolute http(s) URL")
    if "@" in parts.netloc:
        raise OutboundRefused("user information in the URL")
    allowed_private = settings.allow_private_network_fetches
    if parts.scheme == "http" and not allowed_private:
        raise OutboundRefused("plain http is refused")
    if not allowed_private and not all(_is_public(a) for a in _addresses(parts.hostname)):
        raise OutboundRefused("the host resolves to a non-public address")


def fetch_json(url: str, settings: Settings) -> Any:
    check_url(url, settings)
    limit = settings.outbound_max_bytes
    timeout = settings.outbound_timeout_seconds
    try:
        with httpx.Client(timeout=timeout, follow_redirects=False) as client:
            deadline = time.monotonic() + timeout  # httpx's timeout is per read: a slow drip
            with client.stream("GET", url, headers={"accept": "application/json"}) as response:
                if response.status_code != 200:
                    raise OutboundRefused(f"HTTP {response.status_code}")
                body = b""
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise OutboundRefused("response too large")
                    if time.monotonic() > deadline:
                        raise OutboundRefused("response too slow")
    except httpx.HTTPError as exc:
        raise OutboundRefused(f"{type(exc).__name__}") from exc
    try:
        return json.loads(body)
    except ValueError as exc:
        raise OutboundRefused("not JSON") from exc
