"""Fetching Entity Statements over HTTP (OpenID Federation 1.0, sections 8.1 and 9).

- Entity Configurations: GET ``{entity_id without trailing /}/.well-known/openid-federation``
  (section 9 "Obtaining Federation Entity Configuration Information").
- Subordinate Statements: GET ``{federation_fetch_endpoint}?sub={subject}`` (section 8.1.1
  "Fetch Subordinate Statement Request"; the request carries only ``sub``).
- A successful answer is HTTP 200 with content type ``application/entity-statement+jwt``.

Outbound rules are those of :mod:`idp.oidc.outbound` (SSRF defences, RFC 9700 section 4.15):
https only; no private, loopback or link-local destinations unless
``IDP_ALLOW_PRIVATE_NETWORK_FETCHES``; no redirects; the configured time limit, for the whole
answer and not only for each read; a size limit
(the smaller of ``IDP_OUTBOUND_MAX_BYTES`` and the longest statement we parse). Every failure
is a :class:`~idp.federation.statements.TrustChainError` with reason ``fetch_failed``.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx

from idp.config import Settings
from idp.federation.statements import (
    ENTITY_STATEMENT_MEDIA_TYPE,
    MAX_STATEMENT_LENGTH,
    Reason,
    TrustChainError,
)
from idp.oidc.outbound import OutboundRefused, check_url

WELL_KNOWN_PATH = "/.well-known/openid-federation"


def entity_configuration_url(entity_id: str) -> str:
    """The configuration endpoint of an Entity Identifier (section 9)."""
    try:
        parts = urlsplit(entity_id)
    except ValueError as exc:
        raise TrustChainError(Reason.FETCH_FAILED, "not an Entity Identifier") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TrustChainError(Reason.FETCH_FAILED, f"{entity_id!r} is not an Entity Identifier")
    if parts.query or parts.fragment or "@" in parts.netloc:
        raise TrustChainError(
            Reason.FETCH_FAILED, f"{entity_id!r} has a query, fragment or user information"
        )
    return entity_id.rstrip("/") + WELL_KNOWN_PATH


class HttpFetcher:
    """A :class:`~idp.federation.trust_chain.Fetcher` over HTTPS, with the outbound rules."""

    def __init__(self, settings: Settings, *, transport: httpx.BaseTransport | None = None):
        self._settings = settings
        self._max_bytes = min(settings.outbound_max_bytes, MAX_STATEMENT_LENGTH)
        self._transport = transport

    def fetch_entity_configuration(self, entity_id: str) -> str:
        return self._get(entity_configuration_url(entity_id))

    def fetch_subordinate_statement(self, fetch_endpoint: str, issuer: str, subject: str) -> str:
        if "#" in fetch_endpoint:
            raise TrustChainError(
                Reason.FETCH_FAILED, f"the fetch endpoint of {issuer} has a fragment"
            )
        try:
            url = httpx.URL(fetch_endpoint).copy_merge_params({"sub": subject})
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise TrustChainError(
                Reason.FETCH_FAILED, f"the fetch endpoint of {issuer} is not a URL"
            ) from exc
        return self._get(str(url))

    def _get(self, url: str) -> str:
        try:
            check_url(url, self._settings)
        except OutboundRefused as exc:
            raise TrustChainError(Reason.FETCH_FAILED, f"refused to fetch {url}: {exc}") from exc
        body = bytearray()
        timeout = self._settings.outbound_timeout_seconds
        deadline = time.monotonic() + timeout  # httpx's timeout is per read: bound the whole
        try:
            with (
                httpx.Client(
                    timeout=timeout,
                    follow_redirects=False,
                    transport=self._transport,
                ) as client,
                client.stream(
                    "GET",
                    url,
                    headers={"accept": ENTITY_STATEMENT_MEDIA_TYPE, "accept-encoding": "identity"},
                ) as response,
            ):
                if response.status_code != 200:
                    raise TrustChainError(
                        Reason.FETCH_FAILED, f"{url} answered HTTP {response.status_code}"
                    )
                media_type = response.headers.get("content-type", "").split(";")[0]
                if media_type.strip().lower() != ENTITY_STATEMENT_MEDIA_TYPE:
                    raise TrustChainError(
                        Reason.FETCH_FAILED, f"{url} did not answer with an Entity Statement"
                    )
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > self._max_bytes:
                        raise TrustChainError(Reason.FETCH_FAILED, f"{url} answered too much")
                    if time.monotonic() > deadline:
                        raise TrustChainError(Reason.FETCH_FAILED, f"{url} answered too slowly")
        except httpx.HTTPError as exc:
            raise TrustChainError(
                Reason.FETCH_FAILED, f"cannot fetch {url} ({type(exc).__name__})"
            ) from exc
        try:
            return bytes(body).decode("ascii").strip()
        except UnicodeDecodeError as exc:
            raise TrustChainError(Reason.FETCH_FAILED, f"{url} answered non-ASCII") from exc
