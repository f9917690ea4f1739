"""Authentication with the national eID card (strength 3): the card signs a fresh challenge.

Uruguay's cédula de identidad electrónica holds a private key (behind the card's PIN) and a
certificate issued by the national CA. The citizen proves possession of that key by signing a
challenge this provider made for their browser session. The card's answer is a compact JWS
(RFC 7515):

- header: ``alg`` pinned by the certificate's key type (``ES256``/``ES384``/``ES512`` for
  P-256/P-384/P-521, ``RS256``/``PS256`` for RSA of 2048 bits or more; never ``none`` nor an
  HMAC), ``x5c`` = [card certificate, intermediates...] (RFC 7515 4.1.6, base64 DER);
- payload: ``{"challenge": ..., "aud": <issuer>, "iat": <Unix time>}``.

Checks, each with its own outcome (an ordered list of small steps): the answer's shape; the
algorithm against the key; the card certificate's validity period at ``now``; its chain to a
configured trust anchor (RFC 5280 path validation by ``cryptography.x509.verification``); key
usage ``digitalSignature``; revocation by CRL (RFC 5280 6.3: CRL signed by the certificate's
issuer, ``nextUpdate`` not passed); the signature; ``aud`` = issuer; the holder is the signed-in
citizen; the challenge exists, belongs to this browser session, is unexpired and unused. The
challenge is consumed by a conditional UPDATE (``used_at IS NULL``), so an answer works once
even when two workers receive it at the same time.

Holder identity: the certificate's subject ``serialNumber`` (X.520 2.5.4.5) names the card's
document, as ``DNI<number>`` (the Uruguayan national CA's profile), as the ETSI EN 319 412-1
5.1.3 semantics identifier ``IDC<country>-<number>``, or as the bare number; separators are
ignored like at login. The country is the identifier's, else the subject's ``countryName``, else
the provider's country. The holder matches an account whose document is an identity card
(``ci``/``dni``) with that country and number.

Trust: every certificate in ``IDP_EID_CA_FILE`` is a trust anchor, so list only the CAs that
issue identity cards (not a national root that also issues other certificates). With
``IDP_EID_CRL_FILE``, a card whose issuer has no valid, fresh, complete CRL there is refused
(fail closed; delta and partitioned CRLs are not used); without it revocation is not checked.
Development without these settings uses the demo CA of ``idp card demo-ca``
(``idp.assurance.demo_card``) under the keys folder.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import json
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from idp.accounts.documents import normalise_document_number
from idp.config import Settings
from idp.storage.models import CardChallenge, Citizen, IdentityVerification

logger = logging.getLogger(__name__)

CHALLENGE_BYTES = 32
CHALLENGE_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
"""``secrets.token_urlsafe(32)``: 43 url-safe characters."""
MAX_RESPONSE_LENGTH = 32 * 1024
MAX_CHAIN_LENGTH = 5
MIN_RSA_BITS = 2048
SIGNING_TIME_TOLERANCE = timedelta(minutes=5)
"""How far the card computer's clock may be off. Freshness comes from the single-use,
short-lived challenge; ``iat`` only refuses answers clearly made at another time."""

DEMO_CA_CERT_FILE = "eid-demo-ca.pem"
DEMO_CA_KEY_FILE = "eid-demo-ca.key.pem"
DEMO_CRL_FILE = "eid-demo-ca.crl.pem"
DEMO_INDEX_FILE = "eid-demo-ca.issued.json"

CARD_DOCUMENT_TYPES = frozenset({"ci", "dni"})
"""Account document types an eID card can stand for (the identity card)."""

EVIDENCE_METHOD = "eid_certificate"
EVIDENCE_LEVEL = 3
EVIDENCE_TYPE = "electronic_signature"
EVIDENCE_CHECK_METHOD = "vcrypt"
EVIDENCE_SIGNATURE_TYPE = "eid_card_certificate"

_ETSI_IDENTIFIER = re.compile(r"IDC([A-Z]{2})[-:](.+)")
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]{4,20}")
_PEM_CRL = re.compile(rb"-----BEGIN X509 CRL-----.+?-----END X509 CRL-----", re.DOTALL)
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class CardTrustError(RuntimeError):
    """The configured trust files cannot be used; one sentence for the operator."""


# --- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardAccepted:
    """The card proved possession of its key for this session's challenge."""

    certificate: x509.Certificate
    document_country: str
    document_number: str

    @property
    def issuer(self) -> str:
        return self.certificate.issuer.rfc4514_string()

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def serial_number(self) -> str:
        return format(self.certificate.serial_number, "x")


