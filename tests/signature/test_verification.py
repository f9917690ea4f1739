"""Verification reports: valid signatures in both formats and every way they can fail."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from idp.signature.ca import SigningCa
from idp.signature.cades import build_detached_cades
from idp.signature.custody import generate_citizen_key
from idp.signature.jades import build_detached_jades
from idp.signature.verification import (
    SignatureFormatError,
    VerificationReport,
    verify_signature,
)
from tests.signature.conftest import Citizen, issue

DOCUMENT = b"The parties agree as follows.\n"
CITIZEN_SUBJECT = (
    "CN=María Rodríguez,serialNumber=IDCUY-12345678,surname=Rodríguez,givenName=María,C=UY"
)
CA_SUBJECT = "CN=UY Citizen Signature CA,O=Test identity provider,C=UY"


def cades(ca: SigningCa, citizen: Citizen, signing_time: datetime) -> bytes:
    return build_detached_cades(
        digest=hashlib.sha256(DOCUMENT).digest(),
        digest_algorithm="SHA-256",
        private_key=citizen.key,
        certificate=citizen.certificate,
        chain=[ca.certificate],
        signing_time=signing_time,
    )


def jades(ca: SigningCa, citizen: Citizen, signing_time: datetime) -> bytes:
    return build_detached_jades(
        digest=hashlib.sha384(DOCUMENT).digest(),
        digest_algorithm="SHA-384",
        document_name="agreement.txt",
        private_key=citizen.key,
        certificate=citizen.certificate,
        chain=[ca.certificate],
        signing_time=signing_time,
    ).encode("ascii")


SIGNERS = {"CAdES-B": cades, "JAdES-B": jades}


def verify(signature: bytes, ca: SigningCa, now: datetime, **options: object) -> VerificationReport:
    options.setdefault("document", DOCUMENT)
    return verify_signature(
        signature=signature,
        trusted_ca=ca.certificate,
        now=now,
        **options,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize("form", SIGNERS)
def test_a_valid_signature(ca: SigningCa, citizen: Citizen, now: datetime, form: str) -> None:
    report = verify(SIGNERS[form](ca, citizen, now), ca, now)
    assert report.problems == []
    assert report.valid
    assert report.format == form
    assert report.integrity
    assert report.chain_valid
    assert report.signer_subject == CITIZEN_SUBJECT
    assert report.signer_serial_number == "IDCUY-12345678"
    assert report.certificate_serial == citizen.certificate.serial_number
    assert report.signing_time == now
    assert report.chain == [CITIZEN_SUBJECT, CA_SUBJECT]
    assert (report.revocation, report.revoked_at) == ("unknown", None)
    assert report.to_json() == {
        "valid": True,
        "format": form,
        "integrity": True,
        "signer_subject": CITIZEN_SUBJECT,
        "signer_serial_number": "IDCUY-12345678",
        "signer": {
            "given_name": "María",
            "family_name": "Rodríguez",
            "country": "UY",
            "serial_number": "IDCUY-12345678",
        },
        "certificate_serial": format(citizen.certificate.serial_number, "x"),
        "signing_time": now.isoformat(),
        "digest_algorithm": "SHA-256" if form == "CAdES-B" else "SHA-384",
        "chain": [CITIZEN_SUBJECT, CA_SUBJECT],
        "chain_valid": True,
        "revocation": "unknown",
        "revoked_at": None,
        "problems": [],
        "notes": [],
    }
    json.dumps(report.to_json())


def test_cades_in_pem_and_base64(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    der = cades(ca, citizen, now)
    encoded = base64.encodebytes(der)
    pem = b"-----BEGIN CMS-----\n" + encoded + b"-----END CMS-----\n"
    assert verify(pem, ca, now).valid
    assert verify(encoded, ca, now).valid
    assert verify(base64.b64encode(der), ca, now).valid


@pytest.mark.parametrize("form", SIGNERS)
def test_a_digest_instead_of_the_document(
    ca: SigningCa, citizen: Citizen, now: datetime, form: str
) -> None:
    signature = SIGNERS[form](ca, citizen, now)
    name, function = (
        ("SHA-256", hashlib.sha256) if form == "CAdES-B" else ("SHA-384", hashlib.sha384)
    )
    report = verify(
        signature, ca, now, document=None, digest=function(DOCUMENT).digest(), digest_algorithm=name
    )
    assert report.valid
    mismatch = verify(
        signature,
        ca,
        now,
        document=None,
        digest=hashlib.sha512(DOCUMENT).digest(),
        digest_algorithm="SHA-512",
    )
    assert not mismatch.valid
    assert mismatch.problems == [
        f"The signature covers a {name} digest; a SHA-512 digest was given."
    ]


def test_the_document_or_its_digest_is_required(
    ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    signature = cades(ca, citizen, now)
    with pytest.raises(ValueError, match="either the document or its digest"):
        verify(signature, ca, now, document=None)
    with pytest.raises(ValueError, match="needs its algorithm"):
        verify(signature, ca, now, document=None, digest=b"\x00" * 32)


@pytest.mark.parametrize("form", SIGNERS)
def test_a_tampered_document(ca: SigningCa, citizen: Citizen, now: datetime, form: str) -> None:
    changed = bytearray(DOCUMENT)
    changed[0] ^= 0x20
    report = verify(SIGNERS[form](ca, citizen, now), ca, now, document=bytes(changed))
    assert not report.valid
    assert not report.integrity
    assert report.chain_valid
    assert report.problems == [
        "The document does not match the signature: its digest differs from the signed digest."
    ]


def test_a_tampered_cades_signature_value(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    signature = bytearray(cades(ca, citizen, now))
    signature[-1] ^= 0x01  # the last byte of the ECDSA signature value
    report = verify(bytes(signature), ca, now)
    assert not report.valid
    assert not report.integrity
    assert report.problems == ["The signature value is not valid for the signed attributes."]


def _reheader(token: bytes, change: dict[str, object]) -> bytes:
    header_part, payload, signature = token.decode().split(".")
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    header.update(change)
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    return f"{encoded}.{payload}.{signature}".encode()


def test_a_tampered_jades_header(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    other = hashlib.sha384(b"another document").digest()
    token = jades(ca, citizen, now)
    sig_d = {
        "mId": "http://uri.etsi.org/19182/ObjectIdByURIHash",
        "pars": ["agreement.txt"],
        "hashM": "S384",
        "hashV": [base64.urlsafe_b64encode(other).rstrip(b"=").decode()],
    }
    report = verify(_reheader(token, {"sigD": sig_d}), ca, now, document=b"another document")
    assert not report.valid
    assert not report.integrity
    assert report.problems == ["The signature value is not valid for the signed header."]


def test_a_jades_with_an_unknown_critical_parameter(
    ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    token = _reheader(jades(ca, citizen, now), {"crit": ["sigT", "sigD", "foo"], "foo": 1})
    report = verify(token, ca, now)
    assert not report.valid
    assert report.problems[0] == "The JWS marks foo as critical, which is not understood here."


@pytest.mark.parametrize("form", SIGNERS)
def test_another_ca(
    ca: SigningCa, citizen: Citizen, now: datetime, form: str, tmp_path: Path
) -> None:
    other = SigningCa.create(
        tmp_path / "other",
        b"test passphrase",
        country="UY",
        organisation="Test identity provider",
        common_name="UY Citizen Signature CA",
        now=now,
    )
    report = verify(SIGNERS[form](ca, citizen, now), other, now)
    assert not report.valid
    assert report.integrity
    assert not report.chain_valid
    assert report.problems == [
        "The signer's certificate was not issued by the trusted signature CA."
    ]
    assert report.chain == [CITIZEN_SUBJECT, CA_SUBJECT]  # what the signature carries


@pytest.mark.parametrize("form", SIGNERS)
def test_revoked_at_or_before_the_signing_time(
    ca: SigningCa, citizen: Citizen, now: datetime, form: str
) -> None:
    signing_time = now - timedelta(minutes=30)
    signature = SIGNERS[form](ca, citizen, signing_time)
    revoked_at = signing_time - timedelta(minutes=1)
    serial = citizen.certificate.serial_number
    report = verify(signature, ca, now, is_revoked={serial: revoked_at}.get)
    assert not report.valid
    assert report.integrity
    assert report.chain_valid
    assert (report.revocation, report.revoked_at) == ("revoked", revoked_at)
    assert report.problems == [
        f"The signer's certificate was revoked on {revoked_at:%Y-%m-%d %H:%M:%S}Z, at or before "
        "the signing time."
    ]
    at_the_same_second = verify(signature, ca, now, is_revoked={serial: signing_time}.get)
    assert at_the_same_second.revocation == "revoked"


@pytest.mark.parametrize("form", SIGNERS)
def test_revoked_after_the_signing_time(
    ca: SigningCa, citizen: Citizen, now: datetime, form: str
) -> None:
    signing_time = now - timedelta(minutes=30)
    revoked_at = now - timedelta(minutes=10)
    serial = citizen.certificate.serial_number
    report = verify(
        SIGNERS[form](ca, citizen, signing_time), ca, now, is_revoked={serial: revoked_at}.get
    )
    assert report.valid  # made while the certificate was good
    assert (report.revocation, report.revoked_at) == ("revoked", revoked_at)
    assert report.notes == [
        f"The signer's certificate was revoked on {revoked_at:%Y-%m-%d %H:%M:%S}Z, after the "
        "signature was made: the signature stays valid, but the certificate signs nothing new."
    ]


def test_a_naive_revocation_time_is_taken_as_utc(
    ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    """SQLite gives naive datetimes back; they are UTC, not a crash."""
    signing_time = now - timedelta(minutes=30)
    naive = (signing_time - timedelta(minutes=1)).replace(tzinfo=None)
    report = verify(cades(ca, citizen, signing_time), ca, now, is_revoked=lambda serial: naive)
    assert (report.revocation, report.revoked_at) == ("revoked", naive.replace(tzinfo=UTC))


def test_not_revoked_by_the_records(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    report = verify(cades(ca, citizen, now), ca, now, is_revoked=lambda serial: None)
    assert report.valid
    assert (report.revocation, report.revoked_at) == ("good", None)


def test_revocation_from_a_crl(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    signing_time = now - timedelta(minutes=30)
    signature = cades(ca, citizen, signing_time)
    serial = citizen.certificate.serial_number

    def crl(
        entries: list[tuple[int, datetime]], *, fresh: bool = True
    ) -> x509.CertificateRevocationList:
        start = now - timedelta(hours=1) if fresh else now - timedelta(days=3)
        return ca.build_crl(entries, this_update=start, next_update=start + timedelta(days=1))

    revoked = verify(signature, ca, now, crl=crl([(serial, signing_time - timedelta(seconds=1))]))
    assert (revoked.valid, revoked.revocation) == (False, "revoked")
    later = verify(signature, ca, now, crl=crl([(serial, now - timedelta(minutes=1))]))
    assert (later.valid, later.revocation) == (True, "revoked")
    good = verify(signature, ca, now, crl=crl([(serial + 1, signing_time)]))
    assert (good.valid, good.revocation, good.notes) == (True, "good", [])
    stale = verify(signature, ca, now, crl=crl([], fresh=False))
    assert (stale.valid, stale.revocation) == (True, "unknown")
    assert stale.notes[0].startswith("The CRL is out of date")


def test_a_crl_of_another_ca_is_not_used(
    ca: SigningCa, citizen: Citizen, now: datetime, tmp_path: Path
) -> None:
    other = SigningCa.create(
        tmp_path / "other",
        b"test passphrase",
        country="UY",
        organisation="Test identity provider",
        common_name="UY Citizen Signature CA",
        now=now,
    )
    forged = other.build_crl(
        [(citizen.certificate.serial_number, now - timedelta(days=1))],
        this_update=now,
        next_update=now + timedelta(days=1),
    )
    report = verify(cades(ca, citizen, now), ca, now, crl=forged)
    assert (report.valid, report.revocation) == (True, "unknown")
    assert report.notes == [
        "The CRL given is not signed by the trusted CA; revocation was not checked."
    ]


@pytest.mark.parametrize("form", SIGNERS)
def test_a_certificate_expired_at_the_signing_time(ca: SigningCa, now: datetime, form: str) -> None:
    expired = issue(ca, not_before=now - timedelta(days=10), not_after=now - timedelta(days=1))
    report = verify(SIGNERS[form](ca, expired, now), ca, now)
    assert not report.valid
    assert report.integrity
    assert not report.chain_valid
    assert report.problems == [
        "The signer's certificate had expired at the signing time (it expired on "
        f"{now - timedelta(days=1):%Y-%m-%d %H:%M:%S}Z)."
    ]


def test_a_certificate_expired_since_the_signing_time(ca: SigningCa, now: datetime) -> None:
    expired = issue(ca, not_before=now - timedelta(days=10), not_after=now - timedelta(days=1))
    report = verify(cades(ca, expired, now - timedelta(days=5)), ca, now)
    assert report.valid
    assert report.notes == [
        f"The signer's certificate has expired since ({now - timedelta(days=1):%Y-%m-%d}); it "
        "was valid at the signing time."
    ]


def test_a_signing_time_in_the_future(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    report = verify(cades(ca, citizen, now + timedelta(hours=1)), ca, now)
    assert not report.valid
    assert report.problems == ["The signing time is in the future."]


def test_a_certificate_without_non_repudiation(
    ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    key = generate_citizen_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(citizen.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca.private_key, hashes.SHA384())
    )
    report = verify(cades(ca, Citizen(key=key, certificate=certificate), now), ca, now)
    assert not report.valid
    assert report.problems == [
        "The signer's certificate is not for electronic signatures (no nonRepudiation key usage)."
    ]


@pytest.mark.parametrize(
    ("garbage", "message"),
    [
        (
            b"hello, this is not a signature",
            "The signature is neither CAdES (CMS in DER, PEM or base64) nor JAdES (JWS compact "
            "serialization).",
        ),
        (
            b"\xff\xfe\x00binary",
            "The signature is neither CAdES (CMS in DER, PEM or base64) nor JAdES (JWS compact "
            "serialization).",
        ),
        (
            b"",
            "The signature is neither CAdES (CMS in DER, PEM or base64) nor JAdES (JWS "
            "compact serialization).",
        ),
        (b"\x30\x03\x02\x01", "The signature is not a well-formed CMS SignedData structure."),
        (b"\x30\x03\x02\x01\x05", "The signature is not a well-formed CMS SignedData structure."),
        (b"abc.def.ghi", "The JWS protected header is not base64url JSON."),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "The PEM block is not a CMS signature (CMS or PKCS7).",
        ),
    ],
)
def test_input_that_is_not_a_signature(
    ca: SigningCa, now: datetime, garbage: bytes, message: str
) -> None:
    with pytest.raises(SignatureFormatError) as caught:
        verify(garbage, ca, now)
    assert str(caught.value) == message


def test_a_cms_structure_that_is_not_signed_data(ca: SigningCa, now: datetime) -> None:
    data = cms.ContentInfo({"content_type": "data", "content": b"plain"}).dump()
    with pytest.raises(SignatureFormatError, match="not SignedData"):
        verify(data, ca, now)


def test_a_jades_without_certificates(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    token = jades(ca, citizen, now)
    header_part, payload, signature = token.decode().split(".")
    header = json.loads(base64.urlsafe_b64decode(header_part + "=" * (-len(header_part) % 4)))
    del header["x5c"]
    encoded = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    report = verify(f"{encoded}.{payload}.{signature}".encode(), ca, now)
    assert not report.valid
    assert report.signer_subject == ""
    assert report.problems == ["The signature does not carry the signer's certificate (x5c)."]
    assert report.certificate_serial is None
    assert report.revocation == "unknown"


def test_the_certificate_pem_is_not_mistaken_for_a_signature(ca: SigningCa, now: datetime) -> None:
    pem = ca.certificate.public_bytes(serialization.Encoding.PEM)
    with pytest.raises(SignatureFormatError):
        verify(pem, ca, now)
