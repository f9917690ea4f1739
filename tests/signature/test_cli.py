"""``idp ca`` and ``idp signatures verify`` through Typer's runner, as an operator runs them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from typer.testing import CliRunner, Result

from idp.cli import app
from idp.context import utc_now
from idp.signature.ca import CA_CERT_FILE, SigningCa
from idp.signature.cades import build_detached_cades
from idp.signature.jades import build_detached_jades
from tests.conftest import TEST_PASSPHRASE
from tests.signature.conftest import issue

DOCUMENT = b"Contract: the citizen agrees.\n"


@pytest.fixture(autouse=True)
def _run_in_a_scratch_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_database_url: str
) -> None:
    """A scratch working folder, and a migrated database: ``signatures verify`` reads the
    revocations of the provider's records from it."""
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("IDP_DATABASE_URL", sqlite_database_url)


@pytest.fixture
def keys(tmp_path: Path) -> Path:
    return tmp_path / "keys"


def run(keys: Path, *args: str, env: Mapping[str, str] | None = None) -> Result:
    values = {"IDP_KEYS_DIR": str(keys), "IDP_KEY_PASSPHRASE": TEST_PASSPHRASE, **(env or {})}
    result = CliRunner().invoke(app, list(args), env=values)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"idp {' '.join(args)} crashed") from result.exception
    return result


def _init(keys: Path) -> dict[str, str]:
    result = run(keys, "ca", "init", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    document: dict[str, str] = json.loads(result.stdout)
    return document


def test_ca_init_creates_the_ca_and_prints_its_fingerprint(keys: Path) -> None:
    document = _init(keys)
    certificate = x509.load_pem_x509_certificate((keys / CA_CERT_FILE).read_bytes())
    fingerprint = certificate.fingerprint(hashes.SHA256()).hex(":").upper()
    assert document["certificate"] == str(keys / CA_CERT_FILE)
    assert document["fingerprint_sha256"] == fingerprint
    assert document["subject"] == (
        "CN=UY Citizen Signature CA,O=National digital identity provider,C=UY"
    )
    assert SigningCa.load(keys, TEST_PASSPHRASE.encode()).certificate == certificate

    shown = run(keys, "ca", "show")
    assert shown.exit_code == 0
    assert f"SHA-256 fingerprint: {fingerprint}" in shown.stdout
    assert json.loads(run(keys, "ca", "show", "--json").stdout) == document


def test_ca_init_with_options_in_human_form(keys: Path) -> None:
    result = run(
        keys,
        "ca",
        "init",
        "--country",
        "br",
        "--organisation",
        "Provedor",
        "--common-name",
        "Assinaturas",
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"Created the signature CA: {keys / CA_CERT_FILE}\n")
    certificate = SigningCa.load_certificate(keys)
    assert certificate.subject.rfc4514_string() == "CN=Assinaturas,O=Provedor,C=BR"


def test_ca_init_refuses_when_one_exists(keys: Path) -> None:
    _init(keys)
    before = {path.name: path.read_bytes() for path in keys.iterdir()}
    result = run(keys, "ca", "init")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: A signature CA already exists in {keys}; refusing to replace it.\n"
    )
    assert {path.name: path.read_bytes() for path in keys.iterdir()} == before


def test_ca_init_refuses_a_bad_country(keys: Path) -> None:
    result = run(keys, "ca", "init", "--country", "URY")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: The CA name is not valid: ")
    assert not keys.exists() or not any(keys.iterdir())


def test_ca_show_without_a_ca(keys: Path) -> None:
    result = run(keys, "ca", "show")
    assert result.exit_code == 1
    assert result.stderr == f"Error: There is no signature CA in {keys}; run `idp ca init` first.\n"


def _signed_files(tmp_path: Path, keys: Path, *, form: str = "cades") -> tuple[Path, Path, int]:
    _init(keys)
    ca = SigningCa.load(keys, TEST_PASSPHRASE.encode())
    now = utc_now()
    citizen = issue(ca, not_before=now - timedelta(hours=1), not_after=now + timedelta(days=30))
    digest = hashlib.sha256(DOCUMENT).digest()
    options = {
        "digest": digest,
        "digest_algorithm": "SHA-256",
        "private_key": citizen.key,
        "certificate": citizen.certificate,
        "chain": [ca.certificate],
        "signing_time": now,
    }
    if form == "cades":
        signature = build_detached_cades(**options)  # type: ignore[arg-type]
    else:
        signature = build_detached_jades(document_name="contract.txt", **options).encode()  # type: ignore[arg-type]
    document = tmp_path / "contract.txt"
    document.write_bytes(DOCUMENT)
    signature_file = tmp_path / f"contract.{form}"
    signature_file.write_bytes(signature)
    return document, signature_file, citizen.certificate.serial_number


@pytest.mark.parametrize("form", ["cades", "jades"])
def test_verify_a_valid_signature(tmp_path: Path, keys: Path, form: str) -> None:
    document, signature, serial = _signed_files(tmp_path, keys, form=form)
    result = run(
        keys, "signatures", "verify", "--document", str(document), "--signature", str(signature)
    )
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == f"Signature: VALID ({'CAdES-B' if form == 'cades' else 'JAdES-B'})"
    assert "Signer identifier: IDCUY-12345678" in lines
    assert f"Certificate serial: {serial:x}" in lines
    assert "Integrity: intact" in lines
    assert "Chain: valid" in lines
    assert "  CN=UY Citizen Signature CA,O=National digital identity provider,C=UY" in lines
    assert "Revocation: good" in lines

    as_json = run(
        keys,
        "signatures",
        "verify",
        "--document",
        str(document),
        "--signature",
        str(signature),
        "--json",
    )
    assert as_json.exit_code == 0
    report = json.loads(as_json.stdout)
    assert report["valid"] is True
    assert report["certificate_serial"] == f"{serial:x}"


