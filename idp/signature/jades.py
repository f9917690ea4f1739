"""Detached JAdES baseline-B signatures (ETSI TS 119 182-1) over a document digest.

A JWS in compact serialization (RFC 7515 7.1) whose protected header carries:

- ``alg``: ES256, ES384 or ES512, by the signer key's curve (P-256, P-384, P-521);
- ``typ``: ``jose`` (the value TS 119 182-1 gives for the compact serialization);
- ``x5t#S256``: SHA-256 of the signer's certificate (the signing certificate reference,
  RFC 7515 4.1.9) and ``x5c``: the signer's certificate then the chain (RFC 7515 4.1.6);
- ``sigT``: the claimed signing time, ``YYYY-MM-DDThh:mm:ssZ``;
- ``sigD`` (5.2.8) with ``mId`` ``http://uri.etsi.org/19182/ObjectIdByURIHash`` (5.2.8.3.3):
  ``pars`` = [the document's name], ``hashM`` = S256/S384/S512, ``hashV`` = [base64url of the
  document digest];
- ``crit``: ``["sigT", "sigD"]`` (RFC 7515 4.1.11; TS 119 182-1 has the JAdES header
  parameters of the protected header listed as critical).

With ObjectIdByURIHash the document is bound by its digest in ``sigD``, and the JWS Payload
is empty (5.2.8.3.3: the payload contributes as an empty octet stream), so the compact form is
``<header>..<signature>``. The signature is computed by joserfc.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc import jws
from joserfc.jwk import ECKey
from joserfc.registry import HeaderParameter

from idp.signature.cades import certificate_der, check_key_matches
from idp.signature.digests import checked_digest

OBJECT_ID_BY_URI_HASH = "http://uri.etsi.org/19182/ObjectIdByURIHash"
JADES_TYPE = "jose"
SIGNING_TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CRITICAL_PARAMETERS = ("sigT", "sigD")
ALGORITHMS_BY_CURVE = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


def _is_object(value: Any) -> None:
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")


class JadesRegistry(jws.JWSRegistry):
    """joserfc's JWS registry, knowing the JAdES header parameters used here and allowing
    the size of a header that carries a certificate chain."""

    max_header_length = 32_768

    def __init__(self, algorithms: Sequence[str], *, strict: bool = True) -> None:
        """``strict=False`` ignores unknown header parameters that are not critical (what a
        verifier must do, RFC 7515 4.1.11); signing stays strict."""
        super().__init__(
            header_registry={
                "sigT": HeaderParameter("Claimed signing time (ETSI TS 119 182-1)", "str"),
                "sigD": HeaderParameter("Signed data objects (ETSI TS 119 182-1)", _is_object),
            },
            algorithms=list(algorithms),
            strict_check_header=strict,
        )


def base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def certificate_thumbprint(certificate: x509.Certificate) -> str:
    """``x5t#S256``: base64url of the SHA-256 of the certificate's DER (RFC 7515 4.1.9)."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(certificate_der(certificate))
    return base64url(digest.finalize())


def algorithm_for(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> str:
    try:
        return ALGORITHMS_BY_CURVE[key.curve.name]
    except KeyError:
        raise ValueError(f"The curve {key.curve.name} cannot sign a JAdES signature.") from None


def format_signing_time(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("The signing time must be timezone-aware.")
    return when.astimezone(UTC).strftime(SIGNING_TIME_FORMAT)


def build_detached_jades(
    *,
    digest: bytes,
    digest_algorithm: str,
    document_name: str,
    private_key: ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    signing_time: datetime,
) -> str:
    """The compact serialization of a detached JAdES-B signature of ``digest``."""
    algorithm = checked_digest(digest, digest_algorithm)
    if not document_name:
        raise ValueError("The document needs a name for the sigD reference.")
    check_key_matches(private_key, certificate)
    alg = algorithm_for(private_key)
    header = {
        "alg": alg,
        "typ": JADES_TYPE,
        "x5t#S256": certificate_thumbprint(certificate),
        "x5c": [
            base64.b64encode(certificate_der(item)).decode("ascii")
            for item in (certificate, *chain)
        ],
        "sigT": format_signing_time(signing_time),
        "sigD": {
            "mId": OBJECT_ID_BY_URI_HASH,
            "pars": [document_name],
            "hashM": algorithm.jades_name,
            "hashV": [base64url(digest)],
        },
        "crit": list(CRITICAL_PARAMETERS),
    }
    return jws.serialize_compact(
        header, b"", ECKey.import_key(private_key), registry=JadesRegistry([alg])
    )
