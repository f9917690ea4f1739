"""The signature service over HTTP: a provider with its signing CA and the demo eID CA, a
relying party holding the ``signature`` scope, and a level-3 citizen with a software card."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import func, select

from idp.assurance.demo_card import DemoCaFiles, sign_challenge
from idp.audit.log import AuditEvent
from idp.oidc import endpoints
from idp.signature.ca import SigningCa
from idp.storage.models import (
    AuditRecord,
    Citizen,
    SignatureAuthorisation,
    SignatureCredential,
    SignatureRequest,
)
from tests.helpers import add_citizen, csrf_token_of
from tests.oidc.conftest import RegisteredClient, citizen_id, register

__all__ = ["citizen_id", "register"]

SIGNER = "4.567.890-5"
SIGNER_PASSWORD = "a long enough password 8"
OTHER = "1.111.111-1"
OTHER_PASSWORD = "another long password 9"
DOCUMENT = b"%PDF-1.7\nSolicitud de partida de nacimiento, expediente 2026/1234\n"
RP_REDIRECT = "https://tramites.example.gub.uy/firma/vuelta"


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")


@dataclass
class Card:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@pytest.fixture
def signing_ca(app: FastAPI) -> SigningCa:
    provider = app.state.provider
    settings = provider.settings
    return SigningCa.create(
        settings.keys_dir,
        settings.key_passphrase_bytes(),
        country="UY",
        organisation="Agencia de Identidad (pruebas)",
        common_name="Firma ciudadana (pruebas)",
        now=provider.clock(),
    )


@pytest.fixture
def eid_ca(app: FastAPI) -> Any:
    """The demo national eID CA (the card step-up trusts it outside production)."""
    settings = app.state.provider.settings
    files = DemoCaFiles.under(settings.keys_dir, settings.key_passphrase_bytes())
    return files.create(now=app.state.provider.clock())


def new_citizen(app: FastAPI, *, username: str, password: str, level: int) -> int:
    provider = app.state.provider
    return add_citizen(
        provider.database,
        provider.hasher,
        username=username,
        password=password,
        verification_level=level,
    )


def card_for(app: FastAPI, eid_ca: Any, username: str) -> Card:
    key, certificate = eid_ca.issue_card(
        document_number=username.replace(".", "").replace("-", ""), now=app.state.provider.clock()
    )
    return Card(key, certificate)


@pytest.fixture
def signer(app: FastAPI) -> int:
    return new_citizen(app, username=SIGNER, password=SIGNER_PASSWORD, level=3)


@pytest.fixture
def signer_card(app: FastAPI, eid_ca: Any, signer: int) -> Card:
    return card_for(app, eid_ca, SIGNER)


def subject_of(app: FastAPI, citizen_id: int) -> str:
    with app.state.provider.database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        return citizen.subject


@pytest.fixture
def portal(register: Callable[..., RegisteredClient]) -> RegisteredClient:
    return register(
        client_name="Portal de trámites",
        redirect_uris=[RP_REDIRECT],
        grant_types=["authorization_code", "client_credentials"],
        scopes=["openid", "profile", "signature"],
    )


def service_token(
    client: TestClient, registered: RegisteredClient, scope: str = "signature"
) -> str:
    response = client.post(
        endpoints.TOKEN,
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(registered.client_id, registered.client_secret or ""),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def create_request(
    client: TestClient, token: str, *, sub: str, body: dict[str, Any] | None = None
) -> Response:
    payload: dict[str, Any] = {
        "sub": sub,
        "documents": [
            {
                "name": "Solicitud 2026/1234.pdf",
                "hash_algorithm": "SHA-256",
                "hash": sha256_b64(DOCUMENT),
            }
        ],
        "redirect_uri": RP_REDIRECT,
        "state": "rp-state-77",
    }
    payload.update(body or {})
    return client.post(
        "/signature/requests", json=payload, headers={"authorization": f"Bearer {token}"}
    )


def log_in_for(client: TestClient, page: Response, *, username: str, password: str) -> Response:
    """Post the login form that a signature page sent us to (keeping its request_id)."""
    request_id = dict(parse_qsl(urlsplit(str(page.url)).query)).get("request_id", "")
    return client.post(
        "/login",
        data={
            "csrf_token": csrf_token_of(page),
            "username": username,
            "password": password,
            "request_id": request_id,
        },
        follow_redirects=False,
    )


def prove_card(app: FastAPI, client: TestClient, card: Card, *, request_id: str | None) -> Response:
    """The eID card step-up page, answered by the software card."""
    query = f"?request_id={request_id}" if request_id else ""
    page = client.get(endpoints.STEP_UP_CARD + query)
    assert page.status_code == 200, page.text
    challenge = re.search(r"--challenge ([A-Za-z0-9_-]{20,})", page.text)
    assert challenge is not None, page.text
    provider = app.state.provider
    answer = sign_challenge(
        key=card.key,
        certificate=card.certificate,
        challenge=challenge.group(1),
        audience=provider.settings.issuer,
        now=provider.clock(),
    )
    data = {"csrf_token": csrf_token_of(page), "card_response": answer}
    if request_id:
        data["request_id"] = request_id
    posted = client.post(endpoints.STEP_UP_CARD, data=data, follow_redirects=False)
    assert posted.status_code == 303, posted.text
    return posted


def counts(app: FastAPI) -> dict[str, int]:
    """What must not change when something is refused."""
    with app.state.provider.database.transaction() as session:
        return {
            "credentials": session.scalar(select(func.count()).select_from(SignatureCredential))
            or 0,
            "requests": session.scalar(select(func.count()).select_from(SignatureRequest)) or 0,
            "authorisations": session.scalar(
                select(func.count()).select_from(SignatureAuthorisation)
            )
            or 0,
            "signatures": session.scalar(
                select(func.count())
                .select_from(AuditRecord)
                .where(AuditRecord.event == AuditEvent.SIGNATURE_CREATED)
            )
            or 0,
        }