def test_verify_a_changed_document(tmp_path: Path, keys: Path) -> None:
    document, signature, _ = _signed_files(tmp_path, keys)
    document.write_bytes(DOCUMENT.replace(b"agrees", b"agreed"))
    result = run(
        keys,
        "signatures",
        "verify",
        "--document",
        str(document),
        "--signature",
        str(signature),
        "--json",
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["integrity"] is False
    human = run(
        keys, "signatures", "verify", "--document", str(document), "--signature", str(signature)
    )
    assert human.exit_code == 1
    assert "Signature: NOT VALID (CAdES-B)" in human.stdout
    assert "Integrity: BROKEN" in human.stdout
    assert (
        "Problem: The document does not match the signature: its digest differs from the "
        "signed digest." in human.stdout
    )


def test_verify_with_a_crl(tmp_path: Path, keys: Path) -> None:
    document, signature, serial = _signed_files(tmp_path, keys)
    ca = SigningCa.load(keys, TEST_PASSPHRASE.encode())
    now = utc_now()
    crl = ca.build_crl(
        [(serial, now - timedelta(minutes=30))],
        this_update=now - timedelta(minutes=1),
        next_update=now + timedelta(days=1),
    )
    crl_file = tmp_path / "ca.crl"
    crl_file.write_bytes(crl.public_bytes(serialization.Encoding.DER))
    result = run(
        keys,
        "signatures",
        "verify",
        "--document",
        str(document),
        "--signature",
        str(signature),
        "--crl",
        str(crl_file),
        "--json",
    )
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["revocation"] == "revoked"

    crl_file.write_bytes(
        ca.build_crl(
            [], this_update=now - timedelta(minutes=1), next_update=now + timedelta(days=1)
        ).public_bytes(serialization.Encoding.PEM)
    )
    good = run(
        keys,
        "signatures",
        "verify",
        "--document",
        str(document),
        "--signature",
        str(signature),
        "--crl",
        str(crl_file),
    )
    assert good.exit_code == 0
    assert "Revocation: good" in good.stdout


def test_verify_with_another_ca_file(tmp_path: Path, keys: Path) -> None:
    document, signature, _ = _signed_files(tmp_path, keys)
    other = SigningCa.create(
        tmp_path / "other",
        b"x" * 20,
        country="UY",
        organisation="O",
        common_name="Other",
        now=utc_now(),
    )
    ca_file = tmp_path / "other.pem"
    ca_file.write_bytes(other.certificate.public_bytes(serialization.Encoding.PEM))
    result = run(
        keys,
        "signatures",
        "verify",
        "--document",
        str(document),
        "--signature",
        str(signature),
        "--ca",
        str(ca_file),
    )
    assert result.exit_code == 1
    assert (
        "Problem: The signer's certificate was not issued by the trusted signature CA."
        in result.stdout
    )


def test_verify_garbage(tmp_path: Path, keys: Path) -> None:
    document, _signature, _ = _signed_files(tmp_path, keys)
    garbage = tmp_path / "garbage.sig"
    garbage.write_bytes(b"not a signature at all")
    result = run(
        keys, "signatures", "verify", "--document", str(document), "--signature", str(garbage)
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "Error: The signature is neither CAdES (CMS in DER, PEM or base64) nor JAdES (JWS "
        "compact serialization).\n"
    )


def test_verify_usage_errors(tmp_path: Path, keys: Path) -> None:
    document = tmp_path / "document"
    document.write_bytes(DOCUMENT)
    missing = tmp_path / "missing.sig"
    result = run(
        keys, "signatures", "verify", "--document", str(document), "--signature", str(missing)
    )
    assert result.exit_code == 2
    assert result.stderr == (
        f"Error: The signature {missing} cannot be read (No such file or directory).\n"
    )
    signature = tmp_path / "some.sig"
    signature.write_bytes(b"x")
    no_ca = run(
        keys, "signatures", "verify", "--document", str(document), "--signature", str(signature)
    )
    assert no_ca.exit_code == 2
    assert no_ca.stderr == f"Error: There is no signature CA in {keys}; run `idp ca init` first.\n"
    not_a_ca = run(
        keys,
        "signatures",
        "verify",
        "--document",
        str(document),
        "--signature",
        str(signature),
        "--ca",
        str(document),
    )
    assert not_a_ca.exit_code == 2
    assert not_a_ca.stderr == f"Error: The CA file {document} is not a PEM certificate.\n"
    _init(keys)
    not_a_crl = run(
        keys,
        "signatures",
        "verify",
        "--document",
        str(document),
        "--signature",
        str(signature),
        "--crl",
        str(document),
    )
    assert not_a_crl.exit_code == 2
    assert not_a_crl.stderr == f"Error: The file {document} is not a CRL (PEM or DER).\n"
    no_option = run(keys, "signatures", "verify", "--document", str(document))
    assert no_option.exit_code == 2
