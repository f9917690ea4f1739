"""A demo national CA and software eID cards, for development, demonstrations and tests.

A software card is a PKCS#12 file holding an ECDSA P-256 key and a certificate issued by the
demo CA with the profile the provider expects of a real card (``idp.assurance.eid_card``):
subject ``serialNumber`` ``DNI<document number>``, ``countryName``, key usage
``digitalSignature``. ``sign_challenge`` produces the answer a real card's software would send.

Files under the keys folder: the CA certificate (``eid-demo-ca.pem``, the trust anchor), its
private key (``eid-demo-ca.key.pem``, encrypted with the key passphrase like signing keys), its
CRL (``eid-demo-ca.crl.pem``) and the index of issued certificates
(``eid-demo-ca.issued.json``), which revocation by document number reads.

Nothing here is for production: ``idp card demo-ca`` refuses in production mode.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from idp.assurance.eid_card import (
    DEMO_CA_CERT_FILE,
    DEMO_CA_KEY_FILE,
    DEMO_CRL_FILE,
    DEMO_INDEX_FILE,
    allowed_algorithms,
)
from idp.signing_keys.store import KeyFileStore

CA_LIFETIME = timedelta(days=10 * 365)
CARD_LIFETIME = timedelta(days=5 * 365)
CRL_LIFETIME = timedelta(days=365)
"""Long for a demo, so that the development CRL does not go stale between runs."""
BACKDATE = timedelta(minutes=5)


class DemoCardError(RuntimeError):
    """A demo CA or card operation is refused; one sentence for the operator."""


def _key_usage(*, digital_signature: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _write_public(path: Path, data: bytes) -> None:
    """Atomic write of a public file (certificate, CRL, index)."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise DemoCardError(f"The file {path} cannot be written ({exc.strerror}).") from None


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA key and certificate, able to issue card certificates and sign CRLs."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(
        cls, *, name: str = "Demo eID CA", country: str = "UY", now: datetime
    ) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP384R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Demo national identity"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + CA_LIFETIME)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(digital_signature=False, ca=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA384())
        )
        return cls(key=key, certificate=certificate)

    def issue_card(
        self,
        *,
        document_number: str,
        country: str = "UY",
        name: str | None = None,
        now: datetime,
        lifetime: timedelta = CARD_LIFETIME,
        not_before: datetime | None = None,
        digital_signature: bool = True,
        key: ec.EllipticCurvePrivateKey | None = None,
    ) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        """A new card key (ECDSA P-256) and its certificate for a document number."""
        card_key = key or ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, f"DNI{document_number}"),
                x509.NameAttribute(NameOID.COMMON_NAME, name or document_number),
            ]
        )
        start = not_before or now - BACKDATE
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(card_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + lifetime)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=digital_signature, ca=False), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA384())
        )
        return card_key, certificate

    def crl(self, *, revoked: dict[int, datetime], now: datetime) -> x509.CertificateRevocationList:
        """A CRL listing ``revoked`` (serial -> revocation time), valid for ``CRL_LIFETIME``."""
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(now - BACKDATE)
            .next_update(now + CRL_LIFETIME)
        )
        for serial, when in sorted(revoked.items()):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
            )
        return builder.sign(self.key, hashes.SHA384())


# --- software cards ---------------------------------------------------------------------------


def card_pkcs12(
    key: ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    *,
    chain: list[x509.Certificate],
    password: bytes,
) -> bytes:
    encryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(
        b"eid card", key, certificate, chain or None, encryption
    )


@dataclass(frozen=True)
class SoftwareCard:
    key: PrivateKeyTypes
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]

    @classmethod
    def from_pkcs12(cls, data: bytes, *, password: bytes) -> SoftwareCard:
        try:
            key, certificate, extra = pkcs12.load_key_and_certificates(data, password or None)
        except ValueError:
            raise DemoCardError(
                "The card file cannot be opened: the password is wrong or it is not PKCS#12."
            ) from None
        if key is None or certificate is None:
            raise DemoCardError("The card file holds no key and certificate.")
        return cls(key=key, certificate=certificate, chain=tuple(extra))


def _b64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode("ascii")


