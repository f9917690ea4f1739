"""Cross-border login across the citizen's pages: this provider as a relying party of a peer.

A citizen of another country arrives at our login page with a portal's authorization request
parked (``request_id``). The page lists the federation's providers
(:func:`login_choices`); the citizen picks theirs and the flow reads validate -> decide ->
persist -> respond at each step:

1. :func:`start` (``POST /federation/start``): the peer's Trust Chain must resolve now; the
   portal's level (``acr_values`` / essential ``acr``) is translated into the peer's
   vocabulary and forwarded; the login is remembered server side (keyed by a hash of
   ``state``, bound to this browser session) and the browser goes to the peer with a signed
   Request Object, PKCE, ``state`` and ``nonce``.
2. :func:`callback` (``GET /federation/callback``): the answer must match a login of this
   browser; the code is redeemed at the peer's token endpoint with ``private_key_jwt``; the ID
   token is checked against the keys of the peer's resolved metadata; its ``acr`` must map to
   at least the portal's level; the claims become the regional minimum data set. Nothing is
   created yet: the citizen sees what will pass to the portal.
3. :func:`decide` (``POST /federation/consent``): on consent the account of the foreign
   citizen is created or found, the session is signed in with the peer's mapped level and
   ``amr``, the portal's consent recorded, and the parked request resumes, so the portal
   receives our own ID token (mapped ``acr``, ``amr`` with ``fed``, ``verified_claims`` naming
   the peer).

Every failure ends the cross-border attempt: the login row is deleted, the citizen sees one
sentence in their language (``errors.citizen_message``) and can either choose another way to
log in or return to the portal, which then receives a standard error
(``CrossBorderRefused.oauth_error``). No account, session or token is created on any failure.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import httpx
from sqlalchemy import delete
from starlette.responses import Response

from idp.assurance.methods import AuthMethod
from idp.audit import log as audit_log
from idp.audit.log import AuditEvent
from idp.errors import (
    AccessDenied,
    NotFound,
    ProviderError,
    TemporarilyUnavailable,
    UnmetAuthenticationRequirements,
)
from idp.federation.crossborder.accounts import account_for, record_peer_verification
from idp.federation.crossborder.acr_mapping import AcrTable, default_acr_table, map_peer_acr
from idp.federation.crossborder.callback import check_authorization_response
from idp.federation.crossborder.claims_mapping import (
    authenticated_at,
    federated_amr,
    map_claims,
)
from idp.federation.crossborder.errors import (
    CrossBorderRefused,
    Refusal,
    citizen_message,
    from_trust_chain_error,
)
from idp.federation.crossborder.id_token_check import check_id_token
from idp.federation.crossborder.outbound_request import (
    OutboundRequest,
    SigningKey,
    build_authorization_request,
    client_assertion,
    token_request_form,
)
from idp.federation.crossborder.peers import (
    Peer,
    PeerListing,
    country_name,
    list_peers,
    peer_from_trust_chain,
)
from idp.federation.entity import CALLBACK_PATH, organization_name
from idp.federation.resolver import FederationResolver
from idp.federation.statements import TrustChainError
from idp.oidc import authorize_flow, endpoints
from idp.oidc import consent as consent_rules
from idp.oidc.authorize import (
    AuthorizationRedirect,
    AuthorizationRequestInvalid,
    PendingAuthorization,
    error_parameters,
    redirect_with,
)
from idp.oidc.claims import scope_claim_names
from idp.oidc.outbound import OutboundRefused, check_url, fetch_json
from idp.oidc.step_up import requirement_of
from idp.ops.metrics import metrics_of
from idp.signing_keys.keyring import NoSigningKey
from idp.storage import authorization as pending_store
from idp.storage.models import (
    AuthorizationRequest,
    CitizenStatus,
    CrossBorderLogin,
    CrossBorderStatus,
    OAuthClient,
)
from idp.web.browser import Browser

logger = logging.getLogger("idp.federation.crossborder")

START_PATH = "/federation/start"
CONSENT_PATH = "/federation/consent"
LOGIN_TTL = timedelta(minutes=10)
"""How long a citizen may take at the peer and on the consent page."""
REQUEST_OBJECT_ALG = "ES256"
MAX_TOKEN_RESPONSE_BYTES = 64 * 1024
DATA_SET = ("given_name", "family_name", "birthdate", "nationalities", "person_identifier")
"""What a cross-border login can give a portal (with ``profile`` or asked for by name)."""


# --- the login page -----------------------------------------------------------------------


def enabled(browser: Browser) -> FederationResolver | None:
    """The resolver when cross-border login is offered: federation on, as a leaf, with a
    Trust Anchor to trust peers through."""
    settings = browser.context.settings
    resolver = browser.context.federation
    if resolver is None or settings.federation_role != "leaf" or not resolver.trust_anchors:
        return None
    return resolver


def login_choices(browser: Browser, request_id: str | None) -> list[PeerListing]:
    """The foreign providers the login page offers for a parked authorization request (none
    for a signature request or without one: a foreign login only serves a portal). Their
    authorization endpoints become allowed form targets of the page."""
    resolver = enabled(browser)
    if resolver is None or request_id is None or request_id.startswith("sig."):
        return []
    chains = []
    for entity_id in resolver.provider_ids():
        try:
            chains.append(resolver.chain(entity_id))
        except TrustChainError as exc:
            logger.info("peer %s is not offered: %s", entity_id, exc)
    listings = list_peers(
        chains,
        locale=browser.language,
        own_entity_id=browser.context.settings.issuer,
        now=int(browser.context.clock().timestamp()),
    )
    endpoints_by_issuer = {
        chain.entity_id: chain.metadata.get("authorization_endpoint") for chain in chains
    }
    for listing in listings:
        browser.allow_form_target(str(endpoints_by_issuer[listing.issuer]))
    return listings


# --- 1. start -----------------------------------------------------------------------------


def _state_key(state: str) -> str:
    return hashlib.sha256(state.encode("utf-8", "surrogatepass")).hexdigest()


def _acr_table(browser: Browser) -> AcrTable:
    return browser.context.federation_acr_table or default_acr_table()


def _signing_key(browser: Browser) -> SigningKey:
    """The current OpenID Connect key: the one our ``openid_relying_party`` metadata
    publishes (``jwks``), so the peer finds it through our Trust Chain."""
    try:
        material = browser.context.keyring.signing_material(REQUEST_OBJECT_ALG)
    except NoSigningKey as exc:
        raise CrossBorderRefused(Refusal.PEER_UNREACHABLE, f"no signing key: {exc}") from None
    return SigningKey(private_key=material.private_key, kid=material.kid, alg=REQUEST_OBJECT_ALG)


def _peer(browser: Browser, resolver: FederationResolver, issuer: str) -> Peer:
    if issuer not in resolver.provider_ids():
        raise CrossBorderRefused(Refusal.PEER_UNKNOWN, f"{issuer!r} is not a listed peer")
    try:
        return peer_from_trust_chain(resolver.chain(issuer))
    except TrustChainError as exc:
        raise from_trust_chain_error(exc, peer=issuer) from None


def start(browser: Browser, *, csrf_token: str, request_id: str, peer_issuer: str) -> Response:
    browser.check_csrf(csrf_token)
    resolver = enabled(browser)
    if resolver is None:
        raise NotFound("Cross-border login is not offered here.")
    now = browser.context.clock()
    row, pending, client = authorize_flow.load_pending(browser, request_id, now=now)
    settings = browser.context.settings
    requirement = requirement_of(settings, pending.request)
    try:
        peer = _peer(browser, resolver, peer_issuer)
        outbound = build_authorization_request(
            client_id=settings.issuer,
            redirect_uri=settings.issuer + CALLBACK_PATH,
            peer=peer,
            key=_signing_key(browser),
            table=_acr_table(browser),
            requested_level=requirement.minimum_level,
            essential=requirement.essential,
            now=int(now.timestamp()),
            ui_locales=browser.language,
        )
    except CrossBorderRefused as refusal:
        return _refused(browser, refusal, row=row, pending=pending, client=client, peer=None)
    session = browser.ensure_session()
    browser.db.execute(delete(CrossBorderLogin).where(CrossBorderLogin.expires_at < now))
    browser.db.add(
        CrossBorderLogin(
            id=_state_key(outbound.state),
            browser_session_id=session.id,
            authorization_request_id=row.id,
            peer_issuer=peer.issuer,
            nonce=outbound.nonce,
            code_verifier=outbound.code_verifier,
            requested_level=outbound.requested_level,
            acr_values=outbound.acr_values,
            status=CrossBorderStatus.SENT,
            created_at=now,
            expires_at=now + LOGIN_TTL,
        )
    )
    browser.db.flush()
    return browser.redirect(outbound.url)


# --- 2. callback --------------------------------------------------------------------------


def _login_of(browser: Browser, key: str, status: CrossBorderStatus) -> CrossBorderLogin:
    """The login in progress with row ``key``, of this browser, in ``status``, unexpired;
    else ``wrong_state`` (a forged or replayed answer, another browser's, a stale tab)."""
    session = browser.session
    if session is None or len(key) != 64:
        raise CrossBorderRefused(Refusal.WRONG_STATE, "no session, or no login named")
    login = browser.db.get(CrossBorderLogin, key)
    if login is None or login.browser_session_id != session.id or login.status != status:
        raise CrossBorderRefused(Refusal.WRONG_STATE, "no such login in this browser")
    if login.expires_at <= browser.context.clock():
        raise CrossBorderRefused(Refusal.WRONG_STATE, "the login expired")
    return login


def _outbound(login: CrossBorderLogin, state: str, redirect_uri: str) -> OutboundRequest:
    """What we sent, as the checks of the answer need it."""
    return OutboundRequest(
        url="",
        peer_issuer=login.peer_issuer,
        state=state,
        nonce=login.nonce,
        code_verifier=login.code_verifier,
        redirect_uri=redirect_uri,
        requested_level=login.requested_level,
        acr_values=login.acr_values,
        request_object="",
    )


def _redeem(browser: Browser, peer: Peer, form: dict[str, str]) -> dict[str, Any]:
    """The peer's token response (RFC 6749 5.1), fetched with the outbound rules (SSRF
    defences, no redirects, a time and a size limit)."""
    settings = browser.context.settings
    try:
        check_url(peer.token_endpoint, settings)
    except OutboundRefused as exc:
        raise CrossBorderRefused(Refusal.PEER_UNTRUSTED, f"token endpoint: {exc}") from None
    timeout = settings.outbound_timeout_seconds
    deadline = time.monotonic() + timeout
    body = bytearray()
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as http,
            http.stream(
                "POST", peer.token_endpoint, data=form, headers={"accept": "application/json"}
            ) as response,
        ):
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_TOKEN_RESPONSE_BYTES or time.monotonic() > deadline:
                    raise CrossBorderRefused(
                        Refusal.PEER_UNREACHABLE, "the token response is too large or too slow"
                    )
            status = response.status_code
    except httpx.HTTPError as exc:
        raise CrossBorderRefused(
            Refusal.PEER_UNREACHABLE, f"token endpoint: {type(exc).__name__}"
        ) from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise CrossBorderRefused(Refusal.MALFORMED, f"token endpoint answered {status}, not JSON")
    if status != 200:
        raise CrossBorderRefused(
            Refusal.PEER_ERROR, f"token endpoint answered {status} {answer.get('error')!r}"
        )
    return answer


