"""Detached CAdES baseline-B signatures (ETSI EN 319 122-1) over a document digest.

The structure is a CMS ``SignedData`` (RFC 5652) in a ``ContentInfo``, built with asn1crypto;
the signature value is computed by ``cryptography``:

- no encapsulated content (detached), ``eContentType`` id-data;
- one ``SignerInfo`` (version 1, issuer and serial number), ``digestAlgorithm`` = the
  document's hash algorithm (asn1crypto writes NULL parameters; RFC 5754 section 2 has
  verifiers accept both NULL and absent), ``signatureAlgorithm`` ecdsa-with-SHA-256/384/512
  with the same hash (RFC 5758 section 3.2, parameters absent);
- signed attributes: content-type, message-digest (the digest the relying party sent),
  signing-time (RFC 5652 11.1-11.3), and signing-certificate-v2 (RFC 5035, required by the
  CAdES baseline) with one ``ESSCertIDv2`` holding the SHA-256 hash of the signer's certificate
  (``hashAlgorithm`` omitted: SHA-256 is its DER default; ``issuerSerial`` omitted);
- certificates: the signer's certificate and the chain (a ``CertificateSet`` is a SET OF,
  RFC 5652 10.2.3, so DER orders it by encoding; verifiers find the signer by the SignerInfo's
  issuer and serial number).

The signature is over the DER of the signed attributes as a ``SET OF`` (RFC 5652 5.4);
asn1crypto sorts a ``SET OF`` in DER, so the signed bytes are what any verifier re-encodes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from asn1crypto import algos, cms, core, tsp  # tsp registers signing-certificate-v2
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from idp.signature.digests import checked_digest

_SIGNATURE_ALGORITHMS = {
    "sha256": "sha256_ecdsa",
    "sha384": "sha384_ecdsa",
    "sha512": "sha512_ecdsa",
}


def certificate_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def check_key_matches(
    private_key: ec.EllipticCurvePrivateKey, certificate: x509.Certificate
) -> None:
    """Refuse to sign with a key that the certificate does not certify."""
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private_key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        raise ValueError("The signing key does not belong to the signer's certificate.")


def _signing_time(when: datetime) -> cms.Time:
    if when.tzinfo is None:
        raise ValueError("The signing time must be timezone-aware.")
    moment = when.astimezone(UTC).replace(microsecond=0)
    # RFC 5652 11.3: UTCTime for 1950-2049, GeneralizedTime otherwise.
    if 1950 <= moment.year < 2050:
        return cms.Time({"utc_time": moment})
    return cms.Time({"general_time": moment})


@functools.lru_cache(maxsize=1024)
def _signing_certificate_v2(certificate: bytes) -> bytes:
    """The DER of the signing-certificate-v2 value for a certificate (its SHA-256), kept per
    certificate: asn1crypto takes milliseconds to encode this structure, and it never changes
    for a credential, so a request with many documents encodes it once."""
    certificate_hash = hashes.Hash(hashes.SHA256())
    certificate_hash.update(certificate)
    value = tsp.SigningCertificateV2(
        {"certs": [tsp.ESSCertIDv2({"cert_hash": certificate_hash.finalize()})]}
    )
    return value.dump()


def _signed_attributes(
    *, digest: bytes, certificate: x509.Certificate, signing_time: datetime
) -> cms.CMSAttributes:
    signing_certificate = tsp.SigningCertificateV2.load(
        _signing_certificate_v2(certificate_der(certificate))
    )
    return cms.CMSAttributes(
        [
            cms.CMSAttribute({"type": "content_type", "values": ["data"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [digest]}),
            cms.CMSAttribute({"type": "signing_time", "values": [_signing_time(signing_time)]}),
            cms.CMSAttribute({"type": "signing_certificate_v2", "values": [signing_certificate]}),
        ]
    )


def build_detached_cades(
    *,
    digest: bytes,
    digest_algorithm: str,
    private_key: ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    signing_time: datetime,
) -> bytes:
    """The DER ``ContentInfo`` of a detached CAdES-B signature of ``digest``."""
    algorithm = checked_digest(digest, digest_algorithm)
    check_key_matches(private_key, certificate)
    attributes = _signed_attributes(
        digest=digest, certificate=certificate, signing_time=signing_time
    )
    signature = private_key.sign(attributes.dump(), ec.ECDSA(algorithm.hash_class()))

    signer_certificate = asn1_x509.Certificate.load(certificate_der(certificate))
    digest_identifier = algos.DigestAlgorithm({"algorithm": algorithm.cms_name})
    signer_info = cms.SignerInfo(
        {
            "version": "v1",
            "sid": cms.SignerIdentifier(
                {
                    "issuer_and_serial_number": cms.IssuerAndSerialNumber(
                        {
                            "issuer": signer_certificate.issuer,
                            "serial_number": signer_certificate.serial_number,
                        }
                    )
                }
            ),
            "digest_algorithm": digest_identifier,
            "signed_attrs": attributes,
            "signature_algorithm": algos.SignedDigestAlgorithm(
                {"algorithm": _SIGNATURE_ALGORITHMS[algorithm.cms_name]}
            ),
            "signature": core.OctetString(signature),
        }
    )
    certificates = [signer_certificate] + [
        asn1_x509.Certificate.load(certificate_der(extra)) for extra in chain
    ]
    signed_data = cms.SignedData(
        {
            "version": "v1",
            "digest_algorithms": [digest_identifier],
            "encap_content_info": {"content_type": "data"},
            "certificates": certificates,
            "signer_infos": [signer_info],
        }
    )
    return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
