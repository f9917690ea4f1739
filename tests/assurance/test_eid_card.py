"""eID card step-up (``/step-up/card``) over HTTP with real certificates, the demo CA and
software cards, and the ``idp card`` commands; on SQLite and PostgreSQL.

Every refusal must show its own message and leave the session without the ``card`` method.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from idp.app import create_app
from idp.assurance import eid_card
from idp.assurance.demo_card import (
    CertificateAuthority,
    DemoCaFiles,
    SoftwareCard,
    sign_challenge,
)
from idp.config import Environment, Settings
from idp.oidc import endpoints
from idp.storage import citizens as citizen_store
from idp.storage.models import BrowserSession, CardChallenge, IdentityVerification
from idp.web.i18n import catalog
from tests.cli.helpers import Cli
from tests.helpers import add_citizen, csrf_token_of, log_in
from tests.oidc.test_authorize import advance_clock

ISSUER = "http://127.0.0.1:8000"
DOCUMENT = "12345672"  # tests.helpers.DEMO_USERNAME, normalised
OTHER_DOCUMENT = "34567894"
REQUEST_ID = "r" * 32
CHALLENGE = re.compile(r'<code id="challenge"[^>]*>([A-Za-z0-9_-]{43})</code>')
MESSAGES = catalog("es")


def message(code: str) -> str:
    return MESSAGES[f"card.error.{code}"]


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def card_settings(settings_factory: Callable[..., Settings], database_url: str) -> Settings:
    return settings_factory(database_url)


@pytest.fixture
def card_app(card_settings: Settings) -> Iterator[FastAPI]:
    application = create_app(card_settings)
    yield application
    application.state.provider.database.dispose()


@pytest.fixture
def card_client(card_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(card_app, base_url=ISSUER) as test_client:
        yield test_client


@pytest.fixture
def demo_files(card_settings: Settings) -> DemoCaFiles:
    return DemoCaFiles.under(card_settings.keys_dir, card_settings.key_passphrase_bytes())


@pytest.fixture
def authority(card_app: FastAPI, demo_files: DemoCaFiles) -> CertificateAuthority:
    return demo_files.create(now=card_app.state.provider.clock())


@dataclass
class Card:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@pytest.fixture
def card(card_app: FastAPI, authority: CertificateAuthority) -> Card:
    key, certificate = authority.issue_card(
        document_number=DOCUMENT, now=card_app.state.provider.clock()
    )
    return Card(key, certificate)


@pytest.fixture
def signed_in(card_app: FastAPI, card_client: TestClient) -> TestClient:
    provider = card_app.state.provider
    add_citizen(provider.database, provider.hasher)
    assert log_in(card_client).status_code == 303
    return card_client


# --- helpers ----------------------------------------------------------------------------------


def open_page(client: TestClient, *, request_id: str | None = REQUEST_ID) -> tuple[Response, str]:
    query = f"?request_id={request_id}" if request_id else ""
    page = client.get(f"{endpoints.STEP_UP_CARD}{query}")
    assert page.status_code == 200, page.text
    match = CHALLENGE.search(page.text)
    assert match, "the page shows no challenge"
    return page, match.group(1)


def answer_for(app: FastAPI, card: Card, challenge: str, **overrides: Any) -> str:
    values: dict[str, Any] = {
        "key": card.key,
        "certificate": card.certificate,
        "challenge": challenge,
        "audience": ISSUER,
        "now": app.state.provider.clock(),
    }
    values.update(overrides)
    return sign_challenge(**values)


def submit(
    client: TestClient, page: Response, answer: str, *, request_id: str | None = REQUEST_ID
) -> Response:
    data = {"csrf_token": csrf_token_of(page), "card_response": answer}
    if request_id:
        data["request_id"] = request_id
    return client.post(endpoints.STEP_UP_CARD, data=data, follow_redirects=False)


def card_proven(app: FastAPI) -> bool:
    with app.state.provider.database.transaction() as session:
        rows = session.scalars(select(BrowserSession)).all()
        return any("card" in (row.auth_methods or {}) for row in rows)


def card_evidence(app: FastAPI) -> list[IdentityVerification]:
    with app.state.provider.database.transaction() as session:
        rows = list(
            session.scalars(
                select(IdentityVerification).where(
                    IdentityVerification.method == eid_card.EVIDENCE_METHOD
                )
            )
        )
        session.expunge_all()
        return rows


def assert_refused(app: FastAPI, response: Response, code: str, status: int = 401) -> None:
    assert response.status_code == status, response.text
    assert message(code) in response.text
    assert 'class="error-summary"' in response.text
    assert 'aria-invalid="true"' in response.text or code == "not_configured"
    assert not card_proven(app)
    assert not card_evidence(app)


def segment(document: dict[str, Any]) -> str:
    raw = json.dumps(document).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def x5c(*certificates: x509.Certificate) -> list[str]:
    return [
        base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in certificates
    ]


# --- success ----------------------------------------------------------------------------------


def test_card_elevates_the_session_and_returns_to_the_request(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    page, challenge = open_page(signed_in)
    assert (
        f"idp card sign --card var/demo-cards/{DOCUMENT}.p12 --challenge {challenge}" in page.text
    )
    assert not card_proven(card_app)

    done = submit(signed_in, page, answer_for(card_app, card, challenge))

    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{endpoints.AUTHORIZE_CONTINUE}?request_id={REQUEST_ID}"
    assert card_proven(card_app)


def test_card_binds_level_3_evidence_once(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    for _ in range(2):
        page, challenge = open_page(signed_in, request_id=None)
        done = submit(signed_in, page, answer_for(card_app, card, challenge), request_id=None)
        assert done.status_code == 303
        assert done.headers["location"] == "/account"

    (record,) = card_evidence(card_app)
    assert record.level == 3
    assert record.evidence_type == "electronic_signature"
    assert record.check_method == "vcrypt"
    assert record.document_number == DOCUMENT
    assert record.attributes == {
        "signature_type": "eid_card_certificate",
        "issuer": card.certificate.issuer.rfc4514_string(),
        "serial_number": format(card.certificate.serial_number, "x"),
        "subject": card.certificate.subject.rfc4514_string(),
    }
    with card_app.state.provider.database.transaction() as session:
        assert citizen_store.verification_level(session, citizen_id=record.citizen_id) == 3


# --- the certificate --------------------------------------------------------------------------


def test_certificate_of_another_ca_is_refused(
    card_app: FastAPI, signed_in: TestClient, authority: CertificateAuthority
) -> None:
    now = card_app.state.provider.clock()
    rogue = CertificateAuthority.create(name="Demo eID CA", now=now)
    key, certificate = rogue.issue_card(document_number=DOCUMENT, now=now)
    page, challenge = open_page(signed_in)
    response = submit(signed_in, page, answer_for(card_app, Card(key, certificate), challenge))
    assert_refused(card_app, response, "untrusted")


def test_expired_certificate_is_refused(
    card_app: FastAPI, signed_in: TestClient, authority: CertificateAuthority
) -> None:
    now = card_app.state.provider.clock()
    key, certificate = authority.issue_card(
        document_number=DOCUMENT,
        now=now,
        not_before=now - timedelta(days=30),
        lifetime=timedelta(days=1),
    )
    page, challenge = open_page(signed_in)
    response = submit(signed_in, page, answer_for(card_app, Card(key, certificate), challenge))
    assert_refused(card_app, response, "expired")


def test_certificate_without_digital_signature_is_refused(
    card_app: FastAPI, signed_in: TestClient, authority: CertificateAuthority
) -> None:
    now = card_app.state.provider.clock()
    key, certificate = authority.issue_card(
        document_number=DOCUMENT, now=now, digital_signature=False
    )
    page, challenge = open_page(signed_in)
    response = submit(signed_in, page, answer_for(card_app, Card(key, certificate), challenge))
    assert_refused(card_app, response, "key_usage")


def test_revoked_certificate_is_refused(
    card_app: FastAPI, signed_in: TestClient, demo_files: DemoCaFiles, authority: Any
) -> None:
    now = card_app.state.provider.clock()
    data, _ = demo_files.issue(document_number=DOCUMENT, name=None, password=b"pin", now=now)
    software = SoftwareCard.from_pkcs12(data, password=b"pin")
    assert demo_files.revoke(document_number=DOCUMENT, now=now)
    page, challenge = open_page(signed_in)
    answer = sign_challenge(
        key=software.key,
        certificate=software.certificate,
        challenge=challenge,
        audience=ISSUER,
        now=now,
    )
    assert_refused(card_app, submit(signed_in, page, answer), "revoked")


def test_card_of_another_citizen_is_refused(
    card_app: FastAPI, signed_in: TestClient, authority: CertificateAuthority
) -> None:
    now = card_app.state.provider.clock()
    key, certificate = authority.issue_card(document_number=OTHER_DOCUMENT, now=now)
    page, challenge = open_page(signed_in)
    response = submit(signed_in, page, answer_for(card_app, Card(key, certificate), challenge))
    assert_refused(card_app, response, "other_citizen", status=403)


# --- the signature ----------------------------------------------------------------------------


def test_signature_by_another_key_is_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    page, challenge = open_page(signed_in)
    answer = answer_for(card_app, card, challenge, key=ec.generate_private_key(ec.SECP256R1()))
    assert_refused(card_app, submit(signed_in, page, answer), "signature")


@pytest.mark.parametrize("algorithm", ["none", "HS256", "ES384", "RS256"])
def test_algorithm_not_matching_the_key_is_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card, algorithm: str
) -> None:
    page, challenge = open_page(signed_in)
    payload = {"challenge": challenge, "aud": ISSUER, "iat": int(datetime.now(UTC).timestamp())}
    header = {"alg": algorithm, "x5c": x5c(card.certificate)}
    signing_input = f"{segment(header)}.{segment(payload)}"
    signature = ""
    if algorithm == "HS256":  # the key confusion attack: the public certificate as HMAC secret
        public = card.certificate.public_bytes(serialization.Encoding.PEM)
        digest = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
        signature = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    answer = f"{signing_input}.{signature}"
    assert_refused(card_app, submit(signed_in, page, answer), "algorithm")


def test_answer_for_another_audience_is_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    page, challenge = open_page(signed_in)
    answer = answer_for(card_app, card, challenge, audience="https://other.example")
    assert_refused(card_app, submit(signed_in, page, answer), "audience")


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        ("", "response_required"),
        ("hello", "malformed"),
        ("a.b.c", "malformed"),
        (f"{segment({'alg': 'ES256'})}.{segment({})}.sig", "malformed"),
        (f"{segment({'alg': 'ES256', 'x5c': ['bm90IGEgY2VydA==']})}.e30.c2ln", "malformed"),
        ("x" * 40_000, "malformed"),
    ],
)
def test_malformed_answers_are_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card, answer: str, code: str
) -> None:
    page, _ = open_page(signed_in)
    assert_refused(card_app, submit(signed_in, page, answer), code, status=400)


def test_payload_without_the_claims_is_malformed(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    page, challenge = open_page(signed_in)
    answer = jwt.encode(
        {"challenge": challenge},
        card.key,
        algorithm="ES256",
        headers={"x5c": x5c(card.certificate)},
    )
    assert_refused(card_app, submit(signed_in, page, answer), "malformed", status=400)


# --- the challenge ----------------------------------------------------------------------------


def test_replayed_answer_is_refused(card_app: FastAPI, signed_in: TestClient, card: Card) -> None:
    page, challenge = open_page(signed_in)
    answer = answer_for(card_app, card, challenge)
    assert submit(signed_in, page, answer).status_code == 303

    replay = submit(signed_in, signed_in.get(endpoints.STEP_UP_CARD), answer)

    assert replay.status_code == 401
    assert message("challenge_used") in replay.text
    assert len(card_evidence(card_app)) == 1


def test_stale_challenge_is_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card, card_settings: Settings
) -> None:
    page, challenge = open_page(signed_in)
    advance_clock(card_app, timedelta(seconds=card_settings.card_challenge_ttl_seconds + 1))
    answer = answer_for(card_app, card, challenge)
    assert_refused(card_app, submit(signed_in, page, answer), "challenge_expired")


def test_challenge_of_another_browser_session_is_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    with TestClient(card_app, base_url=ISSUER) as other_browser:
        assert log_in(other_browser).status_code == 303
        _, foreign_challenge = open_page(other_browser)
    page, _ = open_page(signed_in)
    answer = answer_for(card_app, card, foreign_challenge)
    assert_refused(card_app, submit(signed_in, page, answer), "other_session")


def test_unknown_challenge_is_refused(card_app: FastAPI, signed_in: TestClient, card: Card) -> None:
    page, _ = open_page(signed_in)
    answer = answer_for(card_app, card, "A" * 43)
    assert_refused(card_app, submit(signed_in, page, answer), "unknown_challenge")


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_signing_time_far_from_the_challenge_is_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card, offset: timedelta
) -> None:
    page, challenge = open_page(signed_in)
    signed_at = card_app.state.provider.clock() + offset
    answer = answer_for(card_app, card, challenge, now=signed_at)
    assert_refused(card_app, submit(signed_in, page, answer), "signing_time")


def test_card_clock_a_little_off_is_tolerated(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    page, challenge = open_page(signed_in)
    signed_at = card_app.state.provider.clock() + timedelta(minutes=2)
    assert submit(signed_in, page, answer_for(card_app, card, challenge, now=signed_at)).is_redirect


def test_challenge_is_consumed_once_even_when_read_twice(
    card_app: FastAPI, signed_in: TestClient, card: Card, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conditional UPDATE, not the read before it, decides: a worker that read the
    challenge as unused before another worker's commit still cannot use it."""
    _, challenge = open_page(signed_in)
    provider = card_app.state.provider
    now = provider.clock()
    with provider.database.transaction() as session:
        row = session.get(CardChallenge, challenge)
        assert row is not None
        stale = CardChallenge(
            challenge=row.challenge,
            browser_session_id=row.browser_session_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            used_at=None,
        )
        arguments: dict[str, Any] = {
            "challenge": challenge,
            "browser_session_id": row.browser_session_id,
            "signed_at": int(now.timestamp()),
            "now": now,
        }
        assert eid_card.consume_challenge(session, **arguments) is None
        session.expunge(row)
        monkeypatch.setattr(session, "get", lambda *_args, **_kwargs: stale)
        refused = eid_card.consume_challenge(session, **arguments)
    assert isinstance(refused, eid_card.ChallengeUsed)
    assert refused.detail == "used by a concurrent request"


