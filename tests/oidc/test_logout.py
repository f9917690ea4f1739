"""RP-Initiated Logout 1.0 and Back-Channel Logout 1.0."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.app import create_app
from idp.config import Settings
from idp.oidc.backchannel import deliver_due
from idp.storage import grants
from idp.storage.models import BackchannelLogoutDelivery, Grant
from tests.helpers import add_citizen, csrf_token_of, log_in
from tests.oidc.conftest import RP_REDIRECT_URI
from tests.oidc.flow import obtain_code, redeem

BYE = "https://rp.example.gub.uy/bye"


class Receiver:
    """A real HTTP endpoint on 127.0.0.1 that records logout tokens; can fail on purpose."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.failures_left = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"])).decode()
                if receiver.failures_left > 0:
                    receiver.failures_left -= 1
                    self.send_response(500)
                else:
                    receiver.tokens.append(parse_qs(body)["logout_token"][0])
                    self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/backchannel"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    instance = Receiver()
    yield instance
    instance.server.shutdown()


@pytest.fixture
def open_app(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> Iterator[FastAPI]:
    app = create_app(settings_factory(sqlite_database_url, allow_private_network_fetches=True))
    provider = app.state.provider
    add_citizen(provider.database, provider.hasher)
    yield app
    provider.database.dispose()


def _signed_in_with_tokens(
    http: TestClient, rp: Any, scope: str = "openid profile"
) -> dict[str, Any]:
    code, verifier = obtain_code(http, rp.client_id, RP_REDIRECT_URI, scope=scope)
    return redeem(http, rp.client_id, rp.client_secret, code, verifier, RP_REDIRECT_URI).json()


def test_logout_with_a_valid_hint_redirects_to_the_registered_uri(
    client: TestClient, register, citizen_id: int
) -> None:
    rp = register(post_logout_redirect_uris=[BYE])
    tokens = _signed_in_with_tokens(client, rp)
    response = client.get(
        "/logout/oidc",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": BYE,
            "state": "s1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{BYE}?state=s1"
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login"
    assert (
        client.get(
            "/userinfo", headers={"authorization": f"Bearer {tokens['access_token']}"}
        ).status_code
        == 401
    )


def test_an_unregistered_post_logout_uri_is_never_followed(
    client: TestClient, register, citizen_id: int
) -> None:
    rp = register(post_logout_redirect_uris=[BYE])
    tokens = _signed_in_with_tokens(client, rp)
    response = client.get(
        "/logout/oidc",
        params={
            "id_token_hint": tokens["id_token"],
            "post_logout_redirect_uri": "https://evil.example/",
        },
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert "Sesión cerrada" in response.text


def test_without_a_hint_the_citizen_confirms_with_csrf(
    client: TestClient, register, citizen_id: int
) -> None:
    log_in(client)
    page = client.get("/logout/oidc")
    assert page.status_code == 200
    assert "¿Cerrar la sesión?" in page.text
    refused = client.post("/logout/oidc", data={"confirm": "yes"})
    assert refused.status_code == 403
    assert client.get("/account").status_code == 200
    done = client.post("/logout/oidc", data={"confirm": "yes", "csrf_token": csrf_token_of(page)})
    assert done.status_code == 200
    assert client.get("/account", follow_redirects=False).headers["location"] == "/login"


def test_a_forged_or_mistyped_hint_only_gets_the_confirmation(
    client: TestClient, register, citizen_id: int
) -> None:
    rp = register(post_logout_redirect_uris=[BYE])
    tokens = _signed_in_with_tokens(client, rp)
    for hint in (tokens["access_token"], tokens["id_token"][:-4] + "AAAA"):
        response = client.get(
            "/logout/oidc",
            params={"id_token_hint": hint, "post_logout_redirect_uri": BYE},
            follow_redirects=False,
        )
        assert response.status_code == 200
        assert "¿Cerrar la sesión?" in response.text
    assert client.get("/account").status_code == 200


def test_an_expired_hint_is_accepted(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    rp = register(post_logout_redirect_uris=[BYE])
    tokens = _signed_in_with_tokens(client, rp)
    provider = app.state.provider
    later = provider.clock() + timedelta(minutes=20)
    provider.clock = lambda: later
    log_in(client)
    response = client.get(
        "/logout/oidc",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_offline_access_grants_survive_logout(
    client: TestClient, register, citizen_id: int, app: FastAPI
) -> None:
    rp = register()
    _signed_in_with_tokens(client, rp, scope="openid offline_access")
    log_in(client)
    page = client.get("/logout/oidc")
    client.post("/logout/oidc", data={"confirm": "yes", "csrf_token": csrf_token_of(page)})
    with app.state.provider.database.transaction() as session:
        (grant,) = session.scalars(select(Grant)).all()
        assert grants.grant_is_active(session, grant_id=grant.id, now=app.state.provider.clock())


def test_back_channel_logout_token_is_delivered_and_retried(
    open_app: FastAPI, receiver: Receiver
) -> None:
    from idp.context import utc_now
    from idp.oidc.clients import ClientMetadata, register_client

    provider = open_app.state.provider
    with provider.database.transaction() as session:
        row, secret = register_client(
            session,
            metadata=ClientMetadata(
                client_name="RP",
                redirect_uris=[RP_REDIRECT_URI],
                backchannel_logout_uri=receiver.url,
            ),
            now=utc_now(),
        )
    with TestClient(open_app, base_url="http://127.0.0.1:8000") as http:
        code, verifier = obtain_code(http, row.client_id, RP_REDIRECT_URI)
        tokens = redeem(http, row.client_id, secret, code, verifier, RP_REDIRECT_URI).json()
        sid = jwt.decode(tokens["id_token"], options={"verify_signature": False})["sid"]
        receiver.failures_left = 1
        response = http.get("/logout/oidc", params={"id_token_hint": tokens["id_token"]})
        assert response.status_code == 200
    assert receiver.tokens == []  # the citizen's response did not wait for delivery

    now = provider.clock()
    assert deliver_due(provider, now) == 0  # the receiver fails once
    assert deliver_due(provider, now + timedelta(seconds=5)) == 0  # backoff: not yet due
    assert deliver_due(provider, now + timedelta(seconds=11)) == 1
    (token,) = receiver.tokens
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "logout+jwt"
    key = jwt.PyJWKSet.from_dict(provider.keyring.jwks())[header["kid"]]
    claims = jwt.decode(
        token,
        key.key,
        algorithms=[header["alg"]],
        audience=row.client_id,
        issuer=provider.settings.issuer,
    )
    assert claims["sid"] == sid
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]
    assert "nonce" not in claims
    with provider.database.transaction() as session:
        delivery = session.scalars(select(BackchannelLogoutDelivery)).one()
        assert delivery.attempts == 2
        assert delivery.delivered_at is not None


def test_a_hint_signed_by_a_retired_key_still_logs_out(
    app: FastAPI, client: TestClient, register, citizen_id: int
) -> None:
    from datetime import timedelta as span

    from idp.signing_keys import service

    rp = register(post_logout_redirect_uris=[BYE])
    tokens = _signed_in_with_tokens(client, rp)
    provider = app.state.provider
    with provider.database.transaction() as session:
        service.rotate(
            session,
            store=service.key_store(provider.settings),
            now=provider.clock(),
            publish_ahead=span(0),
        )
    provider.keyring.reload()
    old_kid = jwt.get_unverified_header(tokens["id_token"])["kid"]
    assert provider.keyring.signing_material("RS256").kid != old_kid  # RS256 still the default
    response = client.get(
        "/logout/oidc",
        params={"id_token_hint": tokens["id_token"], "post_logout_redirect_uri": BYE},
        follow_redirects=False,
    )
    assert response.status_code == 303
