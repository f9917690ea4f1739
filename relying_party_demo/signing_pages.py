"""Signing a sworn statement ("declaración jurada") with the provider's signature service.

- ``GET /firma``: the statement the signed-in citizen is about to sign, and the format;
- ``POST /firma``: create the signature request (``relying_party_demo.signature_api``) for the
  citizen's ``sub``, keep its id, its ``state`` and the document in the session, and send the
  browser to the provider's ``approval_uri``;
- ``GET /firma/vuelta``: the provider's return (``request_id``, ``state``, maybe ``error``);
  both must be the ones kept in this browser's session, once; then on to the result;
- ``GET /firma/resultado``: the request's status in plain words and, once signed, the
  provider's verification report of the signature (``POST /signature/verify``);
- ``GET /firma/documento`` and ``GET /firma/archivo-firma``: the document and its signature
  (``.p7s`` or ``.jws``) as files.

The provider's answer decides the outcome: a return with ``error=access_denied`` only says the
citizen came back; the status says whether they declined or the request expired.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from relying_party_demo import i18n
from relying_party_demo.signature_api import UNAVAILABLE, SignatureApi, SignatureServiceError
from relying_party_demo.signing import (
    Declaration,
    RequestStatus,
    SignatureFormat,
    declaration,
    new_state,
    same_secret,
    signature_file,
    signer_of,
)
from relying_party_demo.web import (
    Portal,
    PortalDep,
    csrf_ok,
    current_login,
    error_page,
    forged_form,
    language_of,
    render,
    unreachable,
)

log = logging.getLogger("relying_party_demo")

SIGN, RETURN, RESULT, DOCUMENT, SIGNATURE = (
    "/firma",
    "/firma/vuelta",
    "/firma/resultado",
    "/firma/documento",
    "/firma/archivo-firma",
)
SESSION_KEY = "signing"
"""The session's signature request: its id, the ``state`` (until the return), whether the
citizen came back, and the document (its name and text; the signature stays at the provider,
fetched when shown: the session is a cookie)."""


def _pending(request: Request) -> dict[str, Any] | None:
    pending = request.session.get(SESSION_KEY)
    return pending if isinstance(pending, dict) else None


def _document_of(pending: dict[str, Any]) -> Declaration:
    return Declaration(file_name=str(pending["file_name"]), text=str(pending["text"]))


def _statement(portal: Portal, request: Request, login: dict[str, Any]) -> Declaration:
    name, number = signer_of({**login.get("userinfo", {}), **login["claims"]})
    return declaration(
        name=name,
        document_number=number,
        today=datetime.now(UTC).date(),
        translate=i18n.Translator(language_of(request, portal.settings)),
    )


def _refused(portal: Portal, request: Request, exc: SignatureServiceError) -> HTMLResponse:
    """The provider said no: unavailable for now, or the portal's request is at fault."""
    unavailable = exc.error == UNAVAILABLE
    return render(
        portal,
        request,
        "error.html",
        status_code=503 if unavailable else 502,
        title_key="sign.error.service.title",
        message_key="sign.error.unavailable" if unavailable else "sign.error.refused",
        technical=exc.error,
    )


def _bad_return(portal: Portal, request: Request) -> HTMLResponse:
    return error_page(
        portal,
        request,
        title_key="sign.error.bad_state.title",
        message_key="sign.error.bad_state.text",
        status_code=400,
    )


