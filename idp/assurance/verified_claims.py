"""``verified_claims`` from the citizen's evidence records.

- OpenID Connect for Identity Assurance 1.0 (OIDC4IDA): how a client asks for verified claims
  (``claims`` parameter, "Requesting verified claims"), the filters ``value``/``values``/
  ``max_age``, and what to leave out ("Returning less data than requested");
  https://openid.net/specs/openid-connect-4-identity-assurance-1_0.html
- OpenID Identity Assurance Schema Definition 1.0: the shape of ``verification``, ``evidence``
  (``document``, ``electronic_record``, ``electronic_signature``) and ``claims``;
  https://openid.net/specs/openid-ida-verified-claims-1_0.html

How this provider answers (a request object is answered by one response element or none):

- Identity evidence is every record above level 0 except contact evidence (a mailed code,
  ``record.type`` ``email_address``: it proves a mailbox, not who the person is). An account
  without identity evidence (level 0, or only an email code) has no verified claims.
- ``verification.trust_framework`` is always present (the response schema requires it): the
  ``identity_trust_framework`` setting, by default ``eidas`` under the eIDAS acr profile and
  ``uy_iduruguay`` otherwise. Every other verification element is returned only when asked
  for: ``assurance_level`` (``low``/``substantial``/``high`` under ``eidas``, else the acr
  value of the account's level, e.g. ``urn:iduruguay:nid:2``), ``time`` (the latest
  verification, ISO 8601 in UTC), ``verification_process`` (an opaque reference of the record
  that set the level, keyed per subject so that it correlates no more than ``sub`` does) and
  ``evidence`` (one entry per record, filtered and shaped by the request's evidence entries).
- A ``value``/``values``/``max_age`` the account's verification data does not meet (including
  data asked for with such a filter that the provider does not have), or evidence requested
  that no record matches, omits the whole element (OIDC4IDA "Data not matching requirements").
- ``claims`` holds only the requested claims the provider can attest and the account has; a
  claim whose ``value``/``values`` do not match is left out; with no claim left the element is
  omitted. ``essential`` changes nothing: an essential claim that cannot be given is left out,
  never an error (OIDC Core 5.5.1, and OIDC4IDA says this behaviour is independent of it).
- Release and consent: the citizen agreed, on the consent page, to ``verified_claims`` and to
  each claim named inside it (``idp.oidc.consent``), and the provider issues no code without
  that consent; so everything requested here is released, as individually requested claims
  are (``idp.oidc.claims.release_claims``).

The builders are pure functions of explicit inputs (records, claim values, trust framework,
``now``); ``release_verified_claims`` only gathers them from a citizen.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from idp.assurance.levels import verification_level
from idp.assurance.profiles import PROFILES
from idp.config import Settings
from idp.oidc.claims import QUERY_MEMBERS, VERIFIED_CLAIMS, citizen_claim_values
from idp.storage.models import Citizen, IdentityVerification


class EvidenceType(StrEnum):
    DOCUMENT = "document"
    ELECTRONIC_RECORD = "electronic_record"
    ELECTRONIC_SIGNATURE = "electronic_signature"


DEFAULT_TRUST_FRAMEWORKS = {"iduruguay": "uy_iduruguay", "eidas": "eidas"}
"""Trust framework per acr profile when ``identity_trust_framework`` is not set."""

EIDAS_LEVEL_NAMES = {1: "low", 2: "substantial", 3: "high"}
"""``assurance_level`` values of the ``eidas`` trust framework (IDA predefined values)."""

CLAIMS_IN_VERIFIED_CLAIMS = (
    "name",
    "given_name",
    "family_name",
    "birthdate",
    "nationalities",
    "document_number",
    "document_type",
    "document_country",
)
"""Claims this provider attests inside ``verified_claims`` (``claims_in_verified_claims_
supported``): the identity the records verified. Contact details are not among them."""

DOCUMENT_TYPE_NAMES = {"ci": "idcard", "dni": "idcard", "rg": "idcard", "passport": "passport"}
"""Our document types -> IDA predefined document types; others are shown as they are."""

CHECK_METHODS_BY_METHOD = {
    "in_person": "vpip",
    "video": "vri",
    "registry_match": "data",
    "civil_registry": "data",
    "eid_certificate": "vcrypt",
}
"""IDA check methods for records that do not name one (``IdentityVerification.check_method``
wins): document checked in person, document checked remotely, data checked against the civil
registry, cryptographic check of the eID card's certificate."""

DEFAULT_RECORD_TYPE = "population_register"
"""``electronic_record`` type when a record's attributes do not say (the civil registry)."""

