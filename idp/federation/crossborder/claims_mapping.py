"""From a peer's claims to what this provider tells its portal.

- :func:`map_claims`: the regional minimum data set, after the eIDAS minimum data set for a
  natural person (Implementing Regulation (EU) 2015/1501, annex: family name, first names,
  date of birth, a unique identifier): ``given_name``, ``family_name``, ``birthdate``
  (``YYYY-MM-DD``, OpenID Connect Core 5.1, validated), ``nationality`` (ISO 3166-1 alpha-2:
  the country of the peer that vouched for the person) and ``person_identifier``.
- :func:`person_identifier`: ``ORIGIN/DESTINATION/opaque`` as the eIDAS PersonIdentifier
  (eIDAS SAML Attribute Profile 1.2, section 2.2.3: "BE/NL/..."), where ``opaque`` is
  HMAC-SHA256 under a secret of this provider over the peer's issuer, the peer's ``sub`` and
  the destination country, base64url, first 32 characters (192 bits). It is stable for one
  person and one destination, differs between destinations, and reveals nothing of the
  peer's ``sub`` to anyone without the secret (so portals cannot link it to the person's
  identifier in the country of origin).
- :func:`federated_amr` and :func:`federated_verified_claims`: what the ID token to the portal
  says about how the citizen logged in and who verified their identity.

Pure functions of explicit inputs; a missing mandatory attribute is
``CrossBorderRefused(missing_claim)`` and a malformed one ``invalid_claim``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from idp.federation.crossborder.acr_mapping import LEVEL_NAMES, AcrTable
from idp.federation.crossborder.errors import CrossBorderRefused, Refusal
from idp.federation.crossborder.peers import (
    COUNTRY_CODE,
    LANGUAGES,
    Peer,
    country_name,
    language_of,
)

MIN_SECRET_BYTES = 32
OPAQUE_LENGTH = 32
"""base64url characters of the keyed hash kept in the person identifier (192 bits)."""
MAX_NAME_LENGTH = 200
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

TRUST_FRAMEWORK = "eidas"
EVIDENCE_RECORD_TYPE = "federated_identity_provider"
"""``record.type`` of the evidence: not one of the IDA predefined record types (the peer's own
source of the identity is not known to us); the record is the peer's signed ID token."""
CHECK_METHOD = "vcrypt"
"""IDA predefined check method: "verify the cryptographic integrity of the evidence"; we
checked the peer's signature with keys its Trust Chain vouches for."""

FEDERATION_AMR = "fed"
"""The ``amr`` value of a federated login. RFC 8176 registers no value for it; ``fed`` is the
de-facto name (Microsoft Entra ID sends it for "a federated assertion was used") and short
enough that portals can test for it. It is not registered: a portal that only understands
RFC 8176 ignores it, and the RFC 8176 values the peer sent (:data:`RFC8176_VALUES`) still say
how the citizen authenticated."""

RFC8176_VALUES = frozenset(
    {
        "face",
        "fpt",
        "geo",
        "hwk",
        "iris",
        "kba",
        "mca",
        "mfa",
        "otp",
        "pin",
        "pop",
        "pwd",
        "rba",
        "retina",
        "sc",
        "sms",
        "swk",
        "tel",
        "user",
        "vbm",
        "wia",
    }
)
"""The registered Authentication Method Reference values (RFC 8176 section 2)."""


@dataclass(frozen=True, slots=True)
class MinimumDataSet:
    """The regional minimum data set of one person, as released to a portal."""

    given_name: str
    family_name: str
    birthdate: str
    nationality: str
    person_identifier: str

    def as_claims(self) -> dict[str, str]:
        return asdict(self)


