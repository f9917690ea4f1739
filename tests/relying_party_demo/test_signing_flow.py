"""The portal's "sign a sworn statement" end to end against the real provider: the portal gets
a client_credentials token with private_key_jwt, creates the signature request, the citizen
approves at the provider (eID card proof, signing certificate, approval) and comes back; the
portal shows the provider's verification report and offers both files. Refusals: a wrong or
replayed ``state``, a declined request."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx
import pytest
from sqlalchemy import select

from idp.oidc import endpoints
from idp.signature.verification import verify_signature
from idp.storage.models import ClientAssertionJti, SignatureRequest
from relying_party_demo.app import SESSION_COOKIE
from tests.helpers import add_citizen, csrf_token_of
from tests.relying_party_demo.conftest import PASSWORD, LiveDemo
from tests.relying_party_demo.walk import walk
from tests.support.signer import SIGNER, Signer, signer_with_card


@pytest.fixture
def signer(live: LiveDemo) -> Signer:
    """The provider's signing CA and demo eID CA, and a level-3 citizen with a software card."""
    return signer_with_card(live.provider_app.state.provider)


def _query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


def _logged_in_browser(live: LiveDemo, username: str = SIGNER) -> httpx.Client:
    browser = live.browser()
    result = walk(
        browser, f"{live.portal}/login", portal=live.portal, username=username, password=PASSWORD
    )
    assert str(result.page.url) == f"{live.portal}/perfil"
    return browser


def _start(live: LiveDemo, browser: httpx.Client, signature_format: str) -> str:
    """The citizen presses "sign": the portal answers with the provider's approval URI."""
    page = browser.get(f"{live.portal}/firma")
    assert page.status_code == 200
    assert 'name="signature_format" value="cades" checked' in page.text
    assert 'name="signature_format" value="jades"' in page.text
    start = browser.post(
        f"{live.portal}/firma",
        data={"signature_format": signature_format, "csrf_token": csrf_token_of(page)},
        follow_redirects=False,
    )
    assert start.status_code == 303, start.text
    approval_uri = start.headers["location"]
    assert approval_uri.startswith(f"{live.issuer}/signature/approve?request_id=")
    # The session now holds the document too, and still fits the 4 kB browsers keep.
    assert len(browser.cookies[SESSION_COOKIE]) < 3500
    return approval_uri


