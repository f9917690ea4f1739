"""Issue 6 end to end: a relying party asks for a signature, the citizen logs in, confirms
with the eID card, gets a signing certificate, approves, and the relying party fetches a
detached CAdES signature that Debian's ``openssl cms -verify`` accepts for the document and
refuses for the same document with one byte changed."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from urllib.parse import parse_qsl, urljoin, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response

from idp.signature.ca import SigningCa
from tests.helpers import csrf_token_of
from tests.oidc.conftest import RegisteredClient
from tests.signature_service.conftest import (
    DOCUMENT,
    RP_REDIRECT,
    SIGNER,
    SIGNER_PASSWORD,
    Card,
    counts,
    create_request,
    log_in_for,
    prove_card,
    service_token,
    subject_of,
)

OPENSSL = shutil.which("openssl")


def _get(client: TestClient, location: str) -> Response:
    return client.get(urljoin("http://127.0.0.1:8000/", location), follow_redirects=False)


def _query(location: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(location).query))


def approve_as_signer(app: FastAPI, client: TestClient, card: Card, approval_uri: str) -> Response:
    """The citizen's whole path from the approval link to the redirect back to the portal."""
    request_id = _query(approval_uri)["request_id"]
    first = client.get(approval_uri, follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == f"/login?request_id={request_id}"
    login_page = _get(client, first.headers["location"])
    logged_in = log_in_for(client, login_page, username=SIGNER, password=SIGNER_PASSWORD)
    assert logged_in.headers["location"] == f"/signature/approve?request_id={request_id}"

    page = _get(client, logged_in.headers["location"])
    assert page.status_code == 200
    assert "Solicitud 2026/1234.pdf" in page.text
    assert "Portal de trámites" in page.text
    assert 'value="approve"' not in page.text  # no certificate yet, no fresh card proof

    stepped_up = prove_card(app, client, card, request_id=request_id)
    assert stepped_up.headers["location"] == f"/signature/approve?request_id={request_id}"
    enrol_page = _get(client, f"/account/signature?request_id={request_id}")
    assert 'name="consent"' in enrol_page.text
    enrolled = client.post(
        "/account/signature/enrol",
        data={"csrf_token": csrf_token_of(enrol_page), "consent": "yes", "request_id": request_id},
        follow_redirects=False,
    )
    assert enrolled.status_code == 303, enrolled.text
    approval = _get(client, enrolled.headers["location"])
    assert 'value="approve"' in approval.text
    return client.post(
        "/signature/approve",
        data={
            "csrf_token": csrf_token_of(approval),
            "request_id": request_id,
            "decision": "approve",
        },
        follow_redirects=False,
    )


def test_a_portal_gets_a_cades_signature_that_openssl_verifies(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    signing_ca: SigningCa,
    signer: int,
    signer_card: Card,
    tmp_path: Path,
) -> None:
    token = service_token(client, portal)
    created = create_request(client, token, sub=subject_of(app, signer))
    assert created.status_code == 201, created.text
    request_id = created.json()["request_id"]
    fetched = client.get(
        f"/signature/requests/{request_id}", headers={"authorization": f"Bearer {token}"}
    )
    assert fetched.json()["status"] == "pending"

    back = approve_as_signer(app, client, signer_card, created.json()["approval_uri"])
    assert back.status_code == 303
    assert back.headers["location"].startswith(RP_REDIRECT + "?")
    assert _query(back.headers["location"]) == {"request_id": request_id, "state": "rp-state-77"}

    result = client.get(
        f"/signature/requests/{request_id}", headers={"authorization": f"Bearer {token}"}
    ).json()
    assert result["status"] == "signed"
    assert [s["name"] for s in result["signatures"]] == ["Solicitud 2026/1234.pdf"]
    signature = base64.b64decode(result["signatures"][0]["signature"])

    assert OPENSSL is not None, "Debian's openssl is needed for this test"
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(client.get("/signature/ca.pem").content)
    signature_file = tmp_path / "signature.p7s"
    signature_file.write_bytes(signature)
    original = tmp_path / "document.pdf"
    original.write_bytes(DOCUMENT)
    changed = tmp_path / "changed.pdf"
    changed.write_bytes(DOCUMENT[:-2] + bytes([DOCUMENT[-2] ^ 1]) + DOCUMENT[-1:])

    def openssl_verify(content: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                OPENSSL,
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                str(signature_file),
                "-content",
                str(content),
                "-CAfile",
                str(ca_file),
                "-purpose",
                "any",
                "-out",
                "/dev/null",
            ],
            capture_output=True,
            text=True,
            check=False,
        )

    accepted = openssl_verify(original)
    assert accepted.returncode == 0, accepted.stderr
    assert "Verification successful" in accepted.stderr
    refused = openssl_verify(changed)
    assert refused.returncode != 0
    assert "Verification successful" not in refused.stderr

    report = client.post(
        "/signature/verify",
        json={
            "document": base64.b64encode(DOCUMENT).decode(),
            "signature": result["signatures"][0]["signature"],
        },
    ).json()
    assert report["valid"] is True
    assert report["revocation"] == "good"
    assert report["signer_serial_number"] == "IDCUY-45678905"
    assert report["signer"] == {
        "given_name": "María",
        "family_name": "Rodríguez",
        "country": "UY",
        "serial_number": "IDCUY-45678905",
    }


