"""Routes of cross-border login (``idp.federation.crossborder.flow`` does the work)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from idp.dependencies import BrowserDep
from idp.federation.crossborder import flow
from idp.federation.entity import CALLBACK_PATH

router = APIRouter()

MAX_FIELD_LENGTH = 1024


@router.post(flow.START_PATH)
def start(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    request_id: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    peer: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
) -> Response:
    return flow.start(browser, csrf_token=csrf_token, request_id=request_id, peer_issuer=peer)


@router.get(CALLBACK_PATH)
def callback(browser: BrowserDep) -> Response:
    params: dict[str, str | list[str]] = {}
    for name, value in browser.request.query_params.multi_items():
        existing = params.get(name)
        if existing is None:
            params[name] = value
        else:
            params[name] = [*([existing] if isinstance(existing, str) else existing), value]
    return flow.callback(browser, params)


@router.post(flow.CONSENT_PATH)
def consent(
    browser: BrowserDep,
    csrf_token: Annotated[str, Form(max_length=MAX_FIELD_LENGTH)] = "",
    login: Annotated[str, Form(max_length=100)] = "",
    decision: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    return flow.decide(browser, csrf_token=csrf_token, login_key=login, decision=decision)
