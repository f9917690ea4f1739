"""RP-Initiated Logout 1.0 rules.

The ``id_token_hint`` is one of our ID tokens (expired ones are accepted, section 2); its key
may be retired but must still be published (a revoked key is refused). A
``post_logout_redirect_uri`` is followed only when it exactly matches one the client
registered. Without a valid hint for the signed-in citizen the provider asks before logging
out, so that a forged link cannot log anyone out (logout CSRF).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.context import ProviderContext
from idp.oidc.jose import TokenInvalid, verify
from idp.storage import clients as client_store
from idp.storage.models import OAuthClient


class LogoutRequestError(ValueError):
    """The logout request is inconsistent; no redirect may be made."""


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    client: OAuthClient | None
    hinted_subject: str | None
    redirect_uri: str | None
    state: str | None


def parse_logout_request(
    session: Session, context: ProviderContext, params: dict[str, str]
) -> LogoutRequest:
    settings = context.settings
    hinted_subject: str | None = None
    hinted_client: str | None = None
    hint = params.get("id_token_hint")
    if hint:
        try:
            verified = verify(
                hint,
                keyring=context.keyring,
                typ="JWT",
                issuer=settings.issuer,
                audience=None,
                leeway=settings.clock_skew_seconds,
                verify_exp=False,
            )
        except TokenInvalid:
            verified = None
        if verified is not None:
            audience = verified.claims.get("aud")
            audiences = audience if isinstance(audience, list) else [audience]
            hinted_client = verified.claims.get("azp") or (audiences[0] if audiences else None)
            subject = verified.claims.get("sub")
            hinted_subject = subject if isinstance(subject, str) else None
    client_id = params.get("client_id")
    if client_id and hinted_client and client_id != hinted_client:
        raise LogoutRequestError("client_id does not match the id_token_hint.")
    client_id = client_id or hinted_client
    client = client_store.get_client(session, client_id=client_id) if client_id else None
    redirect_uri = params.get("post_logout_redirect_uri")
    if redirect_uri and (client is None or redirect_uri not in client.post_logout_redirect_uris):
        redirect_uri = None
    return LogoutRequest(
        client=client,
        hinted_subject=hinted_subject,
        redirect_uri=redirect_uri,
        state=params.get("state"),
    )
