"""Issue 6: each refusal ends cleanly with nothing signed — no fresh strong login, an
authorisation replayed for other hashes, another citizen approving, weak or malformed hashes,
a revoked certificate, a citizen's key that cannot be opened, a level-1 account enrolling, a
client without the signature scope."""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp.assurance.methods import AuthMethod, record_method
from idp.signature import activation, credentials
from idp.signature.ca import SigningCa
from idp.signature.requests import DocumentToSign, documents_of
from idp.storage.models import (
    BrowserSession,
    Citizen,
    SignatureCredential,
    SignatureRequest,
)
from idp.web.i18n import Translator
from tests.helpers import csrf_token_of
from tests.oidc.conftest import RegisteredClient
from tests.oidc.flow import authorize_url, pkce_pair
from tests.signature_service.conftest import (
    DOCUMENT,
    OTHER,
    OTHER_PASSWORD,
    RP_REDIRECT,
    SIGNER,
    SIGNER_PASSWORD,
    Card,
    card_for,
    counts,
    create_request,
    log_in_for,
    new_citizen,
    prove_card,
    service_token,
    sha256_b64,
    subject_of,
)


def _enrol_directly(app: FastAPI, citizen_id: int) -> SignatureCredential:
    provider = app.state.provider
    with provider.database.transaction() as session:
        citizen = session.get(Citizen, citizen_id)
        assert citizen is not None
        credential = credentials.enrol(
            session,
            citizen=citizen,
            consented=True,
            authority=provider.signature_authority,
            settings=provider.settings,
            now=provider.clock(),
        )
        session.expunge(credential)
        return credential


def _log_in(client: TestClient, username: str, password: str) -> None:
    page = client.get("/login")
    response = log_in_for(client, page, username=username, password=password)
    assert response.status_code == 303, response.text


def _approve(client: TestClient, request_id: str) -> Any:
    page = client.get(f"/signature/approve?request_id={request_id}", follow_redirects=False)
    return client.post(
        "/signature/approve",
        data={"csrf_token": csrf_token_of(page), "request_id": request_id, "decision": "approve"},
        follow_redirects=False,
    ), page


def _pending_request(
    app: FastAPI, client: TestClient, portal: RegisteredClient, citizen: int
) -> str:
    token = service_token(client, portal)
    created = create_request(client, token, sub=subject_of(app, citizen))
    assert created.status_code == 201, created.text
    request_id: str = created.json()["request_id"]
    return request_id


def _status(app: FastAPI, request_id: str) -> str:
    with app.state.provider.database.transaction() as session:
        row = session.get(SignatureRequest, request_id)
        assert row is not None
        return row.status


@pytest.fixture
def enrolled_signer(app: FastAPI, signing_ca: SigningCa, signer: int) -> int:
    _enrol_directly(app, signer)
    return signer


# --- the citizen's side ------------------------------------------------------------------


def test_approval_with_a_password_login_only_signs_nothing(
    app: FastAPI, client: TestClient, portal: RegisteredClient, enrolled_signer: int
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    before = counts(app)
    posted, page = _approve(client, request_id)
    assert 'value="approve"' not in page.text
    assert "/step-up/card?request_id=" in page.text
    assert posted.status_code == 403
    assert (
        "Confirm your identity again"
        in client.post(
            "/signature/approve?lang=en",
            data={
                "csrf_token": csrf_token_of(page),
                "request_id": request_id,
                "decision": "approve",
            },
        ).text
    )
    assert counts(app) == before
    assert _status(app, request_id) == "pending"


def _prove_now(app: FastAPI, method: AuthMethod, *, age: timedelta = timedelta(0)) -> None:
    provider = app.state.provider
    with provider.database.transaction() as session:
        row = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id.is_not(None))
        ).one()
        row.auth_methods = record_method(row.auth_methods, method, now=provider.clock() - age)


