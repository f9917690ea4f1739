"""Fixtures for protocol tests: a provider app with keys, registered clients, a citizen."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from idp.context import utc_now
from idp.oidc.clients import ApplicationType, ClientMetadata, SubjectType, register_client
from idp.storage.models import ClientAuthMethod, OAuthClient
from tests.helpers import add_citizen

RP_REDIRECT_URI = "https://rp.example.gub.uy/callback"


@dataclass(frozen=True)
class RegisteredClient:
    client_id: str
    client_secret: str | None
    redirect_uri: str
    row: OAuthClient


@pytest.fixture
def register(app: FastAPI) -> Callable[..., RegisteredClient]:
    """Register a client through the real registration rules; keyword arguments override
    ``ClientMetadata`` fields (defaults: confidential web client, client_secret_basic)."""

    def build(**overrides: Any) -> RegisteredClient:
        values: dict[str, Any] = {
            "client_name": "Portal de trámites",
            "redirect_uris": [RP_REDIRECT_URI],
            "token_endpoint_auth_method": ClientAuthMethod.CLIENT_SECRET_BASIC,
            "application_type": ApplicationType.WEB,
            "subject_type": SubjectType.PUBLIC,
        }
        client_id = overrides.pop("client_id", None)
        values.update(overrides)
        with app.state.provider.database.transaction() as session:
            row, secret = register_client(
                session, metadata=ClientMetadata(**values), now=utc_now(), client_id=client_id
            )
        return RegisteredClient(
            client_id=row.client_id,
            client_secret=secret,
            redirect_uri=values["redirect_uris"][0] if values["redirect_uris"] else "",
            row=row,
        )

    return build


@pytest.fixture
def citizen_id(app: FastAPI) -> int:
    """The demo citizen (username 1.234.567-2, password in tests.helpers.DEMO_PASSWORD)."""
    provider = app.state.provider
    return add_citizen(provider.database, provider.hasher)
