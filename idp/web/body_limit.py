"""A ceiling on request bodies for every endpoint (RFC 9110 15.5.14, 413 Content Too Large).

Starlette reads url-encoded forms whole into memory, so without a ceiling one request with a
gigabyte body can exhaust a worker. A declared ``Content-Length`` above the limit is refused
before the application runs; a body streamed without one (chunked) is cut off as soon as it
passes the limit. Bodies are read here (at most the limit) and handed to the application whole,
since a read error inside FastAPI's form parsing would surface as a 400. No citizen form comes
close to the limit.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp.errors import RequestTooLarge  # its code and description

DEFAULT_MAX_BODY_BYTES = 256 * 1024


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await _refuse(send)
            return
        if declared is None and not _is_chunked(scope):
            await self.app(scope, receive, send)
            return
        # A body is coming: read it here, up to the ceiling, then replay it to the app.
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay(bytes(body), message, receive), send)
                return
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _refuse(send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), None, receive), send)


def _replay(body: bytes, pending: Message | None, receive: Receive) -> Receive:
    """A receive that gives the buffered body once, then whatever the client sends next
    (``http.disconnect``)."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if pending is not None:
            return pending
        return await receive()

    return replayed


def _is_chunked(scope: Scope) -> bool:
    return any(
        name == b"transfer-encoding" and b"chunked" in value.lower()
        for name, value in scope.get("headers", ())
    )


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(send: Send) -> None:
    body = json.dumps(
        {"error": RequestTooLarge.error, "error_description": RequestTooLarge.default_description}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
