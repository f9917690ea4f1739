"""Single use under real concurrency, on SQLite and on PostgreSQL, over real HTTP (uvicorn on
127.0.0.1) where an attacker would race: requests released at once by a barrier, each on its
own connection and database transaction.

- a ``private_key_jwt`` client assertion (RFC 7523 3 item 7: "the authorization server ...
  MAY ensure that JWTs are not replayed" -- here it must: the ``jti`` replay cache is a
  unique row, so one assertion authenticates once however many workers receive it);
- the citizen's approval of a signature request (a double click, or a replayed form post):
  one signature activation per request (a unique column) and one signature;
- the signature activation data (SAD) itself, consumed by parallel workers: one signature.

Codes and refresh tokens under the same kind of race: ``tests/oidc/test_token_races.py``.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import jwt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from idp.app import create_app
from idp.assurance.methods import AuthMethod, record_method
from idp.config import Settings
from idp.context import utc_now
from idp.oidc.client_auth import CLIENT_ASSERTION_TYPE_JWT_BEARER
from idp.oidc.clients import ClientMetadata, register_client
from idp.signature import activation
from idp.signature.ca import SigningCa
from idp.storage.models import BrowserSession, ClientAssertionJti, ClientAuthMethod
from tests.helpers import csrf_token_of
from tests.oidc.conftest import RP_REDIRECT_URI, RegisteredClient
from tests.oidc.test_token_client_auth import new_key
from tests.oidc.test_token_races import outcomes, race
from tests.signature_service.conftest import (
    RP_REDIRECT,
    SIGNER,
    SIGNER_PASSWORD,
    counts,
    create_request,
    log_in_for,
    new_citizen,
    service_token,
    subject_of,
)
from tests.signature_service.test_refusals import _authorised, _enrol_directly, _sign
from tests.support.live_server import free_port, serve_app

PARALLEL = 20


@dataclass(frozen=True)
class LiveProvider:
    app: FastAPI
    base_url: str


@pytest.fixture
def live(database_url: str, settings_factory: Callable[..., Settings]) -> Iterator[LiveProvider]:
    port = free_port()
    app = create_app(settings_factory(database_url, issuer=f"http://127.0.0.1:{port}"))
    try:
        with serve_app(app, port=port) as base_url:
            yield LiveProvider(app, base_url)
    finally:
        app.state.provider.database.dispose()


def _register(app: FastAPI, metadata: ClientMetadata) -> RegisteredClient:
    with app.state.provider.database.transaction() as session:
        row, secret = register_client(session, metadata=metadata, now=utc_now())
    return RegisteredClient(row.client_id, secret, metadata.redirect_uris[0], row)


# --- private_key_jwt: the jti replay cache ------------------------------------------------


def test_one_client_assertion_sent_at_once_by_many_workers_authenticates_once(
    live: LiveProvider,
) -> None:
    key = new_key()
    public = jwt.algorithms.ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    public.update({"kid": "k1", "alg": "ES256"})
    rp = _register(
        live.app,
        ClientMetadata(
            client_name="Portal",
            redirect_uris=[RP_REDIRECT_URI],
            token_endpoint_auth_method=ClientAuthMethod.PRIVATE_KEY_JWT,
            jwks={"keys": [public]},
            grant_types=["client_credentials"],
        ),
    )
    token_url = f"{live.base_url}/token"
    now = int(time.time())
    claims = {
        "iss": rp.client_id,
        "sub": rp.client_id,
        "aud": token_url,
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    signed = jwt.encode(claims, key, algorithm="ES256", headers={"kid": "k1"})
    data = {
        "grant_type": "client_credentials",
        "client_assertion_type": CLIENT_ASSERTION_TYPE_JWT_BEARER,
        "client_assertion": signed,
    }

    responses = race(PARALLEL, lambda: httpx.post(token_url, data=data, timeout=120))

    assert outcomes(responses) == ["invalid_client"] * (PARALLEL - 1) + ["ok"]
    with live.app.state.provider.database.transaction() as session:
        rows = session.scalar(select(func.count()).select_from(ClientAssertionJti))
    assert rows == 1


# --- the signature service: approval and activation -----------------------------------------


SESSIONS = 5
"""Browsers in which the citizen is signed in at once (each request of one browser session
locks that session's row, which alone would queue the race on PostgreSQL)."""


@dataclass(frozen=True)
class Browser:
    cookies: httpx.Cookies
    csrf_token: str


@dataclass(frozen=True)
class PendingSignature:
    request_id: str
    browsers: list[Browser]


def _prove_card_in_every_session(app: FastAPI) -> None:
    """A fresh eID card proof on each of the citizen's sessions, recorded as the card
    step-up records it (the card flow itself is ``tests/signature_service``'s subject)."""
    provider = app.state.provider
    with provider.database.transaction() as session:
        rows = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id.is_not(None))
        ).all()
        assert len(rows) == SESSIONS
        for row in rows:
            row.auth_methods = record_method(
                row.auth_methods, AuthMethod.CARD, now=provider.clock()
            )