# --- the page ---------------------------------------------------------------------------------


def test_page_needs_a_signed_in_session(card_client: TestClient, authority: Any) -> None:
    response = card_client.get(
        f"{endpoints.STEP_UP_CARD}?request_id={REQUEST_ID}", follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?request_id={REQUEST_ID}"


def test_form_without_csrf_token_is_refused(
    card_app: FastAPI, signed_in: TestClient, card: Card
) -> None:
    _, challenge = open_page(signed_in)
    response = signed_in.post(
        endpoints.STEP_UP_CARD,
        data={"card_response": answer_for(card_app, card, challenge)},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert not card_proven(card_app)


def test_bad_request_id_is_dropped(card_app: FastAPI, signed_in: TestClient, card: Card) -> None:
    page, challenge = open_page(signed_in, request_id="short")
    done = submit(signed_in, page, answer_for(card_app, card, challenge), request_id="x/../y")
    assert done.headers["location"] == "/account"


def test_without_a_ca_the_card_is_not_available(card_app: FastAPI, signed_in: TestClient) -> None:
    page = signed_in.get(endpoints.STEP_UP_CARD)
    assert page.status_code == 503
    assert message("not_configured") in page.text
    assert "card_response" not in page.text


def test_production_never_trusts_the_demo_ca(
    card_settings: Settings, authority: CertificateAuthority
) -> None:
    production = card_settings.model_copy(update={"env": Environment.PRODUCTION})
    assert eid_card.load_trust(production) is None
    assert eid_card.load_trust(card_settings) is not None


# --- configured trust anchors and CRLs --------------------------------------------------------


def _write(path: Path, *items: x509.Certificate | x509.CertificateRevocationList) -> Path:
    path.write_bytes(b"".join(item.public_bytes(serialization.Encoding.PEM) for item in items))
    return path


def _app_with(settings: Settings, **overrides: Any) -> FastAPI:
    return create_app(settings.model_copy(update=overrides))


def test_configured_ca_and_crl_are_used(card_settings: Settings, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    national = CertificateAuthority.create(name="National eID CA", now=now)
    key, certificate = national.issue_card(document_number=DOCUMENT, now=now)
    app = _app_with(
        card_settings,
        eid_ca_file=_write(tmp_path / "ca.pem", national.certificate),
        eid_crl_file=_write(tmp_path / "crl.pem", national.crl(revoked={}, now=now)),
    )
    try:
        with TestClient(app, base_url=ISSUER) as client:
            provider = app.state.provider
            add_citizen(provider.database, provider.hasher)
            assert log_in(client).status_code == 303
            page, challenge = open_page(client)
            done = submit(client, page, answer_for(app, Card(key, certificate), challenge))
            assert done.status_code == 303
            assert card_proven(app)
    finally:
        app.state.provider.database.dispose()


@pytest.mark.parametrize("crl_kind", ["of another CA", "past its next update"])
def test_crl_that_does_not_cover_the_card_fails_closed(
    card_settings: Settings, tmp_path: Path, crl_kind: str
) -> None:
    now = datetime.now(UTC)
    national = CertificateAuthority.create(name="National eID CA", now=now)
    key, certificate = national.issue_card(document_number=DOCUMENT, now=now)
    if crl_kind == "of another CA":
        other = CertificateAuthority.create(name="Other CA", now=now)
        crl = other.crl(revoked={}, now=now)
    else:
        crl = national.crl(revoked={}, now=now - timedelta(days=400))
    app = _app_with(
        card_settings,
        eid_ca_file=_write(tmp_path / "ca.pem", national.certificate),
        eid_crl_file=_write(tmp_path / "crl.pem", crl),
    )
    try:
        with TestClient(app, base_url=ISSUER) as client:
            provider = app.state.provider
            add_citizen(provider.database, provider.hasher)
            assert log_in(client).status_code == 303
            page, challenge = open_page(client)
            response = submit(client, page, answer_for(app, Card(key, certificate), challenge))
            assert_refused(app, response, "revocation_unknown", status=503)
    finally:
        app.state.provider.database.dispose()


# --- holder identity --------------------------------------------------------------------------


def _certificate_with_subject(*attributes: x509.NameAttribute) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(list(attributes))
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )


@pytest.mark.parametrize(
    ("serial", "country", "expected"),
    [
        ("DNI12345672", "UY", ("UY", "12345672")),
        ("IDCUY-1.234.567-2", None, ("UY", "12345672")),
        ("IDCAR-30123456", "UY", ("AR", "30123456")),
        ("12345672", None, ("UY", "12345672")),
        ("DNI", "UY", None),
        (None, "UY", None),
    ],
)
def test_holder_of_reads_the_subject_serial_number(
    serial: str | None, country: str | None, expected: tuple[str, str] | None
) -> None:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, "María")]
    if serial is not None:
        attributes.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, serial))
    if country is not None:
        attributes.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    certificate = _certificate_with_subject(*attributes)
    assert eid_card.holder_of(certificate, default_country="UY") == expected