@dataclass(frozen=True, slots=True)
class CardRefused:
    """Base of the refusals: ``code`` names the outcome (and its message ``card.error.<code>``),
    ``status`` the HTTP status of the page that reports it."""

    code: ClassVar[str] = "refused"
    status: ClassVar[int] = 401
    detail: str = ""
    """For the log only; never shown to the citizen."""


class CardNotConfigured(CardRefused):
    code = "not_configured"
    status = 503


class MalformedResponse(CardRefused):
    code = "malformed"
    status = 400


class UnsupportedAlgorithm(CardRefused):
    """``alg`` is not one the certificate's key type allows (``none``, HMAC, a mismatch)."""

    code = "algorithm"


class CertificateNotYetValid(CardRefused):
    code = "not_yet_valid"


class CertificateExpired(CardRefused):
    code = "expired"


class UntrustedCertificate(CardRefused):
    """No valid path from the card certificate to a configured trust anchor."""

    code = "untrusted"


class CertificateNotForSigning(CardRefused):
    code = "key_usage"


class CertificateRevoked(CardRefused):
    code = "revoked"


class RevocationUnknown(CardRefused):
    """No valid, fresh CRL of the card's issuer: fail closed."""

    code = "revocation_unknown"
    status = 503


class BadSignature(CardRefused):
    code = "signature"


class WrongAudience(CardRefused):
    code = "audience"


class BadSigningTime(CardRefused):
    """``iat`` before the challenge was made, or in the future."""

    code = "signing_time"


class UnidentifiedHolder(CardRefused):
    """The certificate names no document (no usable subject ``serialNumber``)."""

    code = "no_holder"


class NotTheCitizen(CardRefused):
    """A valid card, of someone else than the signed-in citizen."""

    code = "other_citizen"
    status = 403


class UnknownChallenge(CardRefused):
    code = "unknown_challenge"


class ChallengeOfAnotherSession(CardRefused):
    code = "other_session"


class ChallengeExpired(CardRefused):
    code = "challenge_expired"


class ChallengeUsed(CardRefused):
    code = "challenge_used"


CardOutcome = CardAccepted | CardRefused


# --- trust configuration ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CardTrust:
    anchors: tuple[x509.Certificate, ...]
    crls: tuple[x509.CertificateRevocationList, ...]
    check_revocation: bool


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CardTrustError(f"The {what} {path} cannot be read ({exc.strerror}).") from None


def load_trust(settings: Settings) -> CardTrust | None:
    """The configured trust anchors and CRLs; the demo CA in development when nothing is
    configured; None when card authentication is not available."""
    ca_file, crl_file = settings.eid_ca_file, settings.eid_crl_file
    if ca_file is None:
        if settings.is_production:
            return None
        ca_file = settings.keys_dir / DEMO_CA_CERT_FILE
        if not ca_file.exists():
            return None
        demo_crl = settings.keys_dir / DEMO_CRL_FILE
        crl_file = crl_file or (demo_crl if demo_crl.exists() else None)
    try:
        anchors = tuple(x509.load_pem_x509_certificates(_read(ca_file, "eID CA file")))
    except ValueError:
        raise CardTrustError(f"The eID CA file {ca_file} holds no PEM certificate.") from None
    crls: tuple[x509.CertificateRevocationList, ...] = ()
    if crl_file is not None:
        try:
            crls = tuple(
                x509.load_pem_x509_crl(block)
                for block in _PEM_CRL.findall(_read(crl_file, "eID CRL file"))
            )
        except ValueError:
            raise CardTrustError(f"The eID CRL file {crl_file} holds a broken CRL.") from None
    return CardTrust(anchors=anchors, crls=crls, check_revocation=crl_file is not None)


# --- challenges -------------------------------------------------------------------------------


def issue_challenge(
    db: Session, *, browser_session_id: int, now: datetime, ttl: timedelta
) -> CardChallenge:
    """A fresh challenge for this browser session; its expired challenges are pruned."""
    db.execute(
        delete(CardChallenge).where(
            CardChallenge.browser_session_id == browser_session_id,
            CardChallenge.expires_at <= now,
        )
    )
    row = CardChallenge(
        challenge=secrets.token_urlsafe(CHALLENGE_BYTES),
        browser_session_id=browser_session_id,
        created_at=now,
        expires_at=now + ttl,
        used_at=None,
    )
    db.add(row)
    db.flush()
    return row


