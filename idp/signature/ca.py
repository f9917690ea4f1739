"""The provider's citizen-signing CA: it certifies the keys it holds for citizens.

Files under the keys folder: the CA certificate ``signature-ca.pem`` (public: relying parties
and verifiers trust it) and its private key ``signature-ca.key.pem`` (encrypted PKCS#8 with
the key passphrase, mode 0600, by ``idp.signing_keys.store.KeyFileStore``). Neither file is
ever overwritten.

Profiles (RFC 5280; ETSI EN 319 412-2 for natural persons):

- CA: ECDSA P-384, self-signed, basicConstraints CA with pathLenConstraint 0 (critical),
  keyUsage keyCertSign + cRLSign (critical), subject and authority key identifiers.
- Citizen: subject countryName, givenName, surname, serialNumber (the ETSI EN 319 412-1
  5.1.3 semantics identifier, e.g. ``IDCUY-12345678``, built by the caller) and commonName
  "given family"; keyUsage digitalSignature + contentCommitment (nonRepudiation, critical);
  basicConstraints CA false; CRL distribution point; key identifiers; a random serial
  (RFC 5280 4.1.2.2, CA/B Forum: at least 64 random bits); signed with ECDSA-SHA-384. No
  extended key usage: OpenSSL then accepts the certificate for its default S/MIME signing
  purpose, and nonRepudiation is what marks it for electronic signatures.
- CRL (RFC 5280 5): revoked serials with their revocation date (and reason when given), a CRL
  number (5.2.3), the authority key identifier, and the issuing distribution point when its URL
  is given.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from idp.signing_keys.store import KeyFileStore, KeyStoreError

CA_CERT_FILE = "signature-ca.pem"
CA_KEY_FILE = "signature-ca.key.pem"
CA_LIFETIME = timedelta(days=10 * 365)
BACKDATE = timedelta(minutes=5)
"""CA certificates start a little in the past, so that a verifier's clock skew is harmless."""


class SignatureCaError(RuntimeError):
    """A signature CA operation is refused; one sentence for the operator."""


def _key_usage(*, signer: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signer,
        content_commitment=signer,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=not signer,
        crl_sign=not signer,
        encipher_only=False,
        decipher_only=False,
    )


def _write_new_public_file(path: Path, data: bytes) -> None:
    """Write a public file that must not exist: temporary file, fsync, hard link (which fails
    when the target exists, so nothing is ever overwritten), fsync the folder."""
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(descriptor, data)
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.link(temporary, path)
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except FileExistsError:
        raise SignatureCaError(f"The file {path} already exists; refusing to replace it.") from None
    except OSError as exc:
        raise SignatureCaError(f"The file {path} cannot be written ({exc.strerror}).") from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def _subject_key_identifier(certificate: x509.Certificate) -> x509.SubjectKeyIdentifier:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key())  # type: ignore[arg-type]


def _same_key(one: ec.EllipticCurvePublicKey, other: object) -> bool:
    raw = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    return isinstance(other, ec.EllipticCurvePublicKey) and one.public_bytes(
        *raw
    ) == other.public_bytes(*raw)