def test_a_second_submission_or_retry_never_signs_twice(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    signing_ca: SigningCa,
    signer: int,
    signer_card: Card,
) -> None:
    token = service_token(client, portal)
    created = create_request(client, token, sub=subject_of(app, signer)).json()
    back = approve_as_signer(app, client, signer_card, created["approval_uri"])
    assert back.status_code == 303
    before = counts(app)
    assert before["signatures"] == 1

    page = _get(client, f"/signature/approve?request_id={created['request_id']}")
    assert page.status_code == 303  # signed already: straight back to the portal
    again = client.post(
        "/signature/approve",
        data={
            "csrf_token": csrf_token_of(_get(client, "/account/signature")),
            "request_id": created["request_id"],
            "decision": "approve",
        },
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert again.headers["location"].startswith(RP_REDIRECT)
    assert counts(app) == before


def test_the_signature_appears_in_the_citizens_activity(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    signing_ca: SigningCa,
    signer: int,
    signer_card: Card,
) -> None:
    token = service_token(client, portal)
    created = create_request(client, token, sub=subject_of(app, signer)).json()
    approve_as_signer(app, client, signer_card, created["approval_uri"])
    activity = client.get("/account/activity?lang=en")
    assert "You signed a document for “Portal de trámites”." in activity.text
    assert "Solicitud 2026/1234.pdf (SHA-256 " in activity.text
    assert "You got a signing certificate." in activity.text


@pytest.mark.parametrize("signature_format", ["jades"])
def test_a_portal_can_ask_for_a_jades_signature(
    app: FastAPI,
    client: TestClient,
    portal: RegisteredClient,
    signing_ca: SigningCa,
    signer: int,
    signer_card: Card,
    signature_format: str,
) -> None:
    token = service_token(client, portal)
    created = create_request(
        client, token, sub=subject_of(app, signer), body={"signature_format": signature_format}
    ).json()
    approve_as_signer(app, client, signer_card, created["approval_uri"])
    result = client.get(
        f"/signature/requests/{created['request_id']}", headers={"authorization": f"Bearer {token}"}
    ).json()
    jws = result["signatures"][0]["signature"]
    assert jws.count(".") == 2
    assert jws.split(".")[1] == ""
    report = client.post(
        "/signature/verify",
        json={"document": base64.b64encode(DOCUMENT).decode(), "signature": jws},
    ).json()
    assert report["valid"] is True
    assert report["format"] == "JAdES-B"
    tampered = client.post(
        "/signature/verify",
        json={"document": base64.b64encode(DOCUMENT + b" ").decode(), "signature": jws},
    ).json()
    assert tampered["valid"] is False
    assert tampered["integrity"] is False