def _peer_keys(browser: Browser, peer: Peer) -> dict[str, Any]:
    if peer.jwks is not None:
        return dict(peer.jwks)
    assert peer.jwks_uri is not None  # peer_from_metadata requires one of the two
    try:
        keys = fetch_json(peer.jwks_uri, browser.context.settings)
    except OutboundRefused as exc:
        raise CrossBorderRefused(Refusal.PEER_UNREACHABLE, f"jwks_uri: {exc}") from None
    if not isinstance(keys, dict):
        raise CrossBorderRefused(Refusal.PEER_UNTRUSTED, "jwks_uri is not a JWK Set")
    return keys


def callback(browser: Browser, params: dict[str, str | list[str]]) -> Response:
    """``GET /federation/callback``: check the peer's answer and show the consent page."""
    now = browser.context.clock()
    settings = browser.context.settings
    state = params.get("state")
    try:
        if not isinstance(state, str) or not state or len(state) > 200:
            raise CrossBorderRefused(Refusal.WRONG_STATE, "no single state in the answer")
        login = _login_of(browser, _state_key(state), CrossBorderStatus.SENT)
    except CrossBorderRefused as refusal:
        return _refused(browser, refusal, row=None, pending=None, client=None, peer=None)
    context = _parked(browser, login, now=now)
    if context is None:
        browser.db.delete(login)
        raise AuthorizationRequestInvalid(debug="the portal's request is gone")
    row, pending, client = context
    peer: Peer | None = None
    try:
        resolver = enabled(browser)
        if resolver is None:
            raise CrossBorderRefused(Refusal.PEER_UNKNOWN, "cross-border login is off")
        peer = _peer(browser, resolver, login.peer_issuer)
        sent = _outbound(login, state, settings.issuer + CALLBACK_PATH)
        code = check_authorization_response(params, request=sent, peer=peer)
        assertion = client_assertion(
            client_id=settings.issuer,
            peer=peer,
            key=_signing_key(browser),
            now=int(now.timestamp()),
        )
        answer = _redeem(
            browser,
            peer,
            token_request_form(
                code=code, request=sent, client_id=settings.issuer, assertion=assertion
            ),
        )
        table = _acr_table(browser)
        claims = check_id_token(
            answer.get("id_token"),
            peer=peer,
            client_id=settings.issuer,
            nonce=login.nonce,
            now=int(now.timestamp()),
            table=table,
            requested_level=login.requested_level,
            jwks=_peer_keys(browser, peer),
            leeway=settings.clock_skew_seconds,
        )
        data = map_claims(
            claims,
            peer=peer,
            destination=settings.country,
            secret=settings.person_identifier_secret_bytes(),
            today=now.date(),
        )
        level = map_peer_acr(claims.get("acr"), table, issuer=peer.issuer) or 0
    except CrossBorderRefused as refusal:
        browser.db.delete(login)
        return _refused(browser, refusal, row=row, pending=pending, client=client, peer=peer)
    login.status = CrossBorderStatus.ANSWERED
    login.result = {
        "given_name": data.given_name,
        "family_name": data.family_name,
        "birthdate": data.birthdate,
        "nationality": data.nationality,
        "person_identifier": data.person_identifier,
        "level": level,
        "amr": federated_amr(claims.get("amr")),
        "verified_at": authenticated_at(claims),
        "peer_name": peer.organization_name,
    }
    return _consent_page(browser, login, pending=pending, client=client)


