"""A real provider and the real portal, each on its own uvicorn server on 127.0.0.1.

The portal is registered at the provider through ``relying_party_demo.registration`` (the code
behind ``rp-demo register``); two citizens exist: María at verification level 0 and Juan at
level 1.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from idp.app import create_app as create_provider_app
from idp.config import Settings
from idp.context import utc_now
from relying_party_demo.app import create_app as create_portal_app
from relying_party_demo.config import PortalSettings
from relying_party_demo.keys import ClientKey, load_client_key
from relying_party_demo.registration import Registration, register_portal
from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME, add_citizen
from tests.support.live_server import free_port, serve_app

LEVEL_0_USERNAME = DEMO_USERNAME  # María
LEVEL_1_USERNAME = "2.345.678-3"  # Juan
LEVEL_2_USERNAME = "3.456.789-4"  # Ana (added by the tests that need her)
PASSWORD = DEMO_PASSWORD


@pytest.fixture(autouse=True)
def _no_ambient_portal_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's RP_* variables."""
    for name in list(os.environ):
        if name.startswith("RP_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def client_key(tmp_path_factory: pytest.TempPathFactory) -> ClientKey:
    """One portal key for the whole run (RSA generation is slow)."""
    folder = tmp_path_factory.mktemp("rp-key")
    settings = PortalSettings(_env_file=None, key_file=folder / "client-key.pem")  # type: ignore[call-arg]
    return load_client_key(settings)


def portal_settings(tmp_path: Path, **overrides: Any) -> PortalSettings:
    values: dict[str, Any] = {
        "key_file": tmp_path / "rp" / "client-key.pem",
        "session_secret_file": tmp_path / "rp" / "session-secret",
    }
    values.update(overrides)
    return PortalSettings(_env_file=None, **values)  # type: ignore[call-arg]


@dataclass
class LiveDemo:
    issuer: str
    portal: str
    provider_app: Any
    portal_settings: PortalSettings
    registration: Registration
    metadata: dict[str, Any]

    def browser(self) -> httpx.Client:
        return httpx.Client(timeout=20.0)


@pytest.fixture
def live(
    settings_factory: Callable[..., Settings],
    sqlite_database_url: str,
    tmp_path: Path,
    client_key: ClientKey,
) -> Iterator[LiveDemo]:
    provider_port, portal_port = free_port(), free_port()
    issuer = f"http://127.0.0.1:{provider_port}"
    portal_url = f"http://127.0.0.1:{portal_port}"
    provider_app = create_provider_app(settings_factory(sqlite_database_url, issuer=issuer))
    provider = provider_app.state.provider
    add_citizen(provider.database, provider.hasher, username=LEVEL_0_USERNAME)
    add_citizen(
        provider.database,
        provider.hasher,
        username=LEVEL_1_USERNAME,
        given_name="Juan",
        verification_level=1,
    )
    settings = portal_settings(tmp_path, issuer=issuer, base_url=portal_url)
    with provider.database.transaction() as session:
        registration = register_portal(
            session, settings=settings, jwks=client_key.public_jwks, now=utc_now()
        )
    portal_app = create_portal_app(settings, client_key=client_key)
    with serve_app(provider_app, port=provider_port), serve_app(portal_app, port=portal_port):
        metadata = httpx.get(f"{issuer}/.well-known/openid-configuration").json()
        yield LiveDemo(
            issuer=issuer,
            portal=portal_url,
            provider_app=provider_app,
            portal_settings=settings,
            registration=registration,
            metadata=metadata,
        )
    provider.database.dispose()
