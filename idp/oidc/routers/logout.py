"""RP-Initiated Logout endpoint (GET and POST)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import Response

from idp.dependencies import BrowserDep
from idp.errors import InvalidRequest
from idp.oidc import backchannel, endpoints
from idp.oidc.authorize import redirect_with, single_valued
from idp.oidc.issuance import subject_of
from idp.oidc.logout import LogoutRequestError, parse_logout_request
from idp.storage import citizens as citizen_store
from idp.storage import clients as client_store
from idp.storage import grants
from idp.web.browser import Browser

router = APIRouter()

FORWARDED = ("id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales")


async def logout_parameters(request: Request) -> list[tuple[str, str]]:
    if request.method == "POST":
        form = await request.form(max_fields=20)
        return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    return list(request.query_params.multi_items())


def _hint_matches_session(browser: Browser, hinted_subject: str | None, client: object) -> bool:
    session = browser.session
    if hinted_subject is None or client is None or session is None or session.citizen_id is None:
        return False
    citizen = citizen_store.get_by_id(browser.db, citizen_id=session.citizen_id)
    if citizen is None:
        return False
    return subject_of(citizen, client, browser.context.settings) == hinted_subject  # type: ignore[arg-type]


def _log_out(browser: Browser) -> None:
    """End the session and the grants made in it, except offline_access ones (OIDC Core 11)."""
    session = browser.session
    if session is not None and session.sid:
        now = browser.context.clock()
        notified: set[str] = set()
        citizen = citizen_store.get_by_id(browser.db, citizen_id=session.citizen_id or 0)
        for grant in grants.grants_of_session(browser.db, sid=session.sid):
            if "offline_access" not in grant.scope.split():
                grants.revoke_grant(browser.db, grant_id=grant.id, now=now)
            client = client_store.get_client(browser.db, client_id=grant.client_id)
            if client is None or citizen is None or client.client_id in notified:
                continue
            notified.add(client.client_id)
            backchannel.enqueue(
                browser.db,
                browser.context,
                client=client,
                subject=subject_of(citizen, client, browser.context.settings),
                sid=session.sid,
                now=now,
            )
    browser.sign_out()


@router.api_route(endpoints.END_SESSION, methods=["GET", "POST"])
def end_session(
    parameters: Annotated[list[tuple[str, str]], Depends(logout_parameters)],
    browser: BrowserDep,
) -> Response:
    values, repeated = single_valued(parameters)
    if repeated:
        raise InvalidRequest("Each logout parameter must be sent once.")
    try:
        request = parse_logout_request(browser.db, browser.context, values)
    except LogoutRequestError as exc:
        raise InvalidRequest(str(exc)) from None
    confirmed = browser.request.method == "POST" and values.get("confirm") == "yes"
    if confirmed:
        browser.check_csrf(values.get("csrf_token"))
    if not confirmed and not _hint_matches_session(browser, request.hinted_subject, request.client):
        if not browser.signed_in:
            return _finish(browser, request.redirect_uri, request.state)
        fields = {name: values[name] for name in FORWARDED if name in values}
        if request.redirect_uri:
            browser.allow_form_target(request.redirect_uri)
        return browser.render("logout_confirm.html", action=endpoints.END_SESSION, fields=fields)
    _log_out(browser)
    return _finish(browser, request.redirect_uri, request.state)


def _finish(browser: Browser, redirect_uri: str | None, state: str | None) -> Response:
    if redirect_uri:
        return browser.redirect(redirect_with(redirect_uri, {"state": state} if state else {}))
    return browser.render("logged_out.html", with_csrf=False)