def test_a_card_proof_older_than_the_limit_is_not_fresh(
    app: FastAPI, client: TestClient, portal: RegisteredClient, enrolled_signer: int
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    provider = app.state.provider
    max_age = provider.settings.signature_auth_max_age_seconds
    with provider.database.transaction() as session:
        row = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id.is_not(None))
        ).one()
        row.auth_methods = record_method(
            row.auth_methods, AuthMethod.CARD, now=provider.clock() - timedelta(seconds=max_age + 5)
        )
    before = counts(app)
    posted, _ = _approve(client, request_id)
    assert posted.status_code == 403
    assert counts(app) == before


def test_a_two_factor_login_is_not_enough_when_the_card_is_required(
    app: FastAPI, client: TestClient, portal: RegisteredClient, enrolled_signer: int
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    provider = app.state.provider
    with provider.database.transaction() as session:
        row = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id.is_not(None))
        ).one()
        row.auth_methods = record_method(row.auth_methods, AuthMethod.TOTP, now=provider.clock())
    before = counts(app)
    posted, _ = _approve(client, request_id)
    assert posted.status_code == 403
    assert counts(app) == before


def test_another_citizen_cannot_approve(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    enrolled_signer: int,
    eid_ca: Any,
) -> None:
    other = new_citizen(app, username=OTHER, password=OTHER_PASSWORD, level=3)
    _enrol_directly(app, other)
    request_id = _pending_request(app, client, portal, enrolled_signer)
    _log_in(client, OTHER, OTHER_PASSWORD)
    prove_card(app, client, card_for(app, eid_ca, OTHER), request_id=None)
    before = counts(app)
    page = client.get(f"/signature/approve?request_id={request_id}&lang=en")
    assert page.status_code == 403
    assert "for another person" in page.text
    assert "Solicitud 2026/1234.pdf" not in page.text
    posted = client.post(
        "/signature/approve",
        data={
            "csrf_token": csrf_token_of(client.get("/account/signature")),
            "request_id": request_id,
            "decision": "approve",
        },
        follow_redirects=False,
    )
    assert posted.status_code == 403
    assert counts(app) == before
    assert _status(app, request_id) == "pending"


