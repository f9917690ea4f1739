"""The signature CA on disk, the citizen certificate profile and the CRL."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, NameOID

from idp.signature.ca import CA_CERT_FILE, CA_KEY_FILE, SignatureCaError, SigningCa
from tests.signature.conftest import CRL_URL, PASSPHRASE, Citizen, issue


def _create(keys_dir: Path, now: datetime) -> SigningCa:
    return SigningCa.create(
        keys_dir, PASSPHRASE, country="UY", organisation="Org", common_name="CA", now=now
    )


def test_create_writes_the_certificate_and_the_encrypted_key(
    ca: SigningCa, keys_dir: Path, now: datetime
) -> None:
    assert sorted(path.name for path in keys_dir.iterdir()) == [CA_KEY_FILE, CA_CERT_FILE]
    assert SigningCa.exists(keys_dir)
    key_file = keys_dir / CA_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert x509.load_pem_x509_certificate((keys_dir / CA_CERT_FILE).read_bytes()) == ca.certificate

    certificate = ca.certificate
    assert isinstance(ca.private_key.curve, ec.SECP384R1)
    assert certificate.subject == certificate.issuer
    assert (
        certificate.subject.rfc4514_string()
        == "CN=UY Citizen Signature CA,O=Test identity provider,C=UY"
    )
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert (constraints.value.ca, constraints.value.path_length) == (True, 0)
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert (usage.value.key_cert_sign, usage.value.crl_sign, usage.value.digital_signature) == (
        True,
        True,
        False,
    )
    certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    certificate.verify_directly_issued_by(certificate)
    assert certificate.not_valid_before_utc <= now < certificate.not_valid_after_utc


def test_load_gives_back_the_same_ca(ca: SigningCa, keys_dir: Path) -> None:
    loaded = SigningCa.load(keys_dir, PASSPHRASE)
    assert loaded.certificate == ca.certificate
    assert loaded.private_key.private_numbers() == ca.private_key.private_numbers()
    assert SigningCa.load_certificate(keys_dir) == ca.certificate


def test_create_refuses_when_a_ca_exists(ca: SigningCa, keys_dir: Path, now: datetime) -> None:
    before = {path.name: path.read_bytes() for path in keys_dir.iterdir()}
    with pytest.raises(SignatureCaError) as caught:
        _create(keys_dir, now)
    assert str(caught.value) == (
        f"A signature CA already exists in {keys_dir}; refusing to replace it."
    )
    assert {path.name: path.read_bytes() for path in keys_dir.iterdir()} == before


def test_create_refuses_when_only_the_key_is_left(
    ca: SigningCa, keys_dir: Path, now: datetime
) -> None:
    (keys_dir / CA_CERT_FILE).unlink()
    assert SigningCa.exists(keys_dir)
    with pytest.raises(SignatureCaError, match="already exists"):
        _create(keys_dir, now)


def test_load_refuses_a_missing_ca(tmp_path: Path) -> None:
    assert not SigningCa.exists(tmp_path)
    with pytest.raises(SignatureCaError) as caught:
        SigningCa.load(tmp_path, PASSPHRASE)
    assert str(caught.value) == f"There is no signature CA in {tmp_path}; run `idp ca init` first."


def test_load_refuses_a_missing_key(ca: SigningCa, keys_dir: Path) -> None:
    (keys_dir / CA_KEY_FILE).unlink()
    with pytest.raises(SignatureCaError) as caught:
        SigningCa.load(keys_dir, PASSPHRASE)
    assert str(caught.value) == f"The key file {keys_dir / CA_KEY_FILE} is missing."


def test_load_refuses_a_wrong_passphrase(ca: SigningCa, keys_dir: Path) -> None:
    with pytest.raises(SignatureCaError) as caught:
        SigningCa.load(keys_dir, b"wrong passphrase")
    assert str(caught.value) == (
        f"The key file {keys_dir / CA_KEY_FILE} cannot be decrypted: the passphrase is wrong or "
        "the file is corrupted."
    )


def test_load_refuses_a_key_of_another_certificate(
    ca: SigningCa, keys_dir: Path, tmp_path: Path, now: datetime
) -> None:
    other = _create(tmp_path / "other", now)
    (keys_dir / CA_CERT_FILE).write_bytes(
        other.certificate.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(SignatureCaError) as caught:
        SigningCa.load(keys_dir, PASSPHRASE)
    assert str(caught.value) == (
        f"The signature CA key in {keys_dir} does not belong to its certificate."
    )


def test_the_citizen_certificate_profile(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    certificate = citizen.certificate
    subject = certificate.subject
    assert [(attribute.oid, attribute.value) for attribute in subject] == [
        (NameOID.COUNTRY_NAME, "UY"),
        (NameOID.GIVEN_NAME, "María"),
        (NameOID.SURNAME, "Rodríguez"),
        (NameOID.SERIAL_NUMBER, "IDCUY-12345678"),
        (NameOID.COMMON_NAME, "María Rodríguez"),
    ]
    assert certificate.issuer == ca.certificate.subject
    certificate.verify_directly_issued_by(ca.certificate)
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA384)
    assert certificate.public_key() == citizen.key.public_key()
    assert certificate.not_valid_before_utc == now - timedelta(hours=1)

    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert usage.value.content_commitment
    assert not usage.value.key_cert_sign
    assert not usage.value.crl_sign
    assert not usage.value.key_agreement
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.value.ca is False
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert [name.value for name in points[0].full_name or []] == [CRL_URL]
    authority = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    ca_identifier = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert authority.value.key_identifier == ca_identifier.value.digest
    certificate.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_KEY_IDENTIFIER)
    assert certificate.serial_number.bit_length() > 64


def test_serials_are_random(ca: SigningCa, now: datetime) -> None:
    serials = {
        issue(ca, not_before=now, not_after=now + timedelta(days=1)).certificate.serial_number
        for _ in range(3)
    }
    assert len(serials) == 3


def test_a_certificate_cannot_outlive_the_ca(ca: SigningCa, now: datetime) -> None:
    with pytest.raises(SignatureCaError, match="cannot outlive the signature CA"):
        issue(ca, not_before=now, not_after=ca.certificate.not_valid_after_utc + timedelta(days=1))
    with pytest.raises(SignatureCaError, match="must end after it starts"):
        issue(ca, not_before=now, not_after=now)


def test_the_crl(ca: SigningCa, now: datetime) -> None:
    revoked_at = now - timedelta(minutes=10)
    crl = ca.build_crl(
        [(42, revoked_at), (7, revoked_at, x509.ReasonFlags.key_compromise)],
        this_update=now,
        next_update=now + timedelta(days=1),
        crl_url=CRL_URL,
    )
    assert crl.issuer == ca.certificate.subject
    assert crl.is_signature_valid(ca.certificate.public_key())  # type: ignore[arg-type]
    assert crl.last_update_utc == now
    assert crl.next_update_utc == now + timedelta(days=1)
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == int(
        now.timestamp()
    )
    point = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert point.critical
    assert [name.value for name in point.value.full_name or []] == [CRL_URL]
    entry = crl.get_revoked_certificate_by_serial_number(42)
    assert entry is not None
    assert entry.revocation_date_utc == revoked_at
    compromised = crl.get_revoked_certificate_by_serial_number(7)
    assert compromised is not None
    reason = compromised.extensions.get_extension_for_class(x509.CRLReason).value.reason
    assert reason == x509.ReasonFlags.key_compromise
    assert crl.get_revoked_certificate_by_serial_number(43) is None

    later = ca.build_crl(
        [], this_update=now + timedelta(hours=1), next_update=now + timedelta(days=2)
    )
    assert later.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > int(
        now.timestamp()
    )
    assert len(later) == 0