def sign_challenge(
    *,
    key: PrivateKeyTypes,
    certificate: x509.Certificate,
    challenge: str,
    audience: str,
    now: datetime,
    intermediates: tuple[x509.Certificate, ...] = (),
    algorithm: str | None = None,
) -> str:
    """The card's answer: a compact JWS over ``{challenge, aud, iat}`` with ``x5c``."""
    algorithms = allowed_algorithms(certificate.public_key())
    chosen = algorithm or (algorithms[0] if algorithms else None)
    if chosen is None:
        raise DemoCardError("The card's key type cannot sign an answer.")
    payload: dict[str, Any] = {
        "challenge": challenge,
        "aud": audience,
        "iat": int(now.timestamp()),
    }
    chain = [_b64(certificate), *(_b64(extra) for extra in intermediates)]
    return jwt.encode(payload, key, algorithm=chosen, headers={"x5c": chain})  # type: ignore[arg-type]


# --- the demo CA on disk ----------------------------------------------------------------------


@dataclass(frozen=True)
class DemoCaFiles:
    folder: Path
    store: KeyFileStore

    @classmethod
    def under(cls, keys_dir: Path, passphrase: bytes) -> DemoCaFiles:
        return cls(folder=keys_dir, store=KeyFileStore(keys_dir, passphrase))

    @property
    def certificate_path(self) -> Path:
        return self.folder / DEMO_CA_CERT_FILE

    @property
    def crl_path(self) -> Path:
        return self.folder / DEMO_CRL_FILE

    @property
    def index_path(self) -> Path:
        return self.folder / DEMO_INDEX_FILE

    def create(self, *, now: datetime) -> CertificateAuthority:
        """A new demo CA with an empty CRL; refuses when one exists."""
        if self.certificate_path.exists() or self.store.path_of(DEMO_CA_KEY_FILE).exists():
            raise DemoCardError(
                f"A demo eID CA already exists in {self.folder}; refusing to replace it."
            )
        authority = CertificateAuthority.create(now=now)
        self.store.write(DEMO_CA_KEY_FILE, authority.key)
        pem = serialization.Encoding.PEM
        _write_public(self.certificate_path, authority.certificate.public_bytes(pem))
        _write_public(self.crl_path, authority.crl(revoked={}, now=now).public_bytes(pem))
        _write_public(self.index_path, b"[]\n")
        return authority

    def load(self) -> CertificateAuthority:
        if not self.certificate_path.exists():
            raise DemoCardError(
                f"There is no demo eID CA in {self.folder}; run `idp card demo-ca` first."
            )
        key = self.store.read(DEMO_CA_KEY_FILE)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise DemoCardError("The demo eID CA key is not an EC key.")
        certificate = x509.load_pem_x509_certificate(self.certificate_path.read_bytes())
        return CertificateAuthority(key=key, certificate=certificate)

    def issued(self) -> list[dict[str, Any]]:
        try:
            entries = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, ValueError):
            raise DemoCardError(f"The index {self.index_path} cannot be read.") from None
        return entries if isinstance(entries, list) else []

    def issue(
        self, *, document_number: str, name: str | None, password: bytes, now: datetime
    ) -> tuple[bytes, x509.Certificate]:
        """A software card (PKCS#12) for a document, recorded in the index."""
        authority = self.load()
        key, certificate = authority.issue_card(document_number=document_number, name=name, now=now)
        entries = self.issued()
        entries.append(
            {
                "serial": format(certificate.serial_number, "x"),
                "document": document_number,
                "issued_at": now.isoformat(),
                "revoked_at": None,
            }
        )
        _write_public(self.index_path, json.dumps(entries, indent=2).encode() + b"\n")
        return card_pkcs12(key, certificate, chain=[], password=password), certificate

    def revoke(self, *, document_number: str, now: datetime) -> list[str]:
        """Revoke every unrevoked card of a document; the serials revoked (hex)."""
        authority = self.load()
        entries = self.issued()
        newly = []
        for entry in entries:
            if entry.get("document") == document_number and not entry.get("revoked_at"):
                entry["revoked_at"] = now.isoformat()
                newly.append(str(entry["serial"]))
        if not newly:
            raise DemoCardError(f"No unrevoked demo card was issued for {document_number}.")
        revoked = {
            int(entry["serial"], 16): datetime.fromisoformat(entry["revoked_at"])
            for entry in entries
            if entry.get("revoked_at")
        }
        crl = authority.crl(revoked=revoked, now=now)
        _write_public(self.crl_path, crl.public_bytes(serialization.Encoding.PEM))
        _write_public(self.index_path, json.dumps(entries, indent=2).encode() + b"\n")
        return newly
