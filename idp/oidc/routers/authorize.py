"""Routes of the authorization endpoint, its continuation after login, and the consent page.

Thin: parameters in, ``idp.oidc.authorize_flow`` decides, a response out. The protocol rules
live in ``idp.oidc.authorize`` (validation) and ``idp.oidc.consent``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query
from starlette.requests import Request
from starlette.responses import Response

from idp.dependencies import BrowserDep
from idp.oidc import authorize_flow, endpoints

router = APIRouter()

MAX_AUTHORIZATION_FIELDS = 100
MAX_FIELD_LENGTH = 1024


async def authorization_parameters(request: Request) -> list[tuple[str, str]]:
    """The query of a GET or the form of a POST (OIDC Core 3.1.2.1 allows both)."""
    if request.method == "POST":
        form = await request.form(max_fields=MAX_AUTHORIZATION_FIELDS, max_files=0)
        return [(name, value) for name, value in form.multi_items() if isinstance(value, str)]
    return list(request.query_params.multi_items())


ParametersDep = Annotated[list[tuple[str, str]], Depends(authorization_parameters)]
RequestIdQuery = Annotated[str, Query(max_length=MAX_FIELD_LENGTH)]


@router.api_route(endpoints.AUTHORIZE, methods=["GET", "POST"])
def authorize(parameters: ParametersDep, browser: BrowserDep) -> Response:
    return authorize_flow.start(browser, parameters)


@router.get(endpoints.AUTHORIZE_CONTINUE)
def continue_authorization(request_id: RequestIdQuery, browser: BrowserDep) -> Response:
    return authorize_flow.resume(browser, request_id)


@router.get(endpoints.STEP_UP)
def step_up(request_id: RequestIdQuery, browser: BrowserDep) -> Response:
    return authorize_flow.choose_step_up(browser, request_id)


@router.get(endpoints.CONSENT)
def consent_page(request_id: RequestIdQuery, browser: BrowserDep) -> Response:
    return authorize_flow.show_consent(browser, request_id)


@router.post(endpoints.CONSENT)
def submit_consent(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    decision: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    return authorize_flow.decide_consent(
        browser, csrf_token=csrf_token, request_id=request_id, decision=decision
    )