CONTACT_RECORD_TYPES = frozenset({"email_address"})
"""``record_type`` of evidence about contact details, not about the person's identity."""

EVIDENCE_SUPPORTED = tuple(kind.value for kind in EvidenceType)
DOCUMENTS_SUPPORTED = tuple(sorted(set(DOCUMENT_TYPE_NAMES.values())))
DOCUMENT_CHECK_METHODS_SUPPORTED = ("pvp", "pvr", "vpip", "vri")
"""Document checks (``vpip``, ``vri``) and checks of the person against it (``pvp``, ``pvr``),
as ``idp.assurance.enrolment`` records them."""
ELECTRONIC_RECORDS_SUPPORTED = (DEFAULT_RECORD_TYPE,)


@dataclass(frozen=True, slots=True)
class TrustFramework:
    """The trust framework the provider verifies under, and its names of the levels 1..3."""

    name: str
    level_names: Mapping[int, str]


def trust_framework_for(settings: Settings) -> TrustFramework:
    name = settings.identity_trust_framework or DEFAULT_TRUST_FRAMEWORKS[settings.acr_profile]
    if name == "eidas":
        return TrustFramework(name=name, level_names=EIDAS_LEVEL_NAMES)
    return TrustFramework(name=name, level_names=PROFILES[settings.acr_profile].acr_by_level)


