"""Verification of the provider's detached signatures: CAdES-B and JAdES-B.

``verify_signature`` reads the signature (CAdES as DER, PEM or base64; JAdES as a compact
JWS), then runs an ordered list of small checks, each adding plain-English problems:

1. integrity: the signature value over what was signed (CAdES: the signed attributes, RFC 5652
   5.4; JAdES: the protected header and the empty payload, ETSI TS 119 182-1 5.2.8.3.3), and
   the signed digest (CAdES message-digest; JAdES ``sigD`` ``hashV``) against the document's
   digest, or against a digest that the caller computed;
2. chain: the signing certificate reference (CAdES signing-certificate-v2; JAdES ``x5t#S256``)
   names the signer's certificate, which was issued by the trusted signature CA, was valid at
   the signing time (RFC 5280 path validation by ``cryptography.x509.verification`` at that
   time), and carries keyUsage nonRepudiation (contentCommitment);
3. revocation: from ``is_revoked(serial)`` (the provider's records) or from a CRL signed by the
   trusted CA. A revoked certificate is always reported (``revocation == "revoked"`` and
   ``revoked_at``), so that a verifier never mistakes it for a good one. Revoked at or before
   the signing time, the signature is invalid; revoked later, it stays valid (it was made
   while the certificate was good) and a note says so. Without either source: ``"unknown"``,
   which does not by itself make the signature invalid.

The signing time is the one the signature claims (baseline-B carries no timestamp); the
provider itself signs and states it.

Errors: input that is not a signature at all (neither CMS SignedData nor a JWS compact
serialization, or a structure that cannot be parsed as one) raises ``SignatureFormatError``;
every other defect, once the format is known, gives a report with ``valid`` False and the
reason in ``problems``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from asn1crypto import cms, tsp  # noqa: F401 - tsp registers signing-certificate-v2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)
from joserfc import jws
from joserfc.errors import BadSignatureError, JoseError
from joserfc.jwk import ECKey

from idp.signature.cades import certificate_der
from idp.signature.digests import (
    HashAlgorithm,
    by_cms_name,
    by_jades_name,
    digest_of,
    hash_algorithm,
)
from idp.signature.jades import (
    ALGORITHMS_BY_CURVE,
    CRITICAL_PARAMETERS,
    OBJECT_ID_BY_URI_HASH,
    SIGNING_TIME_FORMAT,
    JadesRegistry,
    certificate_thumbprint,
)

SignatureFormat = Literal["CAdES-B", "JAdES-B"]
Revocation = Literal["good", "revoked", "unknown"]

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a claimed signing time may be before it is refused."""

_JWS_COMPACT = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_CMS_PEM_LABELS = {"CMS", "PKCS7"}
_JWS_ALGORITHMS = set(ALGORITHMS_BY_CURVE.values())
_ECDSA_HASHES = {"sha256_ecdsa": "SHA-256", "sha384_ecdsa": "SHA-384", "sha512_ecdsa": "SHA-512"}
_NAME_LABELS = {
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.GIVEN_NAME: "givenName",
    NameOID.SURNAME: "surname",
}


class SignatureFormatError(ValueError):
    """The input is not a CAdES or JAdES signature at all; one sentence for the caller."""


