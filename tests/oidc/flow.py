"""Helpers for protocol tests over the in-process app: PKCE pairs, authorization requests,
getting a code for the signed-in demo citizen."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi.testclient import TestClient

from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME
from tests.support.browser_flow import authorize_in_browser


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


def authorize_url(client_id: str, redirect_uri: str, challenge: str, **overrides: Any) -> str:
    params: dict[str, Any] = {
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid profile",
        "state": "state-123",
        "nonce": "nonce-456",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return "/authorize?" + urlencode({k: v for k, v in params.items() if v is not None})


def query_of(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))


def obtain_code(
    http: TestClient, client_id: str, redirect_uri: str, **overrides: Any
) -> tuple[str, str]:
    """Log in (if needed), consent, and return (code, code_verifier)."""
    verifier, challenge = pkce_pair()
    received = authorize_in_browser(
        http,
        authorize_url(client_id, redirect_uri, challenge, **overrides),
        redirect_uri=redirect_uri,
        username=DEMO_USERNAME,
        password=DEMO_PASSWORD,
    )
    assert "code" in received.params, received.params
    return received.params["code"], verifier


def redeem(
    http: TestClient,
    client_id: str,
    secret: str | None,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> Any:
    return http.post(
        "/token",
        auth=(client_id, secret) if secret else None,
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
            **({} if secret else {"client_id": client_id}),
        },
    )