def iso_time(moment: datetime) -> str:
    """ISO 8601 in UTC, to the second (OIDC4IDA privacy considerations: UTC, no zone)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def process_reference(record: IdentityVerification, *, subject: str, key: bytes) -> str:
    """An opaque ``verification_process`` for one record, as one client sees it."""
    message = f"identity_verification\x00{record.id}\x00{subject}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


# --- evidence ---------------------------------------------------------------------------------


def _check_details(record: IdentityVerification) -> list[dict[str, Any]]:
    """The check of the evidence, then the check of the person against it (``person_check``
    in the record's attributes), when recorded."""
    methods = [
        record.check_method or CHECK_METHODS_BY_METHOD.get(record.method),
        _attribute(record, "person_check"),
    ]
    return [{"check_method": method} for method in dict.fromkeys(methods) if method]


def _attribute(record: IdentityVerification, name: str) -> str | None:
    value = (record.attributes or {}).get(name)
    return value if isinstance(value, str) and value else None


def _document(record: IdentityVerification) -> dict[str, Any]:
    evidence: dict[str, Any] = {"type": EvidenceType.DOCUMENT.value}
    if check_details := _check_details(record):
        evidence["check_details"] = check_details
    evidence["time"] = iso_time(record.verified_at)
    if record.document_type:
        details: dict[str, Any] = {
            "type": DOCUMENT_TYPE_NAMES.get(record.document_type, record.document_type)
        }
        if record.document_number:
            details["document_number"] = record.document_number
        for name in ("date_of_issuance", "date_of_expiry"):
            if value := _attribute(record, name):
                details[name] = value
        if record.issuing_country:
            details["issuer"] = {"country_code": record.issuing_country}
        evidence["document_details"] = details
    return evidence


def _electronic_record(record: IdentityVerification) -> dict[str, Any]:
    evidence: dict[str, Any] = {"type": EvidenceType.ELECTRONIC_RECORD.value}
    if check_details := _check_details(record):
        evidence["check_details"] = check_details
    evidence["time"] = iso_time(record.verified_at)
    name = _attribute(record, "source_name") or _attribute(record, "registry") or record.verifier
    source: dict[str, Any] = {"name": name}
    if record.issuing_country:
        source["country_code"] = record.issuing_country
    if issuer := _attribute(record, "source_issuer"):
        # a peer provider's Entity Identifier (cross-border login); IDA defines no member for
        # a URL, and recipients ignore members they do not understand
        source["issuer"] = issuer
    details: dict[str, Any] = {"type": _attribute(record, "record_type") or DEFAULT_RECORD_TYPE}
    if date_of_expiry := _attribute(record, "date_of_expiry"):
        details["date_of_expiry"] = date_of_expiry
    details["source"] = source
    evidence["record"] = details
    return evidence


def _electronic_signature(record: IdentityVerification) -> dict[str, Any] | None:
    """Signature type, issuer and serial number are required by the schema: without them in
    the record's attributes there is no valid evidence to show."""
    fields = {
        name: _attribute(record, name) for name in ("signature_type", "issuer", "serial_number")
    }
    if None in fields.values():
        return None
    return {
        "type": EvidenceType.ELECTRONIC_SIGNATURE.value,
        **fields,
        "created_at": iso_time(record.verified_at),
    }


def is_identity_evidence(record: IdentityVerification) -> bool:
    """Above level 0, and about the person rather than their contact details."""
    return record.level > 0 and _attribute(record, "record_type") not in CONTACT_RECORD_TYPES


def evidence_of(record: IdentityVerification) -> dict[str, Any] | None:
    """The full ``evidence`` entry of one record, or None when it cannot be shown validly."""
    if record.evidence_type == EvidenceType.DOCUMENT:
        return _document(record)
    if record.evidence_type == EvidenceType.ELECTRONIC_RECORD:
        return _electronic_record(record)
    if record.evidence_type == EvidenceType.ELECTRONIC_SIGNATURE:
        return _electronic_signature(record)
    return None


# --- request filters (OIDC Core 5.5.1, OIDC4IDA "Defining further constraints") ------------


class _Mismatch(Exception):
    """The data does not meet a ``value``/``values``/``max_age`` of the request."""


def _has_filter(request: Any) -> bool:
    """Whether a request element (or, for ``check_details``, any of its entries) filters."""
    if isinstance(request, list):
        return any(_has_filter(entry) for entry in request)
    if not isinstance(request, dict):
        return False
    if {"value", "values", "max_age"} & set(request):
        return True
    return any(_has_filter(sub) for name, sub in request.items() if name not in QUERY_MEMBERS)


def _moment(value: Any) -> datetime | None:
    """A date-time, or the last second of a date (OIDC4IDA ``max_age``)."""
    if not isinstance(value, str):
        return None
    try:
        if "T" in value:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
        return datetime.combine(date.fromisoformat(value), time(23, 59, 59), tzinfo=UTC)
    except ValueError:
        return None


def _check_filter(value: Any, request: Any, now: datetime) -> None:
    if not isinstance(request, dict):
        return
    if "value" in request and value != request["value"]:
        raise _Mismatch
    if "values" in request and value not in request["values"]:
        raise _Mismatch
    if "max_age" in request:
        moment = _moment(value)
        if moment is None or now - moment > timedelta(seconds=request["max_age"]):
            raise _Mismatch


def _project(value: Any, request: Any, now: datetime) -> Any:
    """The part of ``value`` the request asks for: all of it for ``null`` or a request with
    only query members, else the named sub-elements (recursively). Raise ``_Mismatch`` when
    a filter is not met, including on data that is missing."""
    _check_filter(value, request, now)
    if not isinstance(request, dict) or not isinstance(value, dict):
        return value
    nested = {name: sub for name, sub in request.items() if name not in QUERY_MEMBERS}
    if not nested:
        return value
    out: dict[str, Any] = {}
    for name, sub in nested.items():
        if name not in value:
            if _has_filter(sub):
                raise _Mismatch
            continue
        out[name] = _project(value[name], sub, now)
    return out


def _check_details_for(available: list[dict[str, Any]], request: Any, now: datetime) -> Any:
    """``check_details`` entries matching any of the requested ones (a logical OR)."""
    if not _has_filter(request) and not isinstance(request, list):
        return available
    templates = request if isinstance(request, list) else [request]
    chosen = []
    for entry in available:
        for template in templates:
            try:
                chosen.append(_project(entry, template, now))
                break
            except _Mismatch:
                continue
    if not chosen:
        raise _Mismatch
    return chosen


def _shape_evidence(evidence: dict[str, Any], template: dict[str, Any], now: datetime) -> dict:
    """One evidence entry shaped by one request entry, or ``_Mismatch``."""
    if evidence["type"] != template["type"]["value"]:
        raise _Mismatch
    out: dict[str, Any] = {"type": evidence["type"]}
    for name, request in template.items():
        if name == "type":
            continue
        if name not in evidence:
            if _has_filter(request):
                raise _Mismatch
            continue
        if name == "check_details":
            out[name] = _check_details_for(evidence[name], request, now)
        else:
            out[name] = _project(evidence[name], request, now)
    return out


def _evidence(
    records: Sequence[IdentityVerification], request: Any, now: datetime
) -> list[dict[str, Any]]:
    available = [entry for record in records if (entry := evidence_of(record)) is not None]
    if request is None:
        return available
    shaped = []
    for entry in available:
        for template in request:
            try:
                shaped.append(_shape_evidence(entry, template, now))
                break
            except _Mismatch:
                continue
    if not shaped:
        raise _Mismatch
    return shaped


# --- the verified_claims element --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerificationData:
    """What the records say about the account's verification, as the response names it."""

    trust_framework: str
    assurance_level: str | None
    time: str
    verification_process: str
    records: tuple[IdentityVerification, ...]


def verification_data(
    records: Iterable[IdentityVerification],
    *,
    framework: TrustFramework,
    subject: str,
    key: bytes,
) -> VerificationData | None:
    """None for an account without identity evidence (``is_identity_evidence``)."""
    verified = tuple(
        sorted(filter(is_identity_evidence, records), key=lambda record: record.verified_at)
    )
    if not verified:
        return None
    level = verification_level(verified)
    deciding = [record for record in verified if record.level == level][-1]
    return VerificationData(
        trust_framework=framework.name,
        assurance_level=framework.level_names.get(level),
        time=iso_time(verified[-1].verified_at),
        verification_process=process_reference(deciding, subject=subject, key=key),
        records=verified,
    )


def _verification(
    data: VerificationData, request: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    available: dict[str, Any] = {
        "trust_framework": data.trust_framework,
        "assurance_level": data.assurance_level,
        "time": data.time,
        "verification_process": data.verification_process,
    }
    out: dict[str, Any] = {"trust_framework": data.trust_framework}
    for name, element in request.items():
        if name == "evidence":
            out["evidence"] = _evidence(data.records, element, now)
            continue
        value = available.get(name)
        if value is None:
            if _has_filter(element):
                raise _Mismatch
            continue
        _check_filter(value, element, now)
        out[name] = value
    return out


def _claims(values: Mapping[str, Any], request: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, element in request.items():
        if name not in CLAIMS_IN_VERIFIED_CLAIMS or name not in values:
            continue
        try:
            _check_filter(values[name], element, now)
        except _Mismatch:
            continue
        out[name] = values[name]
    return out


def answer(
    request: Mapping[str, Any],
    *,
    data: VerificationData,
    values: Mapping[str, Any],
    now: datetime,
) -> dict[str, Any] | None:
    """The response element for one ``verified_claims`` request object, or None to omit it."""
    try:
        verification = _verification(data, request["verification"], now)
    except _Mismatch:
        return None
    claims = _claims(values, request["claims"], now)
    if not claims:
        return None
    return {"verification": verification, "claims": claims}


def build_verified_claims(
    requests: Sequence[Mapping[str, Any]],
    *,
    records: Iterable[IdentityVerification],
    values: Mapping[str, Any],
    framework: TrustFramework,
    subject: str,
    key: bytes,
    now: datetime,
) -> dict[str, Any] | list[dict[str, Any]] | None:
    """The ``verified_claims`` claim for the request objects: one element as an object,
    several as an array (both are valid), None when there is nothing to release."""
    if not requests:
        return None
    data = verification_data(records, framework=framework, subject=subject, key=key)
    if data is None:
        return None
    elements = [
        element
        for request in requests
        if (element := answer(request, data=data, values=values, now=now)) is not None
    ]
    if not elements:
        return None
    return elements[0] if len(elements) == 1 else elements


def verified_claim_values(
    claim_values: Mapping[str, Any], records: Iterable[IdentityVerification]
) -> dict[str, Any]:
    """The values that can appear inside ``verified_claims``: the account's identity claims,
    and ``nationalities`` when records carry them (``nationality`` from the civil registry,
    or a ``nationalities`` list)."""
    values = {
        name: claim_values[name] for name in CLAIMS_IN_VERIFIED_CLAIMS if name in claim_values
    }
    nationalities: list[str] = []
    for record in records:
        attributes = record.attributes or {}
        found = attributes.get("nationalities")
        if isinstance(found, list):
            nationalities.extend(item for item in found if isinstance(item, str) and item)
        if single := _attribute(record, "nationality"):
            nationalities.append(single)
    if nationalities:
        values["nationalities"] = sorted(set(nationalities))
    return values


def release_verified_claims(
    requests: Sequence[Mapping[str, Any]],
    *,
    citizen: Citizen,
    settings: Settings,
    subject: str,
    now: datetime,
) -> dict[str, Any]:
    """``{"verified_claims": ...}`` for a citizen, or ``{}``: what the ID token and UserInfo
    add to their claims."""
    if not requests:
        return {}
    records = list(citizen.verifications)
    released = build_verified_claims(
        requests,
        records=records,
        values=verified_claim_values(citizen_claim_values(citizen), records),
        framework=trust_framework_for(settings),
        subject=subject,
        key=settings.pairwise_salt_bytes(),
        now=now,
    )
    return {} if released is None else {VERIFIED_CLAIMS: released}