def add_routes(app: FastAPI) -> None:
    @app.get(SIGN, response_class=HTMLResponse)
    async def sign_page(request: Request, portal: PortalDep) -> Response:
        login = current_login(request)
        if login is None:
            return render(
                portal, request, "signed_out.html", destination=SIGN, message_key="sign.signed_out"
            )
        return render(
            portal,
            request,
            "sign.html",
            document=_statement(portal, request, login),
            formats=list(SignatureFormat),
        )

    @app.post(SIGN)
    async def start_signing(
        request: Request,
        portal: PortalDep,
        signature_format: Annotated[str, Form(max_length=10)] = SignatureFormat.CADES.value,
        csrf_token: Annotated[str, Form(max_length=200)] = "",
    ) -> Response:
        """Create the request at the provider and send the citizen there to approve it."""
        login = current_login(request)
        if login is None:
            return RedirectResponse(SIGN, status_code=303)
        if not csrf_ok(request, csrf_token):
            return forged_form(portal, request)
        if signature_format not in set(SignatureFormat):
            return error_page(
                portal,
                request,
                title_key="error.generic.title",
                message_key="error.generic.text",
                status_code=400,
            )
        chosen = SignatureFormat(signature_format)
        document = _statement(portal, request, login)
        state = new_state()
        api = SignatureApi(portal.provider, portal.settings)
        try:
            created = await api.create_request(
                subject=login["claims"]["sub"],
                document=document,
                signature_format=chosen,
                state=state,
            )
        except SignatureServiceError as exc:
            return _refused(portal, request, exc)
        except httpx.HTTPError:
            log.warning("the signature API could not be reached", exc_info=True)
            return unreachable(portal, request)
        request.session[SESSION_KEY] = {
            "request_id": created.request_id,
            "state": state,
            "file_name": document.file_name,
            "text": document.text,
            "returned": False,
        }
        return RedirectResponse(created.approval_uri, status_code=303)

    @app.get(RETURN)
    async def signing_return(request: Request, portal: PortalDep) -> Response:
        """The citizen back from the provider: the ``state`` and the ``request_id`` must be
        the ones this browser's session keeps, and are accepted once."""
        pending = _pending(request)
        query = request.query_params
        if (
            pending is None
            or not same_secret(pending.get("state"), query.get("state"))
            or not same_secret(pending.get("request_id"), query.get("request_id"))
        ):
            return _bad_return(portal, request)
        request.session[SESSION_KEY] = {**pending, "state": None, "returned": True}
        return RedirectResponse(RESULT, status_code=303)

    @app.get(RESULT, response_class=HTMLResponse)
    async def signing_result(request: Request, portal: PortalDep) -> Response:
        login, pending = current_login(request), _pending(request)
        if login is None:
            return render(
                portal, request, "signed_out.html", destination=SIGN, message_key="sign.signed_out"
            )
        if pending is None or not pending.get("returned"):
            return RedirectResponse(SIGN, status_code=303)
        api = SignatureApi(portal.provider, portal.settings)
        document = _document_of(pending)
        try:
            result = await api.fetch_result(str(pending["request_id"]))
            verdict = None
            if result.status is RequestStatus.SIGNED and result.signature is not None:
                verdict = await api.verify(document=document.content, signature=result.signature)
        except SignatureServiceError as exc:
            return _refused(portal, request, exc)
        except httpx.HTTPError:
            log.warning("the signature API could not be reached", exc_info=True)
            return unreachable(portal, request)
        return render(
            portal,
            request,
            "sign_result.html",
            result=result,
            verdict=verdict,
            document=document,
        )

    @app.get(DOCUMENT)
    async def download_document(request: Request, portal: PortalDep) -> Response:
        pending = _pending(request)
        if current_login(request) is None or pending is None:
            return RedirectResponse(SIGN, status_code=303)
        document = _document_of(pending)
        return Response(
            document.content,
            media_type="text/plain; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{document.file_name}"'},
        )

    @app.get(SIGNATURE)
    async def download_signature(request: Request, portal: PortalDep) -> Response:
        pending = _pending(request)
        if current_login(request) is None or pending is None or not pending.get("returned"):
            return RedirectResponse(SIGN, status_code=303)
        try:
            result = await SignatureApi(portal.provider, portal.settings).fetch_result(
                str(pending["request_id"])
            )
            file = signature_file(_document_of(pending), result)
        except SignatureServiceError as exc:
            return _refused(portal, request, exc)
        except httpx.HTTPError:
            return unreachable(portal, request)
        except ValueError:  # not signed (yet)
            return RedirectResponse(RESULT, status_code=303)
        return Response(
            file.content,
            media_type=file.media_type,
            headers={"content-disposition": f'attachment; filename="{file.file_name}"'},
        )