# --- the checks, in order ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Parsed:
    algorithm: str
    certificates: tuple[x509.Certificate, ...]

    @property
    def card(self) -> x509.Certificate:
        return self.certificates[0]


def _b64url_json(segment: str) -> Any:
    padded = segment + "=" * (-len(segment) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))


def parse_response(response: str) -> _Parsed | MalformedResponse:
    """The header of a compact JWS with its ``x5c`` chain, before any trust in it."""
    text = response.strip()
    if not text or len(text) > MAX_RESPONSE_LENGTH or text.count(".") != 2 or not text.isascii():
        return MalformedResponse("not a compact JWS")
    try:
        header = _b64url_json(text.split(".", 1)[0])
    except (ValueError, binascii.Error):
        return MalformedResponse("header is not base64url JSON")
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str):
        return MalformedResponse("header has no alg")
    if "crit" in header:
        return MalformedResponse("header asks for extensions (crit)")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not 1 <= len(chain) <= MAX_CHAIN_LENGTH:
        return MalformedResponse("header has no usable x5c")
    certificates = []
    for entry in chain:
        if not isinstance(entry, str):
            return MalformedResponse("x5c entry is not a string")
        try:
            der = base64.b64decode(entry, validate=True)
            certificates.append(x509.load_der_x509_certificate(der))
        except (ValueError, binascii.Error):
            return MalformedResponse("x5c entry is not a DER certificate")
    return _Parsed(algorithm=header["alg"], certificates=tuple(certificates))


def allowed_algorithms(key: CertificatePublicKeyTypes) -> tuple[str, ...]:
    """The JWS algorithms a certificate's key may sign with; empty for any other key."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        algorithm = _EC_ALGORITHMS.get(key.curve.name)
        return (algorithm,) if algorithm else ()
    if isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS:
        return ("RS256", "PS256")
    return ()


def _check_validity_period(card: x509.Certificate, now: datetime) -> CardRefused | None:
    if now < card.not_valid_before_utc:
        return CertificateNotYetValid(f"valid from {card.not_valid_before_utc.isoformat()}")
    if now > card.not_valid_after_utc:
        return CertificateExpired(f"expired at {card.not_valid_after_utc.isoformat()}")
    return None


def _any_extension(_policy: Any, _certificate: Any, _extension: Any) -> None:
    return None


def verify_chain(
    parsed: _Parsed, trust: CardTrust, now: datetime
) -> list[x509.Certificate] | UntrustedCertificate:
    """RFC 5280 path validation to a trust anchor. CA certificates follow the Web PKI profile's
    CA rules; the card certificate only needs a key usage (checked after) and may carry any
    other extension (an eID card has no DNS name, and its extended key usage varies)."""
    card_policy = ExtensionPolicy.permit_all().require_present(
        x509.KeyUsage, Criticality.AGNOSTIC, _any_extension
    )
    builder = (
        PolicyBuilder()
        .store(Store(list(trust.anchors)))
        .time(now)
        .max_chain_depth(MAX_CHAIN_LENGTH)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=card_policy)
    )
    try:
        verifier = builder.build_client_verifier()
        verified = verifier.verify(parsed.card, list(parsed.certificates[1:]))
    except VerificationError as exc:
        return UntrustedCertificate(str(exc))
    return list(verified.chain)


def _check_key_usage(card: x509.Certificate) -> CardRefused | None:
    try:
        usage = card.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return CertificateNotForSigning("no key usage")
    return None if usage.digital_signature else CertificateNotForSigning("no digitalSignature")


def _may_sign_crls(issuer: x509.Certificate) -> bool:
    try:
        usage = issuer.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return True
    return usage.crl_sign


def _is_complete_crl(crl: x509.CertificateRevocationList) -> bool:
    """A full CRL of every certificate of its issuer: not a delta CRL (RFC 5280 5.2.4), not
    partitioned by distribution point, reasons or certificate kind (5.2.5)."""
    try:
        crl.extensions.get_extension_for_class(x509.DeltaCRLIndicator)
        return False
    except x509.ExtensionNotFound:
        pass
    try:
        scope = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint).value
    except x509.ExtensionNotFound:
        return True
    return not (
        scope.full_name
        or scope.relative_name
        or scope.only_some_reasons
        or scope.only_contains_ca_certs
        or scope.only_contains_attribute_certs
        or scope.indirect_crl
    )


def _fresh_crl_of(
    issuer: x509.Certificate, crls: tuple[x509.CertificateRevocationList, ...], now: datetime
) -> x509.CertificateRevocationList | None:
    """The newest complete CRL signed by ``issuer`` whose ``nextUpdate`` has not passed."""
    if not _may_sign_crls(issuer):
        return None
    usable = [
        crl
        for crl in crls
        if crl.issuer == issuer.subject
        and crl.next_update_utc is not None
        and crl.last_update_utc <= now <= crl.next_update_utc
        and _is_complete_crl(crl)
        and crl.is_signature_valid(issuer.public_key())  # type: ignore[arg-type]
    ]
    return max(usable, key=lambda crl: crl.last_update_utc, default=None)


def check_revocation(
    chain: list[x509.Certificate], trust: CardTrust, now: datetime
) -> CardRefused | None:
    """Each certificate below the anchor against its issuer's CRL; the card's own issuer must
    have one (fail closed), intermediates are checked when their issuer's CRL is present."""
    if not trust.check_revocation:
        return None
    for position, (certificate, issuer) in enumerate(itertools.pairwise(chain)):
        crl = _fresh_crl_of(issuer, trust.crls, now)
        if crl is None:
            if position == 0:
                return RevocationUnknown(f"no fresh CRL of {issuer.subject.rfc4514_string()}")
            continue
        if crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None:
            return CertificateRevoked(f"serial {certificate.serial_number:x} is on the CRL")
    return None


