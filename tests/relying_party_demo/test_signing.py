"""The pure parts of signing: the sworn statement, the request body, and reading the
provider's result and verification report."""

from __future__ import annotations

import base64
import hashlib
from datetime import date

import pytest

from relying_party_demo import i18n
from relying_party_demo.signing import (
    Declaration,
    RequestStatus,
    Revocation,
    SignatureFormat,
    declaration,
    read_report,
    read_result,
    request_body,
    same_secret,
    signature_file,
    signer_name,
    signer_of,
)

DAY = date(2026, 11, 29)


def test_the_statement_names_the_citizen_and_the_day_in_the_pages_language() -> None:
    spanish = declaration(
        name="Carlos Fernández",
        document_number="4.567.890-5",
        today=DAY,
        translate=i18n.Translator("es"),
    )
    assert spanish.file_name == "declaracion-jurada-2026-11-29.txt"
    assert spanish.text.splitlines()[:5] == [
        "DECLARACIÓN JURADA",
        "",
        "Nombre: Carlos Fernández",
        "Documento: 4.567.890-5",
        "Fecha: 2026-11-29",
    ]
    assert spanish.content == spanish.text.encode("utf-8")
    english = declaration(
        name="Carlos Fernández", document_number=None, today=DAY, translate=i18n.Translator("en")
    )
    assert english.text.startswith("SWORN STATEMENT\n\nName: Carlos Fernández\nDate: 2026-11-29")
    assert "Document:" not in english.text


def test_the_signer_comes_from_the_claims() -> None:
    assert signer_of({"name": "Ana Silva", "document_number": "3.456.789-4"}) == (
        "Ana Silva",
        "3.456.789-4",
    )
    assert signer_of({"given_name": "Ana", "family_name": "Silva", "sub": "x"}) == (
        "Ana Silva",
        None,
    )
    assert signer_of({"sub": "abc"}) == ("abc", None)


def test_the_request_body_carries_the_hash_of_the_document_bytes() -> None:
    document = Declaration(file_name="d.txt", text="Declaro ñandú\n")
    body = request_body(
        subject="sub-1",
        document=document,
        signature_format=SignatureFormat.JADES,
        redirect_uri="https://tramites.example.gub.uy/firma/vuelta",
        state="s-1",
    )
    digest = hashlib.sha256("Declaro ñandú\n".encode()).digest()
    assert body == {
        "sub": "sub-1",
        "documents": [
            {
                "name": "d.txt",
                "hash_algorithm": "SHA-256",
                "hash": base64.b64encode(digest).decode(),
            }
        ],
        "signature_format": "jades",
        "redirect_uri": "https://tramites.example.gub.uy/firma/vuelta",
        "state": "s-1",
    }


def test_the_state_is_compared_exactly() -> None:
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret("abc", None)
    assert not same_secret(None, "abc")
    assert not same_secret("", "")


def test_results_and_signature_files() -> None:
    document = Declaration(file_name="declaracion-jurada-2026-11-29.txt", text="x")
    der = b"\x30\x03\x02\x01\x01"
    cades = read_result(
        {
            "status": "signed",
            "signature_format": "cades",
            "signatures": [
                {"name": "x", "format": "cades", "signature": base64.b64encode(der).decode()}
            ],
        }
    )
    assert cades.status is RequestStatus.SIGNED
    file = signature_file(document, cades)
    assert (file.file_name, file.media_type, file.content) == (
        "declaracion-jurada-2026-11-29.p7s",
        "application/pkcs7-signature",
        der,
    )
    jades = read_result(
        {"status": "signed", "signature_format": "jades", "signatures": [{"signature": "a..b"}]}
    )
    assert signature_file(document, jades).file_name.endswith(".jws")
    assert signature_file(document, jades).content == b"a..b"
    refused = read_result({"status": "refused", "signature_format": "cades"})
    assert refused.signature is None
    with pytest.raises(ValueError, match="no signature yet"):
        signature_file(document, refused)
    with pytest.raises(ValueError, match="is not a valid RequestStatus"):
        read_result({"status": "lost", "signature_format": "cades"})
    with pytest.raises(ValueError, match="a signed request without a signature"):
        read_result({"status": "signed", "signature_format": "cades"})


def test_the_report_is_read_into_plain_facts() -> None:
    verdict = read_report(
        {
            "valid": True,
            "format": "CAdES-B",
            "integrity": True,
            "signer_subject": "CN=Carlos Fernández,serialNumber=IDCUY-45678905,"
            "surname=Fernández,givenName=Carlos,C=UY",
            "signer_serial_number": "IDCUY-45678905",
            "signing_time": "2026-11-29T05:40:12+00:00",
            "chain_valid": True,
            "revocation": "good",
            "problems": [],
            "notes": ["revoked after signing"],
        }
    )
    assert verdict.valid
    assert verdict.integrity
    assert verdict.chain_valid
    assert verdict.signer_name == "Carlos Fernández"
    assert verdict.signer_number == "IDCUY-45678905"
    assert verdict.signing_time == "2026-11-29 05:40:12 UTC"
    assert verdict.revocation is Revocation.GOOD
    assert verdict.notes == ["revoked after signing"]
    empty = read_report({"revocation": "maybe", "signing_time": "yesterday"})
    assert not empty.valid
    assert empty.revocation is Revocation.UNKNOWN
    assert empty.signing_time is None
    assert empty.signer_name is None


def test_a_subject_without_a_common_name_has_no_signer_name() -> None:
    assert signer_name("C=UY") is None
    assert signer_name("not a name=") is None
    assert signer_name(7) is None