def test_declining_returns_access_denied_and_signs_nothing(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    enrolled_signer: int,
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    page = client.get(f"/signature/approve?request_id={request_id}")
    before = counts(app)
    posted = client.post(
        "/signature/approve",
        data={"csrf_token": csrf_token_of(page), "request_id": request_id, "decision": "decline"},
        follow_redirects=False,
    )
    assert posted.status_code == 303
    assert posted.headers["location"].startswith(RP_REDIRECT + "?")
    assert "error=access_denied" in posted.headers["location"]
    assert counts(app) == before
    assert _status(app, request_id) == "refused"


def test_a_request_without_csrf_token_changes_nothing(
    app: FastAPI, client: TestClient, portal: RegisteredClient, enrolled_signer: int
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    before = counts(app)
    posted = client.post(
        "/signature/approve",
        data={"request_id": request_id, "decision": "decline"},
        follow_redirects=False,
    )
    assert posted.status_code in (400, 403)
    assert counts(app) == before
    assert _status(app, request_id) == "pending"


def test_a_revoked_certificate_cannot_sign_and_verification_reports_it(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    enrolled_signer: int,
    signer_card: Card,
) -> None:
    # First a signature while the certificate is good.
    token = service_token(client, portal)
    first = create_request(client, token, sub=subject_of(app, enrolled_signer)).json()
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    prove_card(app, client, signer_card, request_id=None)
    posted, _ = _approve(client, first["request_id"])
    assert posted.status_code == 303
    signed = client.get(
        f"/signature/requests/{first['request_id']}", headers={"authorization": f"Bearer {token}"}
    ).json()["signatures"][0]["signature"]

    # The citizen revokes it from the account page.
    account = client.get("/account/signature")
    credential_id = account.text.split('name="credential_id" value="')[1].split('"')[0]
    revoked = client.post(
        "/account/signature/revoke",
        data={"csrf_token": csrf_token_of(account), "credential_id": credential_id},
    )
    assert revoked.status_code == 200
    crl = client.get("/signature/crl")
    assert crl.headers["content-type"] == "application/pkix-crl"

    second = create_request(client, token, sub=subject_of(app, enrolled_signer)).json()
    before = counts(app)
    posted, page = _approve(client, second["request_id"])
    assert posted.status_code == 403
    assert 'value="approve"' not in page.text
    assert counts(app) == before
    assert _status(app, second["request_id"]) == "pending"

    report = client.post(
        "/signature/verify",
        json={"document": base64.b64encode(DOCUMENT).decode(), "signature": signed},
    ).json()
    assert report["revocation"] == "revoked"
    assert report["revoked_at"] is not None


def test_a_level_1_account_cannot_enrol(
    app: FastAPI, client: TestClient, signing_ca: SigningCa
) -> None:
    new_citizen(app, username=OTHER, password=OTHER_PASSWORD, level=1)
    _log_in(client, OTHER, OTHER_PASSWORD)
    # A fresh card proof written as the card page does, without the level-3 evidence that a
    # real card proof would also record: only the verification level stands in the way.
    _prove_now(app, AuthMethod.CARD)
    page = client.get("/account/signature?lang=en")
    assert 'name="consent"' not in page.text
    assert "verification level 2" in page.text
    before = counts(app)
    posted = client.post(
        "/account/signature/enrol",
        data={"csrf_token": csrf_token_of(client.get("/account")), "consent": "yes"},
    )
    assert posted.status_code == 403
    assert counts(app) == before


def test_enrolment_needs_the_explicit_consent(
    app: FastAPI, client: TestClient, signing_ca: SigningCa, signer: int, signer_card: Card
) -> None:
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    prove_card(app, client, signer_card, request_id=None)
    page = client.get("/account/signature")
    before = counts(app)
    posted = client.post("/account/signature/enrol", data={"csrf_token": csrf_token_of(page)})
    assert posted.status_code == 400
    assert counts(app) == before
    done = client.post(
        "/account/signature/enrol", data={"csrf_token": csrf_token_of(page), "consent": "yes"}
    )
    assert done.status_code == 200
    assert counts(app)["credentials"] == 1


# --- the signature activation data --------------------------------------------------------


def _authorised(app: FastAPI, request_id: str) -> tuple[str, tuple[DocumentToSign, ...]]:
    provider = app.state.provider
    with provider.database.transaction() as session:
        request = session.get(SignatureRequest, request_id)
        assert request is not None
        credential = credentials.active_credential(
            session,
            citizen_id=(request_id and session.scalars(select(Citizen.id)).first()) or 0,
            now=provider.clock(),
        )
        assert credential is not None
        documents = documents_of(request)
        sad = activation.authorise(
            session,
            request=request,
            citizen_id=credential.citizen_id,
            credential=credential,
            documents=documents,
            now=provider.clock(),
        )
        assert sad is not None
        return sad, documents


def _sign(app: FastAPI, sad: str, documents: tuple[DocumentToSign, ...]) -> None:
    provider = app.state.provider
    with provider.database.transaction() as session:
        activation.sign_hashes(
            session,
            sad=sad,
            documents=documents,
            signature_format="cades",
            authority=provider.signature_authority,
            now=provider.clock(),
        )


def test_an_authorisation_replayed_for_another_hash_signs_nothing(
    app: FastAPI, client: TestClient, portal: RegisteredClient, enrolled_signer: int
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    sad, documents = _authorised(app, request_id)
    other = (DocumentToSign("Otro.pdf", "SHA-256", hashlib.sha256(b"otro").digest()),)
    before = counts(app)
    with pytest.raises(activation.SigningRefused) as refused:
        _sign(app, sad, other)
    assert refused.value.code == "authorisation_invalid"
    assert counts(app) == before

    _sign(app, sad, documents)  # the approved hashes: signed once
    assert counts(app)["signatures"] == before["signatures"] + 1
    with pytest.raises(activation.SigningRefused):
        _sign(app, sad, documents)  # replayed as is
    assert counts(app)["signatures"] == before["signatures"] + 1


def test_an_expired_authorisation_signs_nothing(
    app: FastAPI, client: TestClient, portal: RegisteredClient, enrolled_signer: int
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    sad, documents = _authorised(app, request_id)
    provider = app.state.provider
    before = counts(app)
    with provider.database.transaction() as session, pytest.raises(activation.SigningRefused):
        activation.sign_hashes(
            session,
            sad=sad,
            documents=documents,
            signature_format="cades",
            authority=provider.signature_authority,
            now=provider.clock() + activation.SAD_TTL + timedelta(seconds=1),
        )
    assert counts(app) == before


def test_a_certificate_revoked_after_approval_signs_nothing(
    app: FastAPI, client: TestClient, portal: RegisteredClient, enrolled_signer: int
) -> None:
    request_id = _pending_request(app, client, portal, enrolled_signer)
    sad, documents = _authorised(app, request_id)
    provider = app.state.provider
    with provider.database.transaction() as session:
        credential = credentials.active_credential(
            session, citizen_id=enrolled_signer, now=provider.clock()
        )
        assert credential is not None
        assert credentials.revoke(
            session, citizen_id=enrolled_signer, credential_id=credential.id, now=provider.clock()
        )
    before = counts(app)
    with pytest.raises(activation.SigningRefused) as refused:
        _sign(app, sad, documents)
    assert refused.value.code == "certificate_revoked"
    assert counts(app) == before


def test_a_wrapped_key_that_cannot_be_opened_shows_unavailable_and_signs_nothing(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    enrolled_signer: int,
    signer_card: Card,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The stored wrapped key altered (one bit; the same happens after the key passphrase
    changed): AES-GCM refuses to open it (``CustodyError``). The citizen gets the
    "unavailable" page, not a 500; nothing is signed, no authorisation is left behind, the
    request stays pending (it can still be declined), and the log names the cause without
    any key material."""
    request_id = _pending_request(app, client, portal, enrolled_signer)
    with app.state.provider.database.transaction() as session:
        credential = session.scalars(select(SignatureCredential)).one()
        wrapped = bytearray(base64.b64decode(credential.wrapped_key))
        wrapped[-1] ^= 0x01
        credential.wrapped_key = base64.b64encode(bytes(wrapped)).decode("ascii")
        tampered = credential.wrapped_key
    _log_in(client, SIGNER, SIGNER_PASSWORD)
    prove_card(app, client, signer_card, request_id=None)
    before = counts(app)

    with caplog.at_level(logging.INFO):
        posted, page = _approve(client, request_id)

    assert posted.status_code == 409
    assert Translator("es")("signature.error.unavailable") in posted.text
    assert 'value="approve"' in posted.text  # the approval page again, with the message
    assert counts(app) == before
    assert _status(app, request_id) == "pending"
    assert any("cannot be opened" in record.getMessage() for record in caplog.records)
    assert tampered not in caplog.text
    assert tampered[:24] not in caplog.text

    declined = client.post(
        "/signature/approve",
        data={"csrf_token": csrf_token_of(page), "request_id": request_id, "decision": "decline"},
        follow_redirects=False,
    )
    assert declined.status_code == 303
    assert "error=access_denied" in declined.headers["location"]
    assert _status(app, request_id) == "refused"
    assert counts(app)["signatures"] == before["signatures"]


# --- the relying party's side -------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {
                "name": "a.pdf",
                "hash_algorithm": "MD5",
                "hash": base64.b64encode(b"x" * 16).decode(),
            },
            "MD5",
        ),
        (
            {
                "name": "a.pdf",
                "hash_algorithm": "SHA-1",
                "hash": base64.b64encode(b"x" * 20).decode(),
            },
            "SHA-1",
        ),
        (
            {
                "name": "a.pdf",
                "hash_algorithm": "SHA-256",
                "hash": base64.b64encode(b"x" * 31).decode(),
            },
            "32",
        ),
        ({"name": "a.pdf", "hash_algorithm": "SHA-512", "hash": sha256_b64(DOCUMENT)}, "64"),
        ({"name": "a.pdf", "hash_algorithm": "SHA-256", "hash": "not base64 !!"}, "base64"),
        ({"name": "", "hash_algorithm": "SHA-256", "hash": sha256_b64(DOCUMENT)}, "name"),
        (
            {"name": "a\u0000.pdf", "hash_algorithm": "SHA-256", "hash": sha256_b64(DOCUMENT)},
            "control",
        ),
        ({"name": "a.pdf", "hash_algorithm": "SHA-256"}, "hash"),
        (
            {"name": "a.pdf", "hash_algorithm": "SHA-256", "hash": sha256_b64(DOCUMENT), "x": 1},
            "unknown",
        ),
    ],
)
def test_weak_or_malformed_hashes_are_refused(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    signing_ca: SigningCa,
    signer: int,
    document: dict[str, Any],
    message: str,
) -> None:
    token = service_token(client, portal)
    before = counts(app)
    response = create_request(
        client, token, sub=subject_of(app, signer), body={"documents": [document]}
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert message in response.json()["error_description"]
    assert counts(app) == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"redirect_uri": "https://evil.example/firma"}, "redirect_uri"),
        ({"redirect_uri": RP_REDIRECT + "/"}, "redirect_uri"),
        ({"documents": []}, "documents"),
        ({"documents": "abc"}, "documents"),
        ({"signature_format": "pades"}, "signature_format"),
        ({"sub": ""}, "sub"),
        ({"extra": True}, "Unknown"),
    ],
)
def test_malformed_requests_are_refused(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    signing_ca: SigningCa,
    signer: int,
    body: dict[str, Any],
    message: str,
) -> None:
    token = service_token(client, portal)
    before = counts(app)
    response = create_request(client, token, sub=subject_of(app, signer), body=body)
    assert response.status_code == 400, response.text
    assert message in response.json()["error_description"]
    assert counts(app) == before


def test_too_many_documents_are_refused(
    app: FastAPI, client: TestClient, portal: RegisteredClient, signing_ca: SigningCa, signer: int
) -> None:
    token = service_token(client, portal)
    document = {"name": "a.pdf", "hash_algorithm": "SHA-256", "hash": sha256_b64(DOCUMENT)}
    response = create_request(
        client, token, sub=subject_of(app, signer), body={"documents": [document] * 21}
    )
    assert response.status_code == 400
    assert counts(app)["requests"] == 0


def test_a_client_without_the_signature_scope_is_refused(
    app: FastAPI, client: TestClient, register: Any, signing_ca: SigningCa, signer: int
) -> None:
    plain = register(
        client_name="Otro portal",
        redirect_uris=[RP_REDIRECT],
        grant_types=["authorization_code", "client_credentials"],
        scopes=["openid", "profile"],
    )
    refused = client.post(
        "/token",
        data={"grant_type": "client_credentials", "scope": "signature"},
        auth=(plain.client_id, plain.client_secret or ""),
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_scope"
    token = service_token(client, plain, scope="profile")
    response = create_request(client, token, sub=subject_of(app, signer))
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert create_request(client, "not-a-token", sub=subject_of(app, signer)).status_code == 401
    assert counts(app)["requests"] == 0


def test_the_signature_scope_cannot_be_asked_for_a_citizen(
    client: TestClient, portal: RegisteredClient
) -> None:
    _, challenge = pkce_pair()
    response = client.get(
        authorize_url(portal.client_id, RP_REDIRECT, challenge, scope="openid signature"),
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert "error=invalid_scope" in response.headers["location"]


def test_a_client_sees_only_its_own_requests(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    register: Any,
    signing_ca: SigningCa,
    signer: int,
) -> None:
    request_id = _pending_request(app, client, portal, signer)
    other = register(
        client_name="Otro portal",
        redirect_uris=[RP_REDIRECT],
        grant_types=["client_credentials"],
        scopes=["signature"],
    )
    token = service_token(client, other)
    response = client.get(
        f"/signature/requests/{request_id}", headers={"authorization": f"Bearer {token}"}
    )
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_without_a_signing_ca_the_service_says_it_is_unavailable(
    app: FastAPI, client: TestClient, portal: RegisteredClient, signer: int
) -> None:
    token = service_token(client, portal)
    response = create_request(client, token, sub=subject_of(app, signer))
    assert response.status_code == 503
    assert response.json()["error"] == "temporarily_unavailable"
    assert client.get("/signature/crl").status_code == 503