def _parked(
    browser: Browser, login: CrossBorderLogin, *, now: datetime
) -> tuple[AuthorizationRequest, PendingAuthorization, OAuthClient] | None:
    try:
        return authorize_flow.load_pending(browser, login.authorization_request_id, now=now)
    except AuthorizationRequestInvalid:
        return None


@dataclass(frozen=True, slots=True)
class _Line:
    label: str
    value: str


def _released(pending: PendingAuthorization) -> list[str]:
    """The data set attributes the portal's request will receive."""
    request = pending.request
    wanted = scope_claim_names(request.scopes) | set(request.claim_names())
    return [name for name in DATA_SET if name in wanted]


def _consent_page(
    browser: Browser,
    login: CrossBorderLogin,
    *,
    pending: PendingAuthorization,
    client: OAuthClient,
) -> Response:
    from idp.web.i18n import Translator

    result = login.result or {}
    translate = Translator(browser.language)
    values = {
        "given_name": result["given_name"],
        "family_name": result["family_name"],
        "birthdate": result["birthdate"],
        "nationalities": country_name(str(result["nationality"]), browser.language),
        "person_identifier": result["person_identifier"],
    }
    lines = [
        _Line(translate(f"crossborder.attribute.{name}"), str(values[name]))
        for name in _released(pending)
    ]
    return browser.render(
        "crossborder_consent.html",
        action=CONSENT_PATH,
        login=login.id,
        client_name=client.client_name,
        peer_name=result["peer_name"],
        country=country_name(str(result["nationality"]), browser.language),
        lines=lines,
        request_id=login.authorization_request_id,
    )