def verify_signature(response: str, parsed: _Parsed) -> dict[str, Any] | CardRefused:
    """The JWS signature with the card's key and the pinned algorithm; the payload object."""
    try:
        decoded = jwt.PyJWS().decode_complete(
            response.strip(), key=parsed.card.public_key(), algorithms=[parsed.algorithm]
        )
    except jwt.InvalidSignatureError:
        return BadSignature("signature does not verify with the card certificate's key")
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        return MalformedResponse(f"JWS refused: {type(exc).__name__}")
    try:
        payload = json.loads(decoded["payload"])
    except ValueError:
        return MalformedResponse("payload is not JSON")
    if (
        not isinstance(payload, dict)
        or not isinstance(payload.get("challenge"), str)
        or not isinstance(payload.get("aud"), str)
        or not isinstance(payload.get("iat"), int)
        or isinstance(payload.get("iat"), bool)
    ):
        return MalformedResponse("payload lacks challenge, aud or iat")
    return payload


def holder_of(certificate: x509.Certificate, *, default_country: str) -> tuple[str, str] | None:
    """(country, document number) named by the subject's ``serialNumber``, or None."""
    values = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if len(values) != 1 or not isinstance(values[0].value, str):
        return None
    raw = values[0].value.strip().upper()
    countries = certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)
    country = str(countries[0].value).upper() if countries else default_country.upper()
    if match := _ETSI_IDENTIFIER.fullmatch(raw):
        country, raw = match.group(1), match.group(2)
    elif raw.startswith("DNI"):
        raw = raw.removeprefix("DNI")
    number = normalise_document_number(raw)
    if not _DOCUMENT_NUMBER.fullmatch(number):
        return None
    return country, number


def _check_holder(
    certificate: x509.Certificate, citizen: Citizen, *, default_country: str
) -> tuple[str, str] | CardRefused:
    holder = holder_of(certificate, default_country=default_country)
    if holder is None:
        return UnidentifiedHolder("no usable subject serialNumber")
    country, number = holder
    if (
        citizen.document_type not in CARD_DOCUMENT_TYPES
        or citizen.document_country != country
        or citizen.document_number != number
    ):
        return NotTheCitizen(f"card of {country}/{number}")
    return holder