def _name(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise CrossBorderRefused(Refusal.MISSING_CLAIM, f"the peer did not send {name}")
    if not isinstance(value, str):
        raise CrossBorderRefused(Refusal.INVALID_CLAIM, f"{name} is not a string")
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(value) > MAX_NAME_LENGTH or any(
        unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in value
    ):
        raise CrossBorderRefused(Refusal.INVALID_CLAIM, f"{name} is not a plausible name")
    return value


def parse_birthdate(value: object, *, today: date) -> str:
    """A full ``YYYY-MM-DD`` date that exists, not in the future and not before 1900.

    Core 5.1 allows ``0000`` as the year, or the year alone; the minimum data set needs the
    full date, so both are refused as missing information.
    """
    if value is None or value == "":
        raise CrossBorderRefused(Refusal.MISSING_CLAIM, "the peer did not send birthdate")
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise CrossBorderRefused(Refusal.INVALID_CLAIM, "birthdate is not YYYY-MM-DD")
    if value.startswith("0000"):
        raise CrossBorderRefused(Refusal.MISSING_CLAIM, "birthdate has no year")
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise CrossBorderRefused(Refusal.INVALID_CLAIM, "birthdate is not a date") from None
    if parsed > today or parsed.year < 1900:
        raise CrossBorderRefused(Refusal.INVALID_CLAIM, "birthdate is not plausible")
    return value


def _country(code: str, what: str) -> str:
    if not isinstance(code, str) or not COUNTRY_CODE.fullmatch(code):
        raise ValueError(f"{what} {code!r} is not an ISO 3166-1 alpha-2 code in upper case")
    return code


def person_identifier(
    *, peer_issuer: str, peer_subject: str, origin: str, destination: str, secret: bytes
) -> str:
    """``ORIGIN/DESTINATION/opaque`` (see the module docstring)."""
    origin = _country(origin, "origin")
    destination = _country(destination, "destination")
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"the person identifier secret needs at least {MIN_SECRET_BYTES} bytes")
    if not peer_subject:
        raise CrossBorderRefused(Refusal.MISSING_CLAIM, "the peer did not send sub")
    message = "\x00".join(
        ("crossborder-person-identifier", peer_issuer, peer_subject, destination)
    ).encode("utf-8", "surrogatepass")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    opaque = base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")[:OPAQUE_LENGTH]
    return f"{origin}/{destination}/{opaque}"


def map_claims(
    claims: Mapping[str, Any],
    *,
    peer: Peer,
    destination: str,
    secret: bytes,
    today: date,
) -> MinimumDataSet:
    """The minimum data set from a peer's validated ID token claims.

    ``destination`` is this provider's country; ``secret`` is the person identifier key.
    """
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise CrossBorderRefused(Refusal.MISSING_CLAIM, "the peer did not send sub")
    given_name = _name(claims, "given_name")
    family_name = _name(claims, "family_name")
    birthdate = parse_birthdate(claims.get("birthdate"), today=today)
    return MinimumDataSet(
        given_name=given_name,
        family_name=family_name,
        birthdate=birthdate,
        nationality=peer.country,
        person_identifier=person_identifier(
            peer_issuer=peer.issuer,
            peer_subject=subject,
            origin=peer.country,
            destination=destination,
            secret=secret,
        ),
    )


def federated_amr(peer_amr: object) -> list[str]:
    """``["fed", ...]`` followed by the RFC 8176 values among the peer's ``amr``.

    The peer's own values outside RFC 8176 (e.g. ``urn:iduruguay:am:ci``) are dropped: they
    belong to the peer's vocabulary, which the portal does not know, and passing them on would
    let a peer put arbitrary strings into our tokens. ``mfa`` is kept when the peer sent it,
    so a portal still sees that the citizen used two factors at home.
    """
    values = [FEDERATION_AMR]
    if isinstance(peer_amr, list):
        values.extend(v for v in peer_amr if isinstance(v, str) and v in RFC8176_VALUES)
    return list(dict.fromkeys(values))