# --- 3. consent ---------------------------------------------------------------------------


def decide(browser: Browser, *, csrf_token: str, login_key: str, decision: str) -> Response:
    """``POST /federation/consent``: allow -> account, session, the portal's consent, and
    back to the parked request; deny -> ``access_denied`` to the portal."""
    browser.check_csrf(csrf_token)
    now = browser.context.clock()
    try:
        login = _login_of(browser, login_key, CrossBorderStatus.ANSWERED)
    except CrossBorderRefused as refusal:
        return _refused(browser, refusal, row=None, pending=None, client=None, peer=None)
    context = _parked(browser, login, now=now)
    browser.db.delete(login)
    if context is None:
        raise AuthorizationRequestInvalid(debug="the portal's request is gone")
    row, pending, client = context
    if decision not in consent_rules.DECISIONS:
        raise AuthorizationRequestInvalid(debug="no decision")
    if decision == consent_rules.DENY:
        pending_store.delete_request(browser.db, request=row)
        return _to_portal(browser, pending, client, AccessDenied("The citizen did not allow it."))
    result = dict(login.result or {})
    citizen = account_for(
        browser.db,
        person_identifier=str(result["person_identifier"]),
        origin=str(result["nationality"]),
        peer_issuer=login.peer_issuer,
        given_name=str(result["given_name"]),
        family_name=str(result["family_name"]),
        birthdate=date.fromisoformat(str(result["birthdate"])),
        now=now,
    )
    if citizen.status != CitizenStatus.ACTIVE:
        refusal = CrossBorderRefused(Refusal.PEER_UNTRUSTED, "the local account is disabled")
        return _refused(browser, refusal, row=row, pending=pending, client=client, peer=None)
    level = int(result["level"])
    record_peer_verification(
        browser.db,
        citizen=citizen,
        level=level,
        peer_issuer=login.peer_issuer,
        peer_name=str(result["peer_name"]),
        country=str(result["nationality"]),
        verified_at=now,
    )
    browser.sign_in(citizen, method=AuthMethod.FEDERATION)
    session = browser.session
    assert session is not None
    session.federation = {"issuer": login.peer_issuer, "level": level, "amr": result["amr"]}
    wanted = consent_rules.requested_consent(pending.request)
    pending_store.record_consent(
        browser.db,
        citizen_id=citizen.id,
        client_id=client.client_id,
        scopes=sorted(wanted.scopes),
        claims=sorted(wanted.claims),
        now=now,
    )
    audit_log.append(
        browser.db,
        event=AuditEvent.CONSENT_GRANTED,
        actor=f"citizen:{citizen.id}",
        now=now,
        citizen_id=citizen.id,
        client_id=client.client_id,
        details={
            "scopes": sorted(wanted.scopes),
            "claims": sorted(wanted.claims),
            "peer": login.peer_issuer,
        },
    )
    query = {"request_id": row.id}
    if pending.request.ui_locales:
        query["ui_locales"] = pending.request.ui_locales
    return browser.redirect(f"{endpoints.AUTHORIZE_CONTINUE}?{urlencode(query)}")


