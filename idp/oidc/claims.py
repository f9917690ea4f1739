"""Which claims a client receives, and their values (OIDC Core 5.1, 5.4, 5.5, 8).

Scopes map to claims (5.4, plus ``document`` for the national document); the ``claims``
request parameter selects individual claims for the ID token or UserInfo (5.5). Claim values
come from the citizen record; only claims both requested and allowed are released.

A ``verified_claims`` member of ``id_token`` or ``userinfo`` (OpenID Connect for Identity
Assurance 1.0, "Requesting verified claims") is a nested request, not a claim: it is checked
here and kept as given (always as an array of request objects) for
``idp.assurance.verified_claims``, which builds the answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from idp.storage.models import Citizen

FOREIGN_DOCUMENT_TYPE = "person_identifier"
"""``Citizen.document_type`` of the account of a citizen of another country
(``idp.federation.crossborder.accounts``)."""

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name",
        "given_name",
        "family_name",
        "birthdate",
        "locale",
        "updated_at",
        "nationalities",
        "person_identifier",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "document": ("document_number", "document_type", "document_country"),
}
SUPPORTED_CLAIMS = (
    "sub",
    "iss",
    "auth_time",
    "acr",
    "amr",
    "sid",
    *sorted({claim for claims in SCOPE_CLAIMS.values() for claim in claims}),
)
MAX_CLAIMS_PARAMETER_LENGTH = 8 * 1024
VERIFIED_CLAIMS = "verified_claims"
PURPOSE_LENGTH = range(3, 301)
"""OIDC4IDA: a ``purpose`` is 3 to 300 characters long, else the request is invalid."""
MAX_NESTING = 8
"""How deep a ``verified_claims`` request may nest (``verification.evidence[].document_details.
issuer.country_code`` is 5 deep)."""
QUERY_MEMBERS = frozenset({"essential", "value", "values", "max_age", "purpose"})
"""Members of a requested element that query it (OIDC Core 5.5.1, OIDC4IDA ``max_age`` and
``purpose``); any other member names a nested element."""


class ClaimsRequestError(ValueError):
    """The ``claims`` parameter is malformed (-> invalid_request)."""


@dataclass(frozen=True, slots=True)
class ClaimRequest:
    essential: bool = False
    value: Any = None
    values: tuple[Any, ...] | None = None


@dataclass(frozen=True, slots=True)
class ClaimsRequest:
    """The parsed ``claims`` parameter: claims asked for in the ID token and in UserInfo."""

    id_token: dict[str, ClaimRequest]
    userinfo: dict[str, ClaimRequest]
    id_token_verified_claims: tuple[dict[str, Any], ...] = ()
    """The ``verified_claims`` request objects for the ID token, as the client sent them."""
    userinfo_verified_claims: tuple[dict[str, Any], ...] = ()
    """The ``verified_claims`` request objects for UserInfo, as the client sent them."""

    def verified_claim_names(self) -> set[str]:
        """``verified_claims`` and the claims asked for inside it, in either target: what the
        citizen is asked to agree to (the claim names themselves, plus the verification data)."""
        requests = (*self.id_token_verified_claims, *self.userinfo_verified_claims)
        if not requests:
            return set()
        return {VERIFIED_CLAIMS}.union(*(request["claims"] for request in requests))

    def to_json(self) -> dict[str, Any]:
        def member(requests: dict[str, ClaimRequest]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, request in requests.items():
                item: dict[str, Any] = {}
                if request.essential:
                    item["essential"] = True
                if request.value is not None:
                    item["value"] = request.value
                if request.values is not None:
                    item["values"] = list(request.values)
                out[name] = item or None
            return out

        id_token = member(self.id_token)
        if self.id_token_verified_claims:
            id_token[VERIFIED_CLAIMS] = list(self.id_token_verified_claims)
        userinfo = member(self.userinfo)
        if self.userinfo_verified_claims:
            userinfo[VERIFIED_CLAIMS] = list(self.userinfo_verified_claims)
        return {"id_token": id_token, "userinfo": userinfo}


EMPTY_CLAIMS_REQUEST = ClaimsRequest(id_token={}, userinfo={})


def _check_constraints(request: Any, where: str, depth: int = 0) -> None:
    """A requested element: null, or an object whose query members are well-typed (OIDC Core
    5.5.1; ``max_age`` and ``purpose`` from OIDC4IDA) and whose nested elements (an object,
    or an array of them such as ``check_details``) are requested elements too."""
    if request is None:
        return
    if not isinstance(request, dict):
        raise ClaimsRequestError(f"{where} must be null or a JSON object.")
    if depth > MAX_NESTING:
        raise ClaimsRequestError(f"{where} is nested too deeply.")
    for name, nested in request.items():
        if name in QUERY_MEMBERS:
            continue
        if isinstance(nested, list):
            for index, entry in enumerate(nested):
                _check_constraints(entry, f"{where}.{name}[{index}]", depth + 1)
        else:
            _check_constraints(nested, f"{where}.{name}", depth + 1)
    if not isinstance(request.get("essential", False), bool):
        raise ClaimsRequestError(f"{where}.essential must be a boolean.")
    if "values" in request and not isinstance(request["values"], list):
        raise ClaimsRequestError(f"{where}.values must be an array.")
    max_age = request.get("max_age")
    if max_age is not None and (
        isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
    ):
        raise ClaimsRequestError(f"{where}.max_age must be a non-negative integer.")
    purpose = request.get("purpose")
    if purpose is not None and (not isinstance(purpose, str) or len(purpose) not in PURPOSE_LENGTH):
        raise ClaimsRequestError(f"{where}.purpose must be a string of 3 to 300 characters.")


def _check_evidence(evidence: Any, where: str) -> None:
    """OIDC4IDA "Requesting verification data": each entry filters one evidence type, named
    with ``type.value`` (``values`` is not allowed there)."""
    if evidence is None:
        return
    if not isinstance(evidence, list) or not evidence:
        raise ClaimsRequestError(f"{where} must be a non-empty array.")
    for index, entry in enumerate(evidence):
        entry_where = f"{where}[{index}]"
        if not isinstance(entry, dict):
            raise ClaimsRequestError(f"{entry_where} must be a JSON object.")
        kind = entry.get("type")
        if not isinstance(kind, dict) or not isinstance(kind.get("value"), str):
            raise ClaimsRequestError(f"{entry_where}.type must be an object with a string value.")
        if "values" in kind:
            raise ClaimsRequestError(f"{entry_where}.type must not use values.")
        _check_constraints(entry, entry_where)


def _parse_verified_claims(value: Any, where: str) -> tuple[dict[str, Any], ...]:
    """OIDC4IDA: one request object or an array of them, each with a ``verification`` object
    and a non-empty ``claims`` object (an empty ``claims`` is an invalid_request)."""
    requests = value if isinstance(value, list) else [value]
    if not requests:
        raise ClaimsRequestError(f"{where} must not be an empty array.")
    for index, request in enumerate(requests):
        request_where = f"{where}[{index}]" if isinstance(value, list) else where
        if not isinstance(request, dict):
            raise ClaimsRequestError(f"{request_where} must be a JSON object.")
        verification = request.get("verification")
        if not isinstance(verification, dict):
            raise ClaimsRequestError(f"{request_where}.verification must be a JSON object.")
        claims = request.get("claims")
        if not isinstance(claims, dict):
            raise ClaimsRequestError(f"{request_where}.claims must be a JSON object.")
        if not claims:
            raise ClaimsRequestError(f"{request_where}.claims must not be empty.")
        for name, element in verification.items():
            if name == "evidence":
                _check_evidence(element, f"{request_where}.verification.evidence")
            else:
                _check_constraints(element, f"{request_where}.verification.{name}")
        for name, claim in claims.items():
            _check_constraints(claim, f"{request_where}.claims.{name}")
    return tuple(requests)


def _parse_member(
    value: Any, where: str
) -> tuple[dict[str, ClaimRequest], tuple[dict[str, Any], ...]]:
    """The individual claims of one target, and its ``verified_claims`` requests. A null
    ``verified_claims`` names nothing to verify: it stays an ordinary (inert) claim request,
    as it was before verified claims were supported."""
    if value is None:
        return {}, ()
    if not isinstance(value, dict):
        raise ClaimsRequestError(f"claims.{where} must be a JSON object.")
    verified_requests: tuple[dict[str, Any], ...] = ()
    if value.get(VERIFIED_CLAIMS) is not None:
        value = dict(value)
        verified = value.pop(VERIFIED_CLAIMS)
        verified_requests = _parse_verified_claims(verified, f"claims.{where}.verified_claims")
    parsed: dict[str, ClaimRequest] = {}
    for name, request in value.items():
        if request is None:
            parsed[name] = ClaimRequest()
            continue
        if not isinstance(request, dict):
            raise ClaimsRequestError(f"claims.{where}.{name} must be null or a JSON object.")
        essential = request.get("essential", False)
        if not isinstance(essential, bool):
            raise ClaimsRequestError(f"claims.{where}.{name}.essential must be a boolean.")
        values = request.get("values")
        if values is not None and not isinstance(values, list):
            raise ClaimsRequestError(f"claims.{where}.{name}.values must be an array.")
        parsed[name] = ClaimRequest(
            essential=essential,
            value=request.get("value"),
            values=tuple(values) if values is not None else None,
        )
    return parsed, verified_requests


def _claims_request(document: dict[str, Any]) -> ClaimsRequest:
    id_token, id_token_verified = _parse_member(document.get("id_token"), "id_token")
    userinfo, userinfo_verified = _parse_member(document.get("userinfo"), "userinfo")
    return ClaimsRequest(
        id_token=id_token,
        userinfo=userinfo,
        id_token_verified_claims=id_token_verified,
        userinfo_verified_claims=userinfo_verified,
    )


def parse_claims_parameter(raw: str | None) -> ClaimsRequest:
    """Parse the ``claims`` request parameter (OIDC Core 5.5); unknown members are ignored."""
    if raw is None or raw == "":
        return EMPTY_CLAIMS_REQUEST
    if len(raw) > MAX_CLAIMS_PARAMETER_LENGTH:
        raise ClaimsRequestError("The claims parameter is too long.")
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        raise ClaimsRequestError("The claims parameter is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ClaimsRequestError("The claims parameter must be a JSON object.")
    return _claims_request(document)


def claims_request_from_json(document: dict[str, Any] | None) -> ClaimsRequest:
    if not document:
        return EMPTY_CLAIMS_REQUEST
    return _claims_request(document)


def scope_claim_names(scopes: list[str] | set[str] | tuple[str, ...]) -> set[str]:
    names: set[str] = set()
    for scope in scopes:
        names.update(SCOPE_CLAIMS.get(scope, ()))
    return names


def citizen_claim_values(citizen: Citizen) -> dict[str, Any]:
    """Every releasable claim of a citizen that has a value."""
    values: dict[str, Any] = {
        "name": f"{citizen.given_name} {citizen.family_name}",
        "given_name": citizen.given_name,
        "family_name": citizen.family_name,
        "updated_at": int(citizen.updated_at.timestamp()),
        "document_number": citizen.document_number,
        "document_type": citizen.document_type,
        "document_country": citizen.document_country,
    }
    if citizen.birthdate is not None:
        values["birthdate"] = citizen.birthdate.isoformat()
    if citizen.document_type == FOREIGN_DOCUMENT_TYPE:
        # a citizen of another country who logged in through a peer provider: the regional
        # minimum data set (OpenID Connect for Identity Assurance ``nationalities``, and the
        # eIDAS-style ORIGIN/DESTINATION/opaque identifier)
        values["nationalities"] = [citizen.document_country]
        values["person_identifier"] = citizen.document_number
    if citizen.preferred_language:
        values["locale"] = citizen.preferred_language
    if citizen.email:
        values["email"] = citizen.email
        values["email_verified"] = bool(citizen.email_verified)
    if citizen.phone_number:
        values["phone_number"] = citizen.phone_number
        values["phone_number_verified"] = bool(citizen.phone_number_verified)
    return values


def release_claims(
    *, values: dict[str, Any], scope_names: set[str], requested: dict[str, ClaimRequest]
) -> dict[str, Any]:
    """Claims released: those of the granted scopes plus those requested individually."""
    wanted = scope_names | set(requested)
    return {name: values[name] for name in sorted(wanted) if name in values}


def pairwise_subject(*, sector: str, local_subject: str, salt: bytes) -> str:
    """OIDC Core 8.1: a subject that differs per sector and cannot be correlated across them."""
    message = f"{sector}\x00{local_subject}".encode()
    digest = hmac.new(salt, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def subject_for(*, citizen: Citizen, subject_type: str, sector: str | None, salt: bytes) -> str:
    if subject_type == "pairwise" and sector:
        return pairwise_subject(sector=sector, local_subject=citizen.subject, salt=salt)
    return citizen.subject