def _iso(moment: int | float) -> str:
    return datetime.fromtimestamp(int(moment), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def federated_verified_claims(
    data: MinimumDataSet,
    *,
    peer: Peer,
    level: int | None,
    verified_at: int,
    claim_names: Iterable[str] = ("given_name", "family_name", "birthdate", "nationalities"),
) -> dict[str, Any]:
    """The ``verified_claims`` element (OpenID Identity Assurance Schema 1.0) for a federated
    login: trust framework ``eidas``, the mapped ``assurance_level``, and one
    ``electronic_record`` evidence whose ``source`` names the peer (``name``,
    ``country_code`` and ``issuer``, the last an extension member: IDA defines no member for a
    URL, and recipients ignore members they do not understand).

    ``verified_at`` is when the peer authenticated the citizen (``auth_time``, else ``iat``).
    ``claim_names`` narrows the claims to those requested. Without a level (nothing was
    requested and the peer's ``acr`` maps to none) ``assurance_level`` is left out.
    """
    if level is not None and level not in LEVEL_NAMES:
        raise ValueError(f"level {level} is not an eIDAS level")
    available: dict[str, Any] = {
        "given_name": data.given_name,
        "family_name": data.family_name,
        "birthdate": data.birthdate,
        "nationalities": [data.nationality],
    }
    when = _iso(verified_at)
    verification: dict[str, Any] = {"trust_framework": TRUST_FRAMEWORK}
    if level is not None:
        verification["assurance_level"] = LEVEL_NAMES[level]
    return {
        "verification": {
            **verification,
            "time": when,
            "evidence": [
                {
                    "type": "electronic_record",
                    "check_details": [{"check_method": CHECK_METHOD}],
                    "time": when,
                    "record": {
                        "type": EVIDENCE_RECORD_TYPE,
                        "source": {
                            "name": peer.organization_name,
                            "country_code": peer.country,
                            "issuer": peer.issuer,
                        },
                    },
                }
            ],
        },
        "claims": {name: available[name] for name in claim_names if name in available},
    }


def authenticated_at(claims: Mapping[str, Any]) -> int:
    """``auth_time`` of the peer's ID token when it is a number, else its ``iat``."""
    for name in ("auth_time", "iat"):
        value = claims.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value == value:
            return int(value)
    raise CrossBorderRefused(Refusal.MISSING_CLAIM, "the ID token has no iat")


ATTRIBUTE_LABELS: dict[str, tuple[str, str, str]] = {
    "given_name": ("Nombres", "Nome", "Given name"),
    "family_name": ("Apellidos", "Sobrenome", "Family name"),
    "birthdate": ("Fecha de nacimiento", "Data de nascimento", "Date of birth"),
    "nationality": ("Nacionalidad", "Nacionalidade", "Nationality"),
    "person_identifier": (
        "Identificador de persona",
        "Identificador de pessoa",
        "Person identifier",
    ),
}
"""(es, pt, en) labels of the minimum data set on the consent page."""


@dataclass(frozen=True, slots=True)
class ConsentAttribute:
    """One line of the consent page: what passes to the portal."""

    name: str
    label: str
    value: str


def consent_attributes(data: MinimumDataSet, *, locale: str) -> list[ConsentAttribute]:
    """The attributes that will pass to the portal, labelled in the citizen's language (the
    nationality shown as a country name), in the order of the data set."""
    index = LANGUAGES.index(language_of(locale))
    values = data.as_claims()
    values["nationality"] = country_name(data.nationality, locale)
    return [
        ConsentAttribute(name=name, label=labels[index], value=values[name])
        for name, labels in ATTRIBUTE_LABELS.items()
    ]


def portal_claims(
    data: MinimumDataSet,
    *,
    peer: Peer,
    peer_claims: Mapping[str, Any],
    level: int | None,
    table: AcrTable,
    profile: str,
) -> dict[str, Any]:
    """The claims this provider adds to its own ID token for the portal after a cross-border
    login (``sub``, ``aud``, ``nonce`` and times are the issuing code's): the minimum data set,
    ``acr`` (our name of the mapped level under ``profile``; left out when there is none),
    ``amr`` (:func:`federated_amr`), ``auth_time`` (when the peer authenticated the citizen)
    and ``verified_claims`` naming the peer as the source."""
    verified_at = authenticated_at(peer_claims)
    claims: dict[str, Any] = dict(data.as_claims())
    acr = table.local_acr_for(profile, level) if level is not None else None
    if acr is not None:
        claims["acr"] = acr
    claims["amr"] = federated_amr(peer_claims.get("amr"))
    claims["auth_time"] = verified_at
    claims["verified_claims"] = federated_verified_claims(
        data, peer=peer, level=level, verified_at=verified_at
    )
    return claims