# --- the idp card commands --------------------------------------------------------------------


@pytest.fixture
def card_cli(
    card_settings: Settings, database_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Cli:
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    return Cli(database_url=database_url, keys_dir=card_settings.keys_dir)


def test_cli_software_card_answer_is_accepted_by_the_page(
    card_app: FastAPI, signed_in: TestClient, card_cli: Cli, tmp_path: Path
) -> None:
    assert "Created the demo eID CA" in card_cli.ok("card", "demo-ca")
    key_file = card_cli.keys_dir / eid_card.DEMO_CA_KEY_FILE
    assert b"ENCRYPTED PRIVATE KEY" in key_file.read_bytes()
    card_file = tmp_path / "card.p12"
    issued = card_cli.ok(
        "card", "issue", "--document", "1.234.567-2", "--out", str(card_file), stdin="pin\npin\n"
    )
    assert "12345672" in issued
    assert "pin" not in issued.replace("Card password", "")

    page, challenge = open_page(signed_in)
    answer = card_cli.ok(
        "card", "sign", "--card", str(card_file), "--challenge", challenge, stdin="pin\n"
    )
    assert "pin" not in answer.replace("Card password", "")
    token = answer.strip().splitlines()[-1]
    done = submit(signed_in, page, token)
    assert done.status_code == 303, done.text
    assert card_proven(card_app)

    assert "Revoked 1 card(s) of 12345672" in card_cli.ok(
        "card", "revoke", "--document", "12345672"
    )
    page, challenge = open_page(signed_in)
    answer = card_cli.ok(
        "card", "sign", "--card", str(card_file), "--challenge", challenge, "--password", "pin"
    )
    assert message("revoked") in submit(signed_in, page, answer.strip()).text


def test_cli_refusals(card_cli: Cli, tmp_path: Path) -> None:
    card_cli.refuses(
        "card",
        "issue",
        "--document",
        "12345672",
        "--out",
        str(tmp_path / "c.p12"),
        "--password",
        "pin",
        message=f"There is no demo eID CA in {card_cli.keys_dir}; run `idp card demo-ca` first.",
    )
    card_cli.ok("card", "demo-ca")
    card_cli.refuses(
        "card",
        "demo-ca",
        message=f"A demo eID CA already exists in {card_cli.keys_dir}; refusing to replace it.",
    )
    card_cli.refuses(
        "card",
        "issue",
        "--document",
        "1.234.567-3",
        "--out",
        str(tmp_path / "c.p12"),
        "--password",
        "pin",
        message="The cédula's check digit does not match; check the number.",
    )
    card_cli.refuses(
        "card",
        "revoke",
        "--document",
        "12345672",
        message="No unrevoked demo card was issued for 12345672.",
    )
    card_file = tmp_path / "c.p12"
    card_cli.ok(
        "card", "issue", "--document", "12345672", "--out", str(card_file), "--password", "pin"
    )
    card_cli.refuses(
        "card",
        "sign",
        "--card",
        str(card_file),
        "--challenge",
        "A" * 43,
        "--password",
        "wrong",
        message="The card file cannot be opened: the password is wrong or it is not PKCS#12.",
    )
    card_cli.refuses(
        "card",
        "sign",
        "--card",
        str(card_file),
        "--challenge",
        "short",
        "--password",
        "pin",
        message="The challenge is not one the provider shows (43 letters, digits, - or _).",
    )


def test_cli_demo_ca_refuses_in_production(card_cli: Cli) -> None:
    production = {
        "IDP_ENV": "production",
        "IDP_DATABASE_URL": "postgresql+psycopg://idp@db.invalid/idp",
        "IDP_PAIRWISE_SALT": "a pairwise salt, long enough",
    }
    card_cli.refuses(
        "card",
        "demo-ca",
        env=production,
        message="The demo eID CA is for development only; production trusts IDP_EID_CA_FILE.",
    )
    assert not (card_cli.keys_dir / eid_card.DEMO_CA_CERT_FILE).exists()