# --- refusals -----------------------------------------------------------------------------


def _portal_error(refusal: CrossBorderRefused) -> ProviderError:
    description = "The identity provider of the other country could not be used."
    match refusal.oauth_error:
        case "unmet_authentication_requirements":
            return UnmetAuthenticationRequirements(description)
        case "temporarily_unavailable":
            return TemporarilyUnavailable(description)
        case _:
            return AccessDenied(description)


def _to_portal(
    browser: Browser, pending: PendingAuthorization, client: OAuthClient, error: ProviderError
) -> Response:
    """The standard error to the portal, as the authorization flow sends any (query or
    form_post, with ``state`` and ``iss``)."""
    destination = pending.request.destination(client.client_name)
    return authorize_flow.respond_with_error(
        browser, AuthorizationRedirect(error, destination=destination)
    )


def _refused(
    browser: Browser,
    refusal: CrossBorderRefused,
    *,
    row: AuthorizationRequest | None,
    pending: PendingAuthorization | None,
    client: OAuthClient | None,
    peer: Peer | None,
) -> Response:
    """The citizen's page for a refused cross-border login: what happened, in their
    language; "log in another way" (the login page of the same request) and "return to the
    portal" (which delivers the standard error). Nothing was created."""
    logger.info("cross-border login refused: %s: %s", refusal.reason.value, refusal.message)
    now = browser.context.clock()
    audit_log.append(
        browser.db,
        event=AuditEvent.FEDERATED_LOGIN_REFUSED,
        actor=f"federation:{peer.issuer if peer else 'unknown'}",
        now=now,
        details={"reason": refusal.reason.value},
    )
    metrics = metrics_of(browser.request)
    if metrics is not None:
        upstream = peer.issuer if peer is not None else "unknown"
        metrics.federation_failures.labels(upstream, refusal.reason.value).inc()
    message = citizen_message(refusal.reason, browser.language)
    fields: dict[str, str] = {}
    return_url = None
    form_post = False
    action = None
    client_name = None
    if row is not None and pending is not None and client is not None:
        destination = pending.request.destination(client.client_name)
        fields = error_parameters(
            _portal_error(refusal), state=destination.state, issuer=browser.context.settings.issuer
        )
        form_post = destination.response_mode == "form_post"
        action = destination.redirect_uri
        return_url = redirect_with(destination.redirect_uri, fields)
        client_name = client.client_name
        if form_post:
            browser.allow_form_target(destination.redirect_uri)
    status = 502 if refusal.reason is Refusal.PEER_UNREACHABLE else 400
    return browser.render(
        "crossborder_refused.html",
        status_code=status,
        message=message,
        client_name=client_name,
        login_url=f"/login?{urlencode({'request_id': row.id})}" if row is not None else None,
        return_url=return_url,
        form_post=form_post,
        action=action,
        fields=fields,
        provider_name=organization_name(browser.context.settings),
        hide_language_switcher=True,
    )
