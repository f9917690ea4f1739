"""Consent rules (OIDC Core 3.1.2.4, 5.4, 5.5 and 11; RFC 6749 4.1 step B).

The citizen is asked before a client receives personal data: once per client for what it asks,
remembered in a ``Consent`` row until withdrawn, and asked again when a request goes beyond it
or carries ``prompt=consent`` (OIDC Core 3.1.2.1). ``offline_access`` is a scope like the
others, so refresh tokens are only granted with consent (OIDC Core 11).

What a consent covers: its scopes, every claim those scopes release (OIDC Core 5.4), and the
claims agreed to one by one through the ``claims`` parameter (OIDC Core 5.5). Claims that
describe the login or the token rather than the person (``sub``, ``auth_time``, ``acr``,
``amr``...) need no consent of their own: ``sub`` comes with ``openid`` and the rest are not
personal data. A claim we do not know is treated as personal data and must be agreed to by
name, so that a claim added to the provider later is never released on an older consent.

``verified_claims`` (OpenID Connect for Identity Assurance 1.0) is agreed to by name, as
personal data of its own (how, when and with which documents the identity was verified), and
so is each claim requested inside it, exactly like a claim requested on its own: the citizen
sees both on the consent page, and what they agreed to is then released as requested.

Pure functions of explicit inputs; the router looks up the row and renders the page.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from idp.oidc.authorize import ValidatedRequest
from idp.oidc.claims import SCOPE_CLAIMS, scope_claim_names
from idp.storage.models import Consent

PROTOCOL_CLAIMS = frozenset(
    {"sub", "iss", "aud", "azp", "exp", "iat", "nonce", "auth_time", "acr", "amr", "sid"}
)
"""Claims about the login or the token, not about the person: no consent of their own."""

DESCRIBED_SCOPES = ("profile", "email", "phone", "address", "document", "offline_access")
"""Scopes the consent page explains in plain language (``openid`` has its own line)."""

DESCRIBED_CLAIMS = frozenset(
    {*(name for names in SCOPE_CLAIMS.values() for name in names), "verified_claims"}
)
"""Claims with a plain-language description; any other personal claim is shown by name."""

ALLOW = "allow"
DENY = "deny"
DECISIONS = frozenset({ALLOW, DENY})


@dataclass(frozen=True, slots=True)
class ConsentRequest:
    """What a request needs the citizen to agree to."""

    scopes: frozenset[str]
    claims: frozenset[str]


def personal_claims(names: Iterable[str]) -> frozenset[str]:
    """The claims that need consent by name: every one except the protocol claims."""
    return frozenset(name for name in names if name not in PROTOCOL_CLAIMS)


def requested_claim_names(request: ValidatedRequest) -> set[str]:
    """Claims requested individually (OIDC Core 5.5), plus ``verified_claims`` and the claims
    requested inside it."""
    return set(request.claim_names()) | request.claims_request().verified_claim_names()


def requested_consent(request: ValidatedRequest) -> ConsentRequest:
    return ConsentRequest(
        scopes=frozenset(request.scopes), claims=personal_claims(requested_claim_names(request))
    )


def remembered_consent(consent: Consent | None) -> ConsentRequest | None:
    """What a stored consent still covers; None when there is none or it was withdrawn."""
    if consent is None or consent.withdrawn_at is not None:
        return None
    return ConsentRequest(scopes=frozenset(consent.scopes), claims=frozenset(consent.claims))


def covers(granted: ConsentRequest, requested: ConsentRequest) -> bool:
    """Every requested scope was agreed to, and every requested claim either by name or
    through a scope that releases it (OIDC Core 5.4)."""
    if not requested.scopes <= granted.scopes:
        return False
    agreed_claims = granted.claims | scope_claim_names(tuple(granted.scopes))
    return requested.claims <= agreed_claims


def consent_needed(
    *, prompt: list[str], remembered: ConsentRequest | None, request: ValidatedRequest
) -> bool:
    """OIDC Core 3.1.2.4: ask when ``prompt=consent`` demands it, or when no remembered
    consent covers the request."""
    if "consent" in prompt:
        return True
    return remembered is None or not covers(remembered, requested_consent(request))


@dataclass(frozen=True, slots=True)
class ConsentPageItems:
    """What the consent page lists: the described scopes in the order requested, then the
    personal claims asked for by name that those scopes do not already include."""

    scopes: tuple[str, ...]
    described_claims: tuple[str, ...]
    other_claims: tuple[str, ...]


def page_items(request: ValidatedRequest) -> ConsentPageItems:
    scopes = tuple(scope for scope in request.scopes if scope in DESCRIBED_SCOPES)
    through_scopes = scope_claim_names(request.scopes)
    extra = sorted(requested_consent(request).claims - through_scopes)
    return ConsentPageItems(
        scopes=scopes,
        described_claims=tuple(name for name in extra if name in DESCRIBED_CLAIMS),
        other_claims=tuple(name for name in extra if name not in DESCRIBED_CLAIMS),
    )