@dataclass(frozen=True)
class SigningCa:
    """The CA certificate and key, able to certify citizens' keys and sign CRLs."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    # --- files ------------------------------------------------------------------------------

    @staticmethod
    def certificate_path(keys_dir: Path) -> Path:
        return keys_dir / CA_CERT_FILE

    @staticmethod
    def exists(keys_dir: Path) -> bool:
        """Whether a CA (either of its files) is in ``keys_dir``."""
        return (keys_dir / CA_CERT_FILE).exists() or (keys_dir / CA_KEY_FILE).exists()

    @staticmethod
    def load_certificate(keys_dir: Path) -> x509.Certificate:
        """The CA certificate alone (what a verifier needs; no passphrase)."""
        path = keys_dir / CA_CERT_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise SignatureCaError(
                f"There is no signature CA in {keys_dir}; run `idp ca init` first."
            ) from None
        except OSError as exc:
            raise SignatureCaError(f"The file {path} cannot be read ({exc.strerror}).") from None
        try:
            return x509.load_pem_x509_certificate(data)
        except ValueError:
            raise SignatureCaError(f"The file {path} is not a PEM certificate.") from None

    @classmethod
    def create(
        cls,
        keys_dir: Path,
        passphrase: bytes,
        *,
        country: str,
        organisation: str,
        common_name: str,
        now: datetime,
        lifetime: timedelta = CA_LIFETIME,
    ) -> SigningCa:
        """A new CA (ECDSA P-384, self-signed) written to ``keys_dir``; refuses when one exists."""
        if cls.exists(keys_dir):
            raise SignatureCaError(
                f"A signature CA already exists in {keys_dir}; refusing to replace it."
            )
        key = ec.generate_private_key(ec.SECP384R1())
        try:
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                    x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                ]
            )
        except ValueError as exc:
            raise SignatureCaError(f"The CA name is not valid: {exc}") from None
        identifier = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE)
            .not_valid_after(now + lifetime)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(signer=False), critical=True)
            .add_extension(identifier, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier),
                critical=False,
            )
            .sign(key, hashes.SHA384())
        )
        store = KeyFileStore(keys_dir, passphrase)
        try:
            store.write(CA_KEY_FILE, key)
        except KeyStoreError as exc:
            raise SignatureCaError(str(exc)) from None
        try:
            _write_new_public_file(
                cls.certificate_path(keys_dir),
                certificate.public_bytes(serialization.Encoding.PEM),
            )
        except SignatureCaError:
            store.remove(CA_KEY_FILE)  # a key without its certificate would block a retry
            raise
        return cls(certificate=certificate, private_key=key)

    @classmethod
    def load(cls, keys_dir: Path, passphrase: bytes) -> SigningCa:
        certificate = cls.load_certificate(keys_dir)
        try:
            key = KeyFileStore(keys_dir, passphrase).read(CA_KEY_FILE)
        except KeyStoreError as exc:
            raise SignatureCaError(str(exc)) from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SignatureCaError("The signature CA key is not an elliptic-curve key.")
        if not _same_key(key.public_key(), certificate.public_key()):
            raise SignatureCaError(
                f"The signature CA key in {keys_dir} does not belong to its certificate."
            )
        return cls(certificate=certificate, private_key=key)

    # --- issuing ----------------------------------------------------------------------------

    def issue_certificate(
        self,
        public_key: ec.EllipticCurvePublicKey,
        *,
        given_name: str,
        family_name: str,
        serial_number: str,
        country: str,
        crl_url: str,
        not_before: datetime,
        not_after: datetime,
    ) -> x509.Certificate:
        """A citizen's signing certificate (see the module docstring for the profile)."""
        if not_after <= not_before:
            raise SignatureCaError("A certificate must end after it starts.")
        if not_after > self.certificate.not_valid_after_utc:
            raise SignatureCaError("A citizen certificate cannot outlive the signature CA.")
        try:
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                    x509.NameAttribute(NameOID.GIVEN_NAME, given_name),
                    x509.NameAttribute(NameOID.SURNAME, family_name),
                    x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
                    x509.NameAttribute(NameOID.COMMON_NAME, f"{given_name} {family_name}"),
                ]
            )
        except ValueError as exc:
            raise SignatureCaError(f"The citizen's name is not valid: {exc}") from None
        distribution = x509.DistributionPoint(
            full_name=[x509.UniformResourceIdentifier(crl_url)],
            relative_name=None,
            reasons=None,
            crl_issuer=None,
        )
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signer=True), critical=True)
            .add_extension(x509.CRLDistributionPoints([distribution]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
            .sign(self.private_key, hashes.SHA384())
        )

    def build_crl(
        self,
        revoked: Iterable[tuple[int, datetime] | tuple[int, datetime, x509.ReasonFlags]],
        *,
        this_update: datetime,
        next_update: datetime,
        crl_url: str | None = None,
        crl_number: int | None = None,
    ) -> x509.CertificateRevocationList:
        """A complete CRL of ``revoked`` (serial, revocation date[, reason]).

        ``crl_number`` defaults to ``this_update`` in Unix seconds, which grows with every
        CRL built later (RFC 5280 5.2.3 asks for a monotonically increasing number).
        """
        if next_update <= this_update:
            raise SignatureCaError("A CRL's next update must be after its this update.")
        number = crl_number if crl_number is not None else int(this_update.timestamp())
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(self.certificate.subject)
            .last_update(this_update)
            .next_update(next_update)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(self._authority_key_identifier(), critical=False)
        )
        if crl_url is not None:
            builder = builder.add_extension(
                x509.IssuingDistributionPoint(
                    full_name=[x509.UniformResourceIdentifier(crl_url)],
                    relative_name=None,
                    only_contains_user_certs=False,
                    only_contains_ca_certs=False,
                    only_some_reasons=None,
                    indirect_crl=False,
                    only_contains_attribute_certs=False,
                ),
                critical=True,
            )
        for entry in sorted(revoked, key=lambda item: item[0]):
            revocation = (
                x509.RevokedCertificateBuilder()
                .serial_number(entry[0])
                .revocation_date(entry[1].astimezone(UTC))
            )
            if len(entry) == 3 and entry[2] is not None:
                revocation = revocation.add_extension(x509.CRLReason(entry[2]), critical=False)
            builder = builder.add_revoked_certificate(revocation.build())
        return builder.sign(self.private_key, hashes.SHA384())

    def _authority_key_identifier(self) -> x509.AuthorityKeyIdentifier:
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
            _subject_key_identifier(self.certificate)
        )
