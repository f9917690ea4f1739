"""Which claims a client receives, and their values (OIDC Core 5.1, 5.4, 5.5, 8).

Scopes map to claims (5.4, plus ``document`` for the national document); the ``claims``
request parameter selects individual claims for the ID token or UserInfo (5.5). Claim values
come from the citizen record; only claims both requested and allowed are released.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from idp.storage.models import Citizen

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("name", "given_name", "family_name", "birthdate", "locale", "updated_at"),
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

        return {"id_token": member(self.id_token), "userinfo": member(self.userinfo)}


EMPTY_CLAIMS_REQUEST = ClaimsRequest(id_token={}, userinfo={})


def _parse_member(value: Any, where: str) -> dict[str, ClaimRequest]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ClaimsRequestError(f"claims.{where} must be a JSON object.")
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
    return parsed


def parse_claims_parameter(raw: str | None) -> ClaimsRequest:
    """Parse the ``claims`` request parameter (OIDC Core 5.5); unknown members are ignored."""
    if raw is None or raw == "":
        return EMPTY_CLAIMS_REQUEST
    if len(raw) > MAX_CLAIMS_PARAMETER_LENGTH:
        raise ClaimsRequestError("The claims parameter is too long.")
    try:
        document = json.loads(raw)
    except ValueError:
        raise ClaimsRequestError("The claims parameter is not valid JSON.") from None
    if not isinstance(document, dict):
        raise ClaimsRequestError("The claims parameter must be a JSON object.")
    return ClaimsRequest(
        id_token=_parse_member(document.get("id_token"), "id_token"),
        userinfo=_parse_member(document.get("userinfo"), "userinfo"),
    )


def claims_request_from_json(document: dict[str, Any] | None) -> ClaimsRequest:
    if not document:
        return EMPTY_CLAIMS_REQUEST
    return ClaimsRequest(
        id_token=_parse_member(document.get("id_token"), "id_token"),
        userinfo=_parse_member(document.get("userinfo"), "userinfo"),
    )


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