@dataclass(frozen=True)
class VerificationReport:
    """The outcome of a verification; ``valid`` only when nothing in ``problems``."""

    valid: bool
    format: SignatureFormat
    integrity: bool
    signer_subject: str
    signer_serial_number: str | None
    certificate_serial: int | None
    signing_time: datetime | None
    chain: list[str]
    chain_valid: bool
    revocation: Revocation
    revoked_at: datetime | None
    problems: list[str]
    digest_algorithm: str | None = None
    notes: list[str] = field(default_factory=list)
    """Remarks that do not make the signature invalid (e.g. revoked after signing)."""
    signer: dict[str, str] = field(default_factory=dict)
    """The signer's names one by one (``given_name``, ``family_name``, ``country``,
    ``serial_number``), so that a service shows them without parsing ``signer_subject``."""

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: times in ISO 8601 (UTC), the certificate serial in hex."""
        return {
            "valid": self.valid,
            "format": self.format,
            "integrity": self.integrity,
            "signer_subject": self.signer_subject,
            "signer_serial_number": self.signer_serial_number,
            "signer": dict(self.signer),
            "certificate_serial": (
                format(self.certificate_serial, "x")
                if self.certificate_serial is not None
                else None
            ),
            "signing_time": _iso(self.signing_time),
            "digest_algorithm": self.digest_algorithm,
            "chain": list(self.chain),
            "chain_valid": self.chain_valid,
            "revocation": self.revocation,
            "revoked_at": _iso(self.revoked_at),
            "problems": list(self.problems),
            "notes": list(self.notes),
        }


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def describe_name(name: x509.Name) -> str:
    """RFC 4514 form with readable labels for the person attributes."""
    return name.rfc4514_string(_NAME_LABELS)


@dataclass
class _Signed:
    """What a signature claims, read from it, and what reading it already found wrong."""

    format: SignatureFormat
    signer: x509.Certificate | None = None
    certificates: list[x509.Certificate] = field(default_factory=list)
    hash: HashAlgorithm | None = None
    signed_digest: bytes | None = None
    signing_time: datetime | None = None
    signature_valid: bool = False
    reference_valid: bool = False
    problems: list[str] = field(default_factory=list)


# --- reading the signature ----------------------------------------------------------------


def _classify(signature: bytes) -> tuple[SignatureFormat, bytes]:
    """The format and the bytes to parse (DER for CAdES, ASCII compact JWS for JAdES)."""
    if signature[:1] == b"\x30":
        return "CAdES-B", signature
    try:
        text = signature.decode("ascii").strip()
    except UnicodeDecodeError:
        raise SignatureFormatError(
            "The signature is neither CAdES (CMS in DER, PEM or base64) nor JAdES (JWS compact "
            "serialization)."
        ) from None
    if text.startswith("-----BEGIN"):
        match = _PEM.search(text)
        if match is None or match.group(1) not in _CMS_PEM_LABELS:
            raise SignatureFormatError("The PEM block is not a CMS signature (CMS or PKCS7).")
        return "CAdES-B", _base64_der(match.group(2))
    if _JWS_COMPACT.fullmatch(text):
        return "JAdES-B", text.encode("ascii")
    der = _base64_der(text, strict=False)
    if der[:1] == b"\x30":
        return "CAdES-B", der
    raise SignatureFormatError(
        "The signature is neither CAdES (CMS in DER, PEM or base64) nor JAdES (JWS compact "
        "serialization)."
    )


def _base64_der(text: str, *, strict: bool = True) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        if not strict:
            return b""
        raise SignatureFormatError("The PEM block is not valid base64.") from None


def _read_cades(der: bytes) -> _Signed:
    try:
        return _read_signed_data(der)
    except SignatureFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError):
        raise SignatureFormatError(
            "The signature is not a well-formed CMS SignedData structure."
        ) from None


def _read_signed_data(der: bytes) -> _Signed:
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].native != "signed_data":
        raise SignatureFormatError("The CMS structure is not SignedData.")
    signed_data = info["content"]
    signed = _Signed(format="CAdES-B")
    signed.certificates = [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in signed_data["certificates"]
        if choice.name == "certificate"
    ]
    signer_infos = list(signed_data["signer_infos"])
    if not signer_infos:
        raise SignatureFormatError("The CMS SignedData has no signer.")
    if len(signer_infos) > 1:
        signed.problems.append(
            f"The signature has {len(signer_infos)} signers; exactly one is supported."
        )
    signer_info = signer_infos[0]
    signed.signer = _find_signer(signer_info["sid"], signed.certificates)
    if signed.signer is None:
        signed.problems.append("The signature does not carry the signer's certificate.")

    digest_name = signer_info["digest_algorithm"]["algorithm"].native
    signed.hash = by_cms_name(digest_name)
    if signed.hash is None:
        signed.problems.append(
            f"The digest algorithm {digest_name} is not accepted (SHA-256, SHA-384 or SHA-512)."
        )
    if signer_info["signed_attrs"].native is None:
        signed.problems.append("The signature has no signed attributes (CAdES requires them).")
        return signed
    attributes = _attributes(signer_info["signed_attrs"], signed.problems)
    if attributes.get("content_type") != ["data"]:
        signed.problems.append("The signed content type is not id-data.")
    digests = attributes.get("message_digest") or []
    signed.signed_digest = digests[0] if len(digests) == 1 else None
    if signed.signed_digest is None:
        signed.problems.append("The signature has no single message-digest attribute.")
    times = attributes.get("signing_time") or []
    signed.signing_time = times[0] if len(times) == 1 else None
    signed.reference_valid = _check_signing_certificate_v2(
        attributes.get("signing_certificate_v2"), signed.signer, signed.problems
    )
    # RFC 5652 5.4: the signature is over the DER of the attributes with the SET OF tag.
    signed_bytes = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    signed.signature_valid = _check_cms_signature(
        signer_info, signed_bytes, signed.signer, signed.hash, signed.problems
    )
    return signed


def _find_signer(
    sid: cms.SignerIdentifier, certificates: list[x509.Certificate]
) -> x509.Certificate | None:
    if sid.name == "issuer_and_serial_number":
        issuer = sid.chosen["issuer"].dump()
        serial = sid.chosen["serial_number"].native
        for certificate in certificates:
            if certificate.serial_number == serial and certificate.issuer.public_bytes() == issuer:
                return certificate
        return None
    identifier = sid.chosen.native
    for certificate in certificates:
        try:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
        except x509.ExtensionNotFound:
            continue
        if ski.value.digest == identifier:
            return certificate
    return None


def _attributes(signed_attrs: cms.CMSAttributes, problems: list[str]) -> dict[str, list[Any]]:
    attributes: dict[str, list[Any]] = {}
    for attribute in signed_attrs:
        name = attribute["type"].native
        if name in attributes:
            problems.append(f"The signed attribute {name} appears more than once.")
        attributes[name] = list(attribute["values"].native)
    return attributes


def _check_signing_certificate_v2(
    values: list[Any] | None, signer: x509.Certificate | None, problems: list[str]
) -> bool:
    if not values:
        problems.append("The signature has no signing-certificate-v2 attribute.")
        return False
    certs = values[0]["certs"]
    if not certs:
        problems.append("The signing-certificate-v2 attribute names no certificate.")
        return False
    reference = certs[0]
    algorithm = by_cms_name(reference["hash_algorithm"]["algorithm"])
    if algorithm is None or signer is None:
        problems.append("The signing-certificate-v2 attribute cannot be checked.")
        return False
    if not hmac.compare_digest(
        digest_of(certificate_der(signer), algorithm.name), reference["cert_hash"]
    ):
        problems.append("The signing-certificate-v2 attribute names another certificate.")
        return False
    return True


def _check_cms_signature(
    signer_info: cms.SignerInfo,
    signed_bytes: bytes,
    signer: x509.Certificate | None,
    digest: HashAlgorithm | None,
    problems: list[str],
) -> bool:
    if signer is None:
        return False
    name = signer_info["signature_algorithm"]["algorithm"].native
    if name == "ecdsa" and digest is not None:
        hash_name = digest.name
    elif name in _ECDSA_HASHES:
        hash_name = _ECDSA_HASHES[name]
    else:
        problems.append(f"The signature algorithm {name} is not supported (ECDSA only).")
        return False
    public_key = signer.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        problems.append("The signer's key is not an elliptic-curve key.")
        return False
    try:
        public_key.verify(
            signer_info["signature"].native,
            signed_bytes,
            ec.ECDSA(hash_algorithm(hash_name).hash_class()),
        )
    except InvalidSignature:
        problems.append("The signature value is not valid for the signed attributes.")
        return False
    return True


def _read_jades(text: str) -> _Signed:
    header_part, payload_part, _signature_part = text.split(".")
    try:
        header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    except (ValueError, binascii.Error):
        raise SignatureFormatError("The JWS protected header is not base64url JSON.") from None
    if not isinstance(header, dict):
        raise SignatureFormatError("The JWS protected header is not a JSON object.")
    signed = _Signed(format="JAdES-B")
    problems = signed.problems
    if payload_part:
        problems.append(
            "The JWS carries a payload; with sigD ObjectIdByURIHash the payload is empty."
        )
    signed.certificates = _x5c(header.get("x5c"), problems)
    signed.signer = signed.certificates[0] if signed.certificates else None
    _check_critical(header.get("crit"), problems)
    signed.signing_time = _signing_time(header.get("sigT"), problems)
    signed.hash, signed.signed_digest = _sig_d(header.get("sigD"), problems)
    signed.reference_valid = _check_thumbprint(header.get("x5t#S256"), signed.signer, problems)
    signed.signature_valid = _check_jws_signature(text, header.get("alg"), signed.signer, problems)
    return signed


def _x5c(value: Any, problems: list[str]) -> list[x509.Certificate]:
    if not isinstance(value, list) or not value:
        problems.append("The signature does not carry the signer's certificate (x5c).")
        return []
    try:
        return [
            x509.load_der_x509_certificate(base64.b64decode(item, validate=True)) for item in value
        ]
    except (TypeError, ValueError, binascii.Error):
        problems.append("The x5c header does not hold base64 DER certificates.")
        return []


def _check_critical(value: Any, problems: list[str]) -> None:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        problems.append("The JWS has no crit header listing sigT and sigD.")
        return
    for name in CRITICAL_PARAMETERS:
        if name not in value:
            problems.append(f"The JWS crit header does not list {name}.")
    for name in value:
        if name not in CRITICAL_PARAMETERS:
            problems.append(f"The JWS marks {name} as critical, which is not understood here.")


def _signing_time(value: Any, problems: list[str]) -> datetime | None:
    if not isinstance(value, str):
        problems.append("The signature has no signing time (sigT).")
        return None
    try:
        return datetime.strptime(value, SIGNING_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        problems.append("The signing time (sigT) is not in the form YYYY-MM-DDThh:mm:ssZ.")
        return None


def _sig_d(value: Any, problems: list[str]) -> tuple[HashAlgorithm | None, bytes | None]:
    if not isinstance(value, dict):
        problems.append("The signature has no sigD header naming the signed document.")
        return None, None
    if value.get("mId") != OBJECT_ID_BY_URI_HASH:
        problems.append(f"The sigD mechanism is not {OBJECT_ID_BY_URI_HASH}.")
        return None, None
    algorithm = by_jades_name(value.get("hashM")) if isinstance(value.get("hashM"), str) else None
    if algorithm is None:
        problems.append("The sigD hash algorithm (hashM) is not S256, S384 or S512.")
        return None, None
    pars, hashes_v = value.get("pars"), value.get("hashV")
    if not isinstance(pars, list) or not isinstance(hashes_v, list) or len(pars) != len(hashes_v):
        problems.append("The sigD pars and hashV do not correspond.")
        return algorithm, None
    if len(hashes_v) != 1 or not isinstance(hashes_v[0], str):
        problems.append(f"The signature covers {len(hashes_v)} documents; one is supported.")
        return algorithm, None
    encoded = hashes_v[0]
    try:
        digest = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (ValueError, binascii.Error):
        problems.append("The sigD hashV value is not base64url.")
        return algorithm, None
    if len(digest) != algorithm.length:
        problems.append(f"The sigD hashV value is not a {algorithm.name} digest.")
        return algorithm, None
    return algorithm, digest


def _check_thumbprint(value: Any, signer: x509.Certificate | None, problems: list[str]) -> bool:
    if not isinstance(value, str):
        problems.append("The signature has no x5t#S256 signing certificate reference.")
        return False
    if signer is None:
        return False
    if not hmac.compare_digest(value, certificate_thumbprint(signer)):
        problems.append("The x5t#S256 header names another certificate than the signer's.")
        return False
    return True


def _check_jws_signature(
    text: str, alg: Any, signer: x509.Certificate | None, problems: list[str]
) -> bool:
    if alg not in _JWS_ALGORITHMS:
        problems.append(f"The JWS algorithm {alg!r} is not accepted (ES256, ES384 or ES512).")
        return False
    if signer is None:
        return False
    public_key = signer.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        problems.append("The signer's key is not an elliptic-curve key.")
        return False
    if ALGORITHMS_BY_CURVE.get(public_key.curve.name) != alg:
        problems.append(f"The JWS algorithm {alg} does not fit the signer's key.")
        return False
    try:
        jws.deserialize_compact(
            text,
            ECKey.import_key(public_key),
            algorithms=[alg],
            registry=JadesRegistry([alg], strict=False),
        )
    except BadSignatureError:
        problems.append("The signature value is not valid for the signed header.")
        return False
    except JoseError as exc:
        problems.append(f"The JWS cannot be verified ({exc.error}: {exc.description}).")
        return False
    return True


def _read_signature(signature: bytes) -> _Signed:
    signature_format, data = _classify(signature)
    if signature_format == "CAdES-B":
        return _read_cades(data)
    return _read_jades(data.decode("ascii"))


# --- the checks ----------------------------------------------------------------------------


def _check_document(
    signed: _Signed,
    *,
    document: bytes | None,
    digest: bytes | None,
    digest_algorithm: str | None,
    problems: list[str],
) -> bool:
    if signed.hash is None or signed.signed_digest is None:
        return False
    if document is not None:
        actual = digest_of(document, signed.hash.name)
    else:
        given = hash_algorithm(digest_algorithm or "")
        if given.name != signed.hash.name:
            problems.append(
                f"The signature covers a {signed.hash.name} digest; a {given.name} digest was "
                "given."
            )
            return False
        actual = digest or b""
    if not hmac.compare_digest(actual, signed.signed_digest):
        problems.append(
            "The document does not match the signature: its digest differs from the signed digest."
        )
        return False
    return True


def _any_extension(_policy: Any, _certificate: Any, _extension: Any) -> None:
    return None


def _path_validates(
    signer: x509.Certificate,
    intermediates: list[x509.Certificate],
    trusted_ca: x509.Certificate,
    at: datetime,
) -> str | None:
    """RFC 5280 path validation at ``at``; None when it holds, else the reason."""
    signer_policy = ExtensionPolicy.permit_all().require_present(
        x509.KeyUsage, Criticality.AGNOSTIC, _any_extension
    )
    builder = (
        PolicyBuilder()
        .store(Store([trusted_ca]))
        .time(at)
        .max_chain_depth(2)
        .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=signer_policy)
    )
    try:
        builder.build_client_verifier().verify(signer, intermediates)
    except VerificationError as exc:
        return str(exc)
    return None


def _check_chain(
    signed: _Signed,
    *,
    trusted_ca: x509.Certificate,
    at: datetime,
    now: datetime,
    problems: list[str],
    notes: list[str],
) -> bool:
    signer = signed.signer
    if signer is None:
        return False
    valid = signed.reference_valid
    if signer.issuer != trusted_ca.subject or not _directly_issued(signer, trusted_ca):
        problems.append("The signer's certificate was not issued by the trusted signature CA.")
        return False
    if at < signer.not_valid_before_utc:
        problems.append("The signer's certificate was not yet valid at the signing time.")
        valid = False
    elif at > signer.not_valid_after_utc:
        problems.append(
            "The signer's certificate had expired at the signing time (it expired on "
            f"{signer.not_valid_after_utc:%Y-%m-%d %H:%M:%S}Z)."
        )
        valid = False
    elif now > signer.not_valid_after_utc:
        notes.append(
            f"The signer's certificate has expired since ({signer.not_valid_after_utc:%Y-%m-%d}); "
            "it was valid at the signing time."
        )
    if not _has_non_repudiation(signer):
        problems.append(
            "The signer's certificate is not for electronic signatures (no nonRepudiation key "
            "usage)."
        )
        valid = False
    if valid:
        intermediates = [c for c in signed.certificates if c not in (signer, trusted_ca)]
        reason = _path_validates(signer, intermediates, trusted_ca, at)
        if reason is not None:
            problems.append(
                f"The signer's certificate does not validate to the trusted CA ({reason})."
            )
            valid = False
    return valid


def _directly_issued(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _has_non_repudiation(certificate: x509.Certificate) -> bool:
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return usage.content_commitment


def _revocation_time(
    serial: int,
    *,
    is_revoked: Callable[[int], datetime | None] | None,
    crl: x509.CertificateRevocationList | None,
    trusted_ca: x509.Certificate,
    now: datetime,
    notes: list[str],
) -> tuple[Revocation, datetime | None]:
    """Whether the certificate is on record as revoked, and since when (before any timing)."""
    if is_revoked is not None:
        revoked_at = is_revoked(serial)
        if revoked_at is not None and revoked_at.tzinfo is None:
            revoked_at = revoked_at.replace(tzinfo=UTC)  # a naive time from storage is UTC
        if revoked_at is not None or crl is None:
            return ("revoked" if revoked_at else "good"), revoked_at
    if crl is None:
        return "unknown", None
    if crl.issuer != trusted_ca.subject or not crl.is_signature_valid(trusted_ca.public_key()):  # type: ignore[arg-type]
        notes.append("The CRL given is not signed by the trusted CA; revocation was not checked.")
        return "unknown", None
    entry = crl.get_revoked_certificate_by_serial_number(serial)
    if entry is not None:
        return "revoked", entry.revocation_date_utc
    next_update = crl.next_update_utc
    if next_update is not None and next_update < now:
        notes.append(
            f"The CRL is out of date (next update was {next_update:%Y-%m-%d %H:%M:%S}Z); "
            "revocation is unknown."
        )
        return "unknown", None
    return "good", None


def _check_revocation(
    signed: _Signed,
    *,
    trusted_ca: x509.Certificate,
    is_revoked: Callable[[int], datetime | None] | None,
    crl: x509.CertificateRevocationList | None,
    at: datetime,
    now: datetime,
    problems: list[str],
    notes: list[str],
) -> tuple[Revocation, datetime | None]:
    if signed.signer is None:
        return "unknown", None
    status, revoked_at = _revocation_time(
        signed.signer.serial_number,
        is_revoked=is_revoked,
        crl=crl,
        trusted_ca=trusted_ca,
        now=now,
        notes=notes,
    )
    if status != "revoked" or revoked_at is None:
        return status, revoked_at
    if revoked_at <= at:
        problems.append(
            f"The signer's certificate was revoked on {revoked_at:%Y-%m-%d %H:%M:%S}Z, at or "
            "before the signing time."
        )
        return "revoked", revoked_at
    notes.append(
        f"The signer's certificate was revoked on {revoked_at:%Y-%m-%d %H:%M:%S}Z, after the "
        "signature was made: the signature stays valid, but the certificate signs nothing new."
    )
    return "revoked", revoked_at


def verify_signature(
    *,
    signature: bytes,
    document: bytes | None = None,
    digest: bytes | None = None,
    digest_algorithm: str | None = None,
    trusted_ca: x509.Certificate,
    is_revoked: Callable[[int], datetime | None] | None = None,
    crl: x509.CertificateRevocationList | None = None,
    now: datetime,
) -> VerificationReport:
    """Verify a detached signature of ``document`` (or of ``digest`` under
    ``digest_algorithm``) against the trusted signature CA. See the module docstring.

    Raises ``SignatureFormatError`` for input that is not a signature, ``DigestError`` for a
    ``digest_algorithm`` that is not accepted, and ``ValueError`` when neither or both of the
    document and the digest are given.
    """
    if (document is None) == (digest is None):
        raise ValueError("Give either the document or its digest, not both.")
    if digest is not None and digest_algorithm is None:
        raise ValueError("A digest needs its algorithm.")
    signed = _read_signature(signature)
    problems = list(signed.problems)
    notes: list[str] = []
    if signed.signing_time is None and signed.format == "CAdES-B":
        problems.append("The signature has no signing time.")
    elif signed.signing_time is not None and signed.signing_time > now + CLOCK_SKEW:
        problems.append("The signing time is in the future.")
    at = signed.signing_time or now

    integrity = signed.signature_valid and _check_document(
        signed,
        document=document,
        digest=digest,
        digest_algorithm=digest_algorithm,
        problems=problems,
    )
    chain_valid = _check_chain(
        signed, trusted_ca=trusted_ca, at=at, now=now, problems=problems, notes=notes
    )
    revocation, revoked_at = _check_revocation(
        signed,
        trusted_ca=trusted_ca,
        is_revoked=is_revoked,
        crl=crl,
        at=at,
        now=now,
        problems=problems,
        notes=notes,
    )
    signer = signed.signer
    return VerificationReport(
        valid=integrity and chain_valid and not problems,
        format=signed.format,
        integrity=integrity,
        signer_subject=describe_name(signer.subject) if signer is not None else "",
        signer_serial_number=_serial_number_attribute(signer),
        certificate_serial=signer.serial_number if signer is not None else None,
        signing_time=signed.signing_time,
        chain=_chain_subjects(signed, trusted_ca if chain_valid else None),
        chain_valid=chain_valid,
        revocation=revocation,
        revoked_at=revoked_at,
        problems=problems,
        digest_algorithm=signed.hash.name if signed.hash is not None else None,
        notes=notes,
        signer=_signer_names(signer),
    )


def _chain_subjects(signed: _Signed, trusted_ca: x509.Certificate | None) -> list[str]:
    """The validated chain (signer, trusted CA), else the certificates the signature carries."""
    if signed.signer is None:
        return []
    rest = [trusted_ca] if trusted_ca is not None else signed.certificates
    return [
        describe_name(c.subject) for c in [signed.signer, *(c for c in rest if c != signed.signer)]
    ]


_SIGNER_NAME_FIELDS = {
    "given_name": NameOID.GIVEN_NAME,
    "family_name": NameOID.SURNAME,
    "country": NameOID.COUNTRY_NAME,
    "serial_number": NameOID.SERIAL_NUMBER,
}


def _signer_names(certificate: x509.Certificate | None) -> dict[str, str]:
    if certificate is None:
        return {}
    names: dict[str, str] = {}
    for label, oid in _SIGNER_NAME_FIELDS.items():
        values = certificate.subject.get_attributes_for_oid(oid)
        if values:
            names[label] = str(values[0].value)
    return names


def _serial_number_attribute(certificate: x509.Certificate | None) -> str | None:
    if certificate is None:
        return None
    values = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(values[0].value) if values else None


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 fingerprint in the usual colon-separated form."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()
