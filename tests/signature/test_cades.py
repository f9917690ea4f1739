"""Detached CAdES-B signatures, checked by OpenSSL's own CMS verifier.

``openssl cms -verify`` checks the signature over the signed attributes, the message digest
against the document, the ESS signing-certificate-v2 reference, and the chain to ``-CAfile``
for its default purpose (S/MIME signing). A citizen certificate has no extended key usage and
carries digitalSignature + nonRepudiation, which that purpose accepts: no ``-purpose`` flag
is needed (``-purpose any`` also works).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography.hazmat.primitives import serialization

from idp.signature.ca import SigningCa
from idp.signature.cades import build_detached_cades
from idp.signature.digests import DigestError
from idp.signature.verification import verify_signature
from tests.signature.conftest import Citizen

OPENSSL = shutil.which("openssl")


@pytest.fixture(autouse=True)
def _openssl_installed() -> None:
    """Debian's openssl is the independent verifier here (CI installs it): never skipped."""
    assert OPENSSL is not None, "the openssl command is needed (apt-get install openssl)"


DOCUMENT = b"%PDF-1.7\nA contract between two parties.\n"
HASHES = {"SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}


def _sign(ca: SigningCa, citizen: Citizen, now: datetime, algorithm: str = "SHA-256") -> bytes:
    return build_detached_cades(
        digest=HASHES[algorithm](DOCUMENT).digest(),
        digest_algorithm=algorithm,
        private_key=citizen.key,
        certificate=citizen.certificate,
        chain=[ca.certificate],
        signing_time=now,
    )


def openssl_verify(
    tmp_path: Path, signature: bytes, document: bytes, ca: SigningCa, *purpose: str
) -> subprocess.CompletedProcess[str]:
    (tmp_path / "signature.der").write_bytes(signature)
    (tmp_path / "document").write_bytes(document)
    (tmp_path / "ca.pem").write_bytes(ca.certificate.public_bytes(serialization.Encoding.PEM))
    return subprocess.run(
        [
            str(OPENSSL),
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "signature.der"),
            "-content",
            str(tmp_path / "document"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            *purpose,
            "-out",
            str(tmp_path / "verified"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.parametrize("algorithm", ["SHA-256", "SHA-384", "SHA-512"])
def test_openssl_verifies_the_signature_of_the_document(
    tmp_path: Path, ca: SigningCa, citizen: Citizen, now: datetime, algorithm: str
) -> None:
    signature = _sign(ca, citizen, now, algorithm)
    result = openssl_verify(tmp_path, signature, DOCUMENT, ca)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    assert openssl_verify(tmp_path, signature, DOCUMENT, ca, "-purpose", "any").returncode == 0


def test_openssl_refuses_a_document_with_one_byte_changed(
    tmp_path: Path, ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    signature = _sign(ca, citizen, now)
    changed = bytearray(DOCUMENT)
    changed[10] ^= 0x01
    result = openssl_verify(tmp_path, signature, bytes(changed), ca)
    assert result.returncode != 0
    assert "Verification failure" in result.stderr


def test_openssl_refuses_another_ca(
    tmp_path: Path, ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    other = SigningCa.create(
        tmp_path / "other",
        b"other passphrase",
        country="UY",
        organisation="Test identity provider",
        common_name="UY Citizen Signature CA",
        now=now,
    )
    signature = _sign(ca, citizen, now)
    result = openssl_verify(tmp_path, signature, DOCUMENT, other)
    assert result.returncode != 0


def test_the_structure(ca: SigningCa, citizen: Citizen, now: datetime) -> None:
    signature = _sign(ca, citizen, now, "SHA-384")
    info = cms.ContentInfo.load(signature)
    assert info["content_type"].native == "signed_data"
    signed_data = info["content"]
    assert signed_data["encap_content_info"]["content_type"].native == "data"
    assert signed_data["encap_content_info"]["content"].native is None  # detached
    # CertificateSet is a SET OF (RFC 5652 10.2.3): DER orders it by encoding.
    assert sorted(c.chosen.dump() for c in signed_data["certificates"]) == sorted(
        [
            citizen.certificate.public_bytes(serialization.Encoding.DER),
            ca.certificate.public_bytes(serialization.Encoding.DER),
        ]
    )
    (signer_info,) = signed_data["signer_infos"]
    assert signer_info["digest_algorithm"]["algorithm"].native == "sha384"
    assert signer_info["signature_algorithm"]["algorithm"].native == "sha384_ecdsa"
    attributes = {a["type"].native: a["values"].native for a in signer_info["signed_attrs"]}
    assert set(attributes) == {
        "content_type",
        "message_digest",
        "signing_time",
        "signing_certificate_v2",
    }
    assert attributes["content_type"] == ["data"]
    assert attributes["message_digest"] == [hashlib.sha384(DOCUMENT).digest()]
    assert attributes["signing_time"] == [now.astimezone(UTC)]
    (reference,) = attributes["signing_certificate_v2"][0]["certs"]
    certificate_der = citizen.certificate.public_bytes(serialization.Encoding.DER)
    assert reference["cert_hash"] == hashlib.sha256(certificate_der).digest()
    assert reference["hash_algorithm"]["algorithm"] == "sha256"  # the DER default


def test_a_digest_of_the_wrong_length_or_a_foreign_key_is_refused(
    ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    with pytest.raises(DigestError, match=r"A SHA-256 digest is 32 bytes; this one is 48 bytes\."):
        build_detached_cades(
            digest=hashlib.sha384(DOCUMENT).digest(),
            digest_algorithm="SHA-256",
            private_key=citizen.key,
            certificate=citizen.certificate,
            chain=[],
            signing_time=now,
        )
    with pytest.raises(DigestError, match="MD5 is broken"):
        build_detached_cades(
            digest=hashlib.md5(DOCUMENT).digest(),  # noqa: S324 - the point of the test
            digest_algorithm="MD5",
            private_key=citizen.key,
            certificate=citizen.certificate,
            chain=[],
            signing_time=now,
        )
    with pytest.raises(ValueError, match="does not belong to the signer's certificate"):
        build_detached_cades(
            digest=hashlib.sha256(DOCUMENT).digest(),
            digest_algorithm="SHA-256",
            private_key=ca.private_key,
            certificate=citizen.certificate,
            chain=[],
            signing_time=now,
        )


def test_a_signature_made_by_openssl_verifies_here(
    tmp_path: Path, ca: SigningCa, citizen: Citizen, now: datetime
) -> None:
    """The other direction: OpenSSL signs (``-cades`` adds signing-certificate-v2) and
    ``verify_signature`` accepts it, and refuses it for a changed document."""
    (tmp_path / "document").write_bytes(DOCUMENT)
    (tmp_path / "signer.pem").write_bytes(
        citizen.certificate.public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "signer.key").write_bytes(
        citizen.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    result = subprocess.run(
        [
            str(OPENSSL),
            "cms",
            "-sign",
            "-binary",
            "-cades",
            "-md",
            "sha384",
            "-in",
            str(tmp_path / "document"),
            "-signer",
            str(tmp_path / "signer.pem"),
            "-inkey",
            str(tmp_path / "signer.key"),
            "-outform",
            "DER",
            "-out",
            str(tmp_path / "openssl.der"),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    signature = (tmp_path / "openssl.der").read_bytes()
    report = verify_signature(
        signature=signature, document=DOCUMENT, trusted_ca=ca.certificate, now=now
    )
    assert report.problems == []
    assert report.valid
    assert report.digest_algorithm == "SHA-384"
    changed = verify_signature(
        signature=signature, document=DOCUMENT + b" ", trusted_ca=ca.certificate, now=now
    )
    assert not changed.valid