@pytest.fixture
def pending_signature(live: LiveProvider) -> PendingSignature:
    """A signature request of an enrolled level-3 citizen, who is signed in with a fresh card
    proof in several browsers, each with the approval page open."""
    app = live.app
    provider = app.state.provider
    settings = provider.settings
    SigningCa.create(
        settings.keys_dir,
        settings.key_passphrase_bytes(),
        country="UY",
        organisation="Agencia de Identidad (pruebas)",
        common_name="Firma ciudadana (pruebas)",
        now=provider.clock(),
    )
    signer = new_citizen(app, username=SIGNER, password=SIGNER_PASSWORD, level=3)
    _enrol_directly(app, signer)
    portal = _register(
        app,
        ClientMetadata(
            client_name="Portal de trámites",
            redirect_uris=[RP_REDIRECT],
            grant_types=["authorization_code", "client_credentials"],
            scopes=["openid", "profile", "signature"],
        ),
    )
    clients = [httpx.Client(base_url=live.base_url, timeout=60) for _ in range(SESSIONS)]
    try:
        token = service_token(clients[0], portal)
        created = create_request(clients[0], token, sub=subject_of(app, signer))
        assert created.status_code == 201, created.text
        request_id: str = created.json()["request_id"]
        for http in clients:
            logged_in = log_in_for(
                http,
                http.get("/login"),
                username=SIGNER,
                password=SIGNER_PASSWORD,
            )
            assert logged_in.status_code == 303, logged_in.text
        _prove_card_in_every_session(app)
        browsers = []
        for http in clients:
            page = http.get(f"/signature/approve?request_id={request_id}")
            assert 'value="approve"' in page.text, page.text
            browsers.append(Browser(httpx.Cookies(http.cookies), csrf_token_of(page)))
        return PendingSignature(request_id, browsers)
    finally:
        for http in clients:
            http.close()


def test_parallel_approvals_of_one_signature_request_sign_once(
    live: LiveProvider, pending_signature: PendingSignature
) -> None:
    """Approvals sent at once from the citizen's browsers (a double submission, the page
    open in two browsers) produce one authorisation and one signature; every answer goes
    back to the relying party, none is an error."""
    pending = pending_signature
    before = counts(live.app)
    turn = itertools.count()

    def approve() -> httpx.Response:
        browser = pending.browsers[next(turn) % SESSIONS]
        form = {
            "csrf_token": browser.csrf_token,
            "request_id": pending.request_id,
            "decision": "approve",
        }
        with httpx.Client(base_url=live.base_url, cookies=browser.cookies, timeout=120) as http:
            return http.post("/signature/approve", data=form, follow_redirects=False)

    responses = race(PARALLEL // 2, approve)

    assert [r.status_code for r in responses] == [303] * (PARALLEL // 2), [
        r.text[:200] for r in responses if r.status_code != 303
    ]
    assert all(r.headers["location"].startswith(RP_REDIRECT + "?") for r in responses)
    assert not any("error=" in r.headers["location"] for r in responses)
    after = counts(live.app)
    assert after["signatures"] == before["signatures"] + 1
    assert after["authorisations"] == before["authorisations"] + 1


def test_one_signature_activation_consumed_by_parallel_workers_signs_once(
    live: LiveProvider, pending_signature: PendingSignature
) -> None:
    """The SAD is single use (one conditional UPDATE), whichever worker holds it."""
    app = live.app
    sad, documents = _authorised(app, pending_signature.request_id)
    before = counts(app)
    barrier = threading.Barrier(PARALLEL // 2)
    results: list[str] = []
    lock = threading.Lock()

    def sign() -> None:
        barrier.wait()
        try:
            _sign(app, sad, documents)
            result = "signed"
        except activation.SigningRefused as refused:
            result = refused.code
        with lock:
            results.append(result)

    threads = [threading.Thread(target=sign) for _ in range(PARALLEL // 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(results) == ["authorisation_invalid"] * (PARALLEL // 2 - 1) + ["signed"]
    assert counts(app)["signatures"] == before["signatures"] + 1
