"""Load shedding: a worker answers at most ``IDP_MAX_CONCURRENT_REQUESTS`` requests at once.

Beyond that it refuses at once with 503 ``temporarily_unavailable`` and ``Retry-After: 1``
(RFC 9110 15.6.4 and 10.2.3) instead of queueing: a queue only adds latency for everyone, and a
load balancer or a client can retry on another worker. The probes and the metrics endpoint are
never refused, so an overloaded worker is not mistaken for a dead one and stays observable.

Pure ASGI (no per-request objects). A worker runs one event loop, so the counter needs no lock:
nothing awaits between the check and the increment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection

from starlette.types import ASGIApp, Receive, Scope, Send

from idp.errors import TemporarilyUnavailable
from idp.ops.logging import SHED_SCOPE_KEY

DEFAULT_MAX_CONCURRENT_REQUESTS = 200
RETRY_AFTER_SECONDS = 1

_BODY = json.dumps(
    {
        "error": TemporarilyUnavailable.error,
        "error_description": TemporarilyUnavailable.default_description,
    }
).encode("utf-8")
_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(_BODY)).encode("ascii")),
    (b"cache-control", b"no-store"),
    (b"retry-after", str(RETRY_AFTER_SECONDS).encode("ascii")),
]


def route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        return path[len(root_path) :] or "/"
    return path


class OverloadMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT_REQUESTS,
        exempt_paths: Collection[str] = (),
        on_shed: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.max_concurrent = max_concurrent
        self.exempt_paths = frozenset(exempt_paths)
        self.on_shed = on_shed
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope) in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_concurrent:
            await self.shed(scope, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def shed(self, scope: Scope, send: Send) -> None:
        scope[SHED_SCOPE_KEY] = True
        if self.on_shed is not None:
            self.on_shed()
        await send({"type": "http.response.start", "status": 503, "headers": list(_HEADERS)})
        await send({"type": "http.response.body", "body": _BODY})