def _prove_card(live: LiveDemo, browser: httpx.Client, signer: Signer, request_id: str) -> None:
    provider = live.provider_app.state.provider
    page = browser.get(f"{live.issuer}{endpoints.STEP_UP_CARD}?request_id={request_id}")
    assert page.status_code == 200, page.text
    challenge = re.search(r"--challenge ([A-Za-z0-9_-]{20,})", page.text)
    assert challenge is not None
    answer = signer.answer(challenge.group(1), audience=live.issuer, provider=provider)
    posted = browser.post(
        f"{live.issuer}{endpoints.STEP_UP_CARD}",
        data={"csrf_token": csrf_token_of(page), "card_response": answer, "request_id": request_id},
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text


def _decide(
    live: LiveDemo, browser: httpx.Client, signer: Signer, approval_uri: str, decision: str
) -> str:
    """The citizen's path at the provider; returns where the provider sends them back."""
    request_id = _query(approval_uri)["request_id"]
    approval = browser.get(approval_uri)  # already logged in at the provider
    assert approval.status_code == 200, approval.text
    if decision == "approve":
        _prove_card(live, browser, signer, request_id)
        enrol_page = browser.get(f"{live.issuer}/account/signature?request_id={request_id}")
        enrolled = browser.post(
            f"{live.issuer}/account/signature/enrol",
            data={
                "csrf_token": csrf_token_of(enrol_page),
                "consent": "yes",
                "request_id": request_id,
            },
            follow_redirects=False,
        )
        assert enrolled.status_code == 303, enrolled.text
        approval = browser.get(urljoin(f"{live.issuer}/", enrolled.headers["location"]))
        assert 'value="approve"' in approval.text
    back = browser.post(
        f"{live.issuer}/signature/approve",
        data={
            "csrf_token": csrf_token_of(approval),
            "request_id": request_id,
            "decision": decision,
        },
        follow_redirects=False,
    )
    assert back.status_code == 303, back.text
    location: str = back.headers["location"]
    assert location.startswith(f"{live.portal}/firma/vuelta?")
    return location


def _verify(signer: Signer, *, document: bytes, signature: bytes) -> Any:
    return verify_signature(
        signature=signature,
        document=document,
        trusted_ca=signer.ca.certificate,
        now=datetime.now(UTC),
    )


def test_the_portal_gets_a_cades_signature_that_verifies(live: LiveDemo, signer: Signer) -> None:
    browser = _logged_in_browser(live)
    approval_uri = _start(live, browser, "cades")
    back = _decide(live, browser, signer, approval_uri, "approve")
    assert _query(back)["request_id"] == _query(approval_uri)["request_id"]

    result = browser.get(back, follow_redirects=True)
    assert str(result.url) == f"{live.portal}/firma/resultado"
    page = result.text
    assert "Firmaste la declaración jurada" in page
    assert "La firma es válida para este documento." in page
    assert "Carlos Rodríguez" in page  # the signer, from the provider's report
    assert "IDCUY-45678905" in page
    assert "No cambió desde que se firmó." in page
    assert "No estaba revocado al firmar." in page
    assert "CAdES-B" in page

    document = browser.get(f"{live.portal}/firma/documento")
    assert document.headers["content-type"] == "text/plain; charset=utf-8"
    assert 'filename="declaracion-jurada-' in document.headers["content-disposition"]
    text = document.content.decode("utf-8")
    assert text.startswith("DECLARACIÓN JURADA\n")
    assert "Nombre: Carlos Rodríguez" in text
    assert f"Fecha: {datetime.now(UTC).date().isoformat()}" in text
    signature = browser.get(f"{live.portal}/firma/archivo-firma")
    assert signature.headers["content-type"] == "application/pkcs7-signature"
    assert signature.headers["content-disposition"].endswith('.p7s"')

    # The provider's verification module, on its own, agrees, and refuses a changed document.
    report = _verify(signer, document=document.content, signature=signature.content)
    assert report.valid, report.problems
    assert report.format == "CAdES-B"
    assert report.signer_serial_number == "IDCUY-45678905"
    changed = _verify(signer, document=document.content + b" ", signature=signature.content)
    assert not changed.valid
    assert not changed.integrity

    # The provider recorded the request for the portal's client and the citizen's document.
    provider = live.provider_app.state.provider
    with provider.database.transaction() as session:
        row = session.get(SignatureRequest, _query(approval_uri)["request_id"])
        assert row is not None
        assert row.client_id == "tramites-demo"
        assert row.redirect_uri == f"{live.portal}/firma/vuelta"
        assert [document["name"] for document in row.documents] == [
            document.headers["content-disposition"].split('"')[1]
        ]
        # Every token request of the portal authenticated with a private_key_jwt assertion.
        assertions = session.scalars(select(ClientAssertionJti)).all()
        assert len(assertions) >= 3  # login, the request, the result
        assert {row.client_id for row in assertions} == {"tramites-demo"}

    # The return is accepted once: a replay of the same address is refused.
    replay = browser.get(back)
    assert replay.status_code == 400
    assert "No pudimos completar la firma" in replay.text


def test_the_portal_gets_a_jades_signature_that_verifies(live: LiveDemo, signer: Signer) -> None:
    browser = _logged_in_browser(live)
    preview = browser.get(f"{live.portal}/firma?lang=en")
    assert '<pre class="document" aria-labelledby="document-title">SWORN STATEMENT' in (
        preview.text
    )
    approval_uri = _start(live, browser, "jades")
    back = _decide(live, browser, signer, approval_uri, "approve")
    page = browser.get(back, follow_redirects=True)
    assert "You signed the sworn statement" in page.text
    assert "The signature is valid for this document." in page.text
    assert "JAdES-B" in page.text
    document = browser.get(f"{live.portal}/firma/documento").content
    assert document.startswith(b"SWORN STATEMENT\n")
    signature = browser.get(f"{live.portal}/firma/archivo-firma")
    assert signature.headers["content-type"] == "application/jose"
    assert signature.headers["content-disposition"].endswith('.jws"')
    assert signature.content.count(b".") == 2
    report = _verify(signer, document=document, signature=signature.content)
    assert report.valid, report.problems
    assert report.format == "JAdES-B"


def test_a_return_with_a_wrong_state_is_refused(live: LiveDemo, signer: Signer) -> None:
    browser = _logged_in_browser(live)
    approval_uri = _start(live, browser, "cades")
    request_id = _query(approval_uri)["request_id"]
    forged = browser.get(
        f"{live.portal}/firma/vuelta", params={"request_id": request_id, "state": "forged"}
    )
    assert forged.status_code == 400
    assert "No pudimos completar la firma" in forged.text
    assert "no corresponde a una firma iniciada en este navegador" in forged.text
    # Without a return accepted, neither the result nor the signature file is given.
    assert (
        browser.get(f"{live.portal}/firma/resultado", follow_redirects=False).headers["location"]
        == "/firma"
    )
    assert (
        browser.get(f"{live.portal}/firma/archivo-firma", follow_redirects=False).headers[
            "location"
        ]
        == "/firma"
    )

    # The real return, in another browser (without this session), is refused too.
    back = _decide(live, browser, signer, approval_uri, "approve")
    stranger = live.browser()
    assert stranger.get(back).status_code == 400


def test_a_declined_signature_is_explained(live: LiveDemo, signer: Signer) -> None:
    browser = _logged_in_browser(live)
    approval_uri = _start(live, browser, "cades")
    back = _decide(live, browser, signer, approval_uri, "decline")
    assert _query(back)["error"] == "access_denied"
    page = browser.get(back, follow_redirects=True)
    assert str(page.url) == f"{live.portal}/firma/resultado"
    assert "No firmaste la declaración" in page.text
    assert "Rechazaste la firma" in page.text
    assert "/firma/archivo-firma" not in page.text


def test_without_a_signing_ca_the_citizen_is_told_the_service_is_unavailable(
    live: LiveDemo,
) -> None:
    provider = live.provider_app.state.provider
    add_citizen(provider.database, provider.hasher, username=SIGNER, verification_level=3)
    browser = _logged_in_browser(live)
    token = csrf_token_of(browser.get(f"{live.portal}/firma"))
    answer = browser.post(
        f"{live.portal}/firma", data={"signature_format": "cades", "csrf_token": token}
    )
    assert answer.status_code == 503
    assert "El servicio de firma del proveedor de identidad no está disponible" in answer.text
    assert "temporarily_unavailable" in answer.text
