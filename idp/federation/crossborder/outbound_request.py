"""This provider as a relying party of a peer provider: the authorization request and the
client authentication at the peer's token endpoint.

- Automatic registration (OpenID Federation 1.0 section 12.1): there is no client secret and
  no registration step; the ``client_id`` is this provider's Entity Identifier and the
  authorization request is a signed Request Object (RFC 9101, ``typ: oauth-authz-req+jwt``,
  section 10.2) with ``iss`` = ``client_id``, ``aud`` = the peer's issuer, a short ``exp`` and
  a ``jti`` (section 12.1.1.1), signed with a key of this provider's
  ``openid_relying_party`` ``jwks``. The peer resolves our Trust Chain to find that key; a
  ``trust_chain`` header may carry it to save the peer the fetches.
- The request carries PKCE (RFC 7636, ``S256`` only), ``state`` and ``nonce`` (OpenID Connect
  Core 3.1.2.1), the requested level translated into the peer's vocabulary (the lowest peer
  value that maps at or above it, :func:`~idp.federation.crossborder.acr_mapping.peer_acr_for`)
  in ``acr_values``, and a ``claims`` request (Core 5.5) for the regional minimum data set in
  the ID token, with an essential ``acr`` when the portal's request was essential.
- The authorization URL repeats ``client_id``, ``response_type=code`` and ``scope=openid``
  beside ``request`` (Core 6.1 requires them as query parameters too).
- :func:`client_assertion`: ``private_key_jwt`` (RFC 7523 section 2.2, Core 9) for the peer's
  token endpoint. ``aud`` is the peer's issuer by default, as one string: since the 2025
  disclosure of audience injection against ``private_key_jwt``, the OpenID Foundation's
  specifications (Core errata, FAPI 2.0, Federation) point clients at the issuer identifier
  rather than an endpoint URL; ``audience="token_endpoint"`` sends the endpoint URL instead for
  a peer that insists on it (Core 9 as first published). This provider's own verifier
  (``idp.oidc.client_assertion``) accepts both.

Everything is a pure function of explicit inputs (keys, ``now``, random values that a test may
pass in); signatures are made by PyJWT.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlencode, urlsplit

import jwt

from idp.federation.crossborder.acr_mapping import AcrTable, peer_acr_for, sufficient_peer_values
from idp.federation.crossborder.errors import CrossBorderRefused, Refusal
from idp.federation.crossborder.peers import Peer

REQUEST_OBJECT_TYP = "oauth-authz-req+jwt"
"""RFC 9101 section 10.2."""
CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
"""RFC 7523 section 2.2."""
REQUEST_OBJECT_LIFETIME = 60
"""Seconds: the citizen's browser carries the request to the peer at once."""
CLIENT_ASSERTION_LIFETIME = 60
SIGNING_ALGORITHMS = frozenset({"ES256", "ES384", "ES512", "PS256", "RS256", "EdDSA"})
MINIMUM_DATA_SET_CLAIMS = ("given_name", "family_name", "birthdate")
"""Asked for in the ID token (the nationality comes from the peer's country)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key of this provider's ``openid_relying_party`` ``jwks``."""

    private_key: Any
    kid: str
    alg: str

    def __post_init__(self) -> None:
        if self.alg not in SIGNING_ALGORITHMS:
            raise ValueError(f"{self.alg!r} is not an asymmetric JWS algorithm we sign with")
        if not self.kid:
            raise ValueError("the signing key needs a kid, so that the peer can find it")

    def sign(self, claims: dict[str, Any], *, typ: str, extra: dict[str, Any] | None = None) -> str:
        headers = {"typ": typ, "kid": self.kid, **(extra or {})}
        return jwt.encode(claims, self.private_key, algorithm=self.alg, headers=headers)


@dataclass(frozen=True, slots=True)
class PkcePair:
    """RFC 7636: ``code_verifier`` (kept) and ``code_challenge`` (sent), method ``S256``."""

    verifier: str
    challenge: str
    method: str = "S256"