def consume_challenge(
    db: Session,
    *,
    challenge: str,
    browser_session_id: int,
    signed_at: int,
    now: datetime,
    tolerance: timedelta = SIGNING_TIME_TOLERANCE,
) -> CardRefused | None:
    """Mark the challenge used, once: this session's, unexpired, unused, signed (``iat``)
    within ``tolerance`` of its life. The UPDATE is conditional, so of two concurrent answers
    only one succeeds."""
    if not CHALLENGE_PATTERN.fullmatch(challenge):
        return UnknownChallenge("challenge has the wrong shape")
    row = db.get(CardChallenge, challenge)
    if row is None:
        return UnknownChallenge("no such challenge")
    if row.browser_session_id != browser_session_id:
        return ChallengeOfAnotherSession(f"challenge of session {row.browser_session_id}")
    if row.used_at is not None:
        return ChallengeUsed(f"used at {row.used_at.isoformat()}")
    if row.expires_at <= now:
        return ChallengeExpired(f"expired at {row.expires_at.isoformat()}")
    earliest = int((row.created_at - tolerance).timestamp())
    if not earliest <= signed_at <= int((now + tolerance).timestamp()):
        return BadSigningTime(f"iat {signed_at} outside the challenge's life")
    claimed = db.execute(
        update(CardChallenge)
        .where(
            CardChallenge.challenge == challenge,
            CardChallenge.browser_session_id == browser_session_id,
            CardChallenge.used_at.is_(None),
            CardChallenge.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return ChallengeUsed("used by a concurrent request")
    db.expire(row)
    return None


def verify_card_response(
    db: Session,
    *,
    response: str,
    browser_session_id: int,
    citizen: Citizen,
    trust: CardTrust | None,
    issuer: str,
    default_country: str,
    now: datetime,
) -> CardOutcome:
    """Validate -> decide -> persist: every check in order; the challenge is consumed only
    when everything else holds."""
    if trust is None:
        return CardNotConfigured("no eID trust anchors")
    parsed = parse_response(response)
    if isinstance(parsed, CardRefused):
        return parsed
    if parsed.algorithm not in allowed_algorithms(parsed.card.public_key()):
        return UnsupportedAlgorithm(f"alg {parsed.algorithm!r} for this key")
    if refused := _check_validity_period(parsed.card, now):
        return refused
    chain = verify_chain(parsed, trust, now)
    if isinstance(chain, CardRefused):
        return chain
    if refused := _check_key_usage(parsed.card):
        return refused
    if refused := check_revocation(chain, trust, now):
        return refused
    payload = verify_signature(response, parsed)
    if isinstance(payload, CardRefused):
        return payload
    if payload["aud"] != issuer:
        return WrongAudience(f"aud {payload['aud']!r}")
    holder = _check_holder(parsed.card, citizen, default_country=default_country)
    if isinstance(holder, CardRefused):
        return holder
    if refused := consume_challenge(
        db,
        challenge=payload["challenge"],
        browser_session_id=browser_session_id,
        signed_at=payload["iat"],
        now=now,
    ):
        return refused
    return CardAccepted(
        certificate=parsed.card, document_country=holder[0], document_number=holder[1]
    )


# --- evidence ---------------------------------------------------------------------------------


def record_card_evidence(
    db: Session, *, citizen: Citizen, accepted: CardAccepted, now: datetime
) -> IdentityVerification | None:
    """Level 3 evidence (OIDC4IDA ``electronic_signature``, check ``vcrypt``) for a certificate
    the first time it authenticates; None when this certificate is already on record."""
    attributes: dict[str, object] = {
        "signature_type": EVIDENCE_SIGNATURE_TYPE,
        "issuer": accepted.issuer,
        "serial_number": accepted.serial_number,
        "subject": accepted.subject,
    }
    existing = db.scalars(
        select(IdentityVerification).where(
            IdentityVerification.citizen_id == citizen.id,
            IdentityVerification.method == EVIDENCE_METHOD,
        )
    ).all()
    for record in existing:
        seen = record.attributes or {}
        if seen.get("issuer") == accepted.issuer and seen.get("serial_number") == (
            accepted.serial_number
        ):
            return None
    record = IdentityVerification(
        citizen_id=citizen.id,
        level=EVIDENCE_LEVEL,
        method=EVIDENCE_METHOD,
        document_type=citizen.document_type,
        document_number=accepted.document_number,
        issuing_country=accepted.document_country,
        verifier=accepted.issuer[:200],
        verified_at=now,
        evidence_type=EVIDENCE_TYPE,
        check_method=EVIDENCE_CHECK_METHOD,
        attributes=attributes,
    )
    db.add(record)
    db.flush()
    return record
