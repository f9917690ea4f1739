"""Fixtures of the federation wiring tests: the provider as a federation leaf and as a Trust
Anchor, each on its own migrated SQLite database with development keys."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from idp.app import create_app
from idp.config import Settings

ISSUER = "http://127.0.0.1:8000"
TRUST_ANCHOR_ID = "https://trust-anchor.example.org"


@pytest.fixture
def federation_app(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> Iterator[Callable[..., FastAPI]]:
    """Build the provider with federation settings (leaf unless told otherwise)."""
    apps: list[FastAPI] = []

    def build(**overrides: Any) -> FastAPI:
        values: dict[str, Any] = {
            "federation_enabled": True,
            "federation_organization_name": "Agencia de Gobierno Electrónico",
        }
        values.update(overrides)
        app = create_app(settings_factory(sqlite_database_url, **values))
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.state.provider.database.dispose()


@pytest.fixture
def leaf(federation_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    app = federation_app(federation_authority_hints=[TRUST_ANCHOR_ID])
    with TestClient(app, base_url=ISSUER) as client:
        yield client


@pytest.fixture
def trust_anchor(federation_app: Callable[..., FastAPI]) -> Iterator[TestClient]:
    app = federation_app(federation_role="trust_anchor", federation_organization_name="Anchor")
    with TestClient(app, base_url=ISSUER) as client:
        yield client