def s256_challenge(verifier: str) -> str:
    """RFC 7636 section 4.2: BASE64URL(SHA256(ASCII(code_verifier)))."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pkce_pair() -> PkcePair:
    """A fresh verifier of 86 characters (64 random bytes; RFC 7636 allows 43 to 128)."""
    verifier = secrets.token_urlsafe(64)
    return PkcePair(verifier=verifier, challenge=s256_challenge(verifier))


@dataclass(frozen=True, slots=True)
class OutboundRequest:
    """What the browser is sent to, and what the callback must remember (server side)."""

    url: str
    peer_issuer: str
    state: str
    nonce: str
    code_verifier: str
    redirect_uri: str
    requested_level: int
    """The level the portal asked for (0: none), checked again on the way back."""
    acr_values: str | None
    """The peer value sent, or None."""
    request_object: str


def _claims_request(peer_values: Sequence[str], *, essential: bool) -> dict[str, Any]:
    id_token: dict[str, Any] = {name: {"essential": True} for name in MINIMUM_DATA_SET_CLAIMS}
    if peer_values and essential:
        id_token["acr"] = {"essential": True, "values": list(peer_values)}
    return {"id_token": id_token}


def build_authorization_request(
    *,
    client_id: str,
    redirect_uri: str,
    peer: Peer,
    key: SigningKey,
    table: AcrTable,
    requested_level: int,
    now: int,
    essential: bool = False,
    ui_locales: str | None = None,
    trust_chain: Sequence[str] | None = None,
    state: str | None = None,
    nonce: str | None = None,
    pkce: PkcePair | None = None,
    jti: str | None = None,
    lifetime: int = REQUEST_OBJECT_LIFETIME,
) -> OutboundRequest:
    """The authorization request to ``peer`` for a portal's request of ``requested_level``.

    Raises ``level_too_low`` when the peer announces no acr value worth that level (there is
    no point sending the citizen). ``state``, ``nonce``, ``pkce`` and ``jti`` are random
    unless given.
    """
    if peer.request_object_signing_alg_values_supported and (
        key.alg not in peer.request_object_signing_alg_values_supported
    ):
        raise CrossBorderRefused(
            Refusal.UNSUPPORTED_ALG,
            f"{peer.issuer} does not accept request objects signed with {key.alg}",
        )
    acr = peer_acr_for(
        requested_level, table, issuer=peer.issuer, supported=peer.acr_values_supported
    )
    sufficient = (
        sufficient_peer_values(
            requested_level, table, issuer=peer.issuer, supported=peer.acr_values_supported
        )
        if acr is not None
        else []
    )
    state = state or secrets.token_urlsafe(32)
    nonce = nonce or secrets.token_urlsafe(32)
    pkce = pkce or new_pkce_pair()
    parameters: dict[str, Any] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid",
        "state": state,
        "nonce": nonce,
        "code_challenge": pkce.challenge,
        "code_challenge_method": pkce.method,
        "claims": _claims_request(sufficient, essential=essential),
    }
    if acr is not None:
        parameters["acr_values"] = acr
    if ui_locales:
        parameters["ui_locales"] = ui_locales
    claims = {
        "iss": client_id,
        "aud": peer.issuer,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "jti": jti or secrets.token_urlsafe(24),
        **parameters,
    }
    extra = {"trust_chain": list(trust_chain)} if trust_chain else None
    request_object = key.sign(claims, typ=REQUEST_OBJECT_TYP, extra=extra)
    query = urlencode(
        {
            "client_id": client_id,
            "request": request_object,
            "response_type": "code",
            "scope": "openid",
        }
    )
    separator = "&" if urlsplit(peer.authorization_endpoint).query else "?"
    return OutboundRequest(
        url=f"{peer.authorization_endpoint}{separator}{query}",
        peer_issuer=peer.issuer,
        state=state,
        nonce=nonce,
        code_verifier=pkce.verifier,
        redirect_uri=redirect_uri,
        requested_level=requested_level,
        acr_values=acr,
        request_object=request_object,
    )


def client_assertion(
    *,
    client_id: str,
    peer: Peer,
    key: SigningKey,
    now: int,
    audience: Literal["issuer", "token_endpoint"] = "issuer",
    jti: str | None = None,
    lifetime: int = CLIENT_ASSERTION_LIFETIME,
) -> str:
    """A ``private_key_jwt`` assertion for ``peer``'s token endpoint (RFC 7523 section 3):
    ``iss`` = ``sub`` = ``client_id``, ``aud`` one string, ``iat``, ``exp``, ``jti``."""
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": peer.issuer if audience == "issuer" else peer.token_endpoint,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti or secrets.token_urlsafe(24),
    }
    return key.sign(claims, typ="JWT")


def token_request_form(
    *, code: str, request: OutboundRequest, client_id: str, assertion: str
) -> dict[str, str]:
    """The form of the token request (RFC 6749 section 4.1.3, RFC 7636 section 4.5)."""
    return {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": request.redirect_uri,
        "code_verifier": request.code_verifier,
        "client_id": client_id,
        "client_assertion_type": CLIENT_ASSERTION_TYPE,
        "client_assertion": assertion,
    }
