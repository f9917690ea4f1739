"""Structured logs: one JSON object per line, a request id on every record of a request.

``RequestContextMiddleware`` (pure ASGI) gives each request an id: the caller's ``X-Request-ID``
when it is a sane token (1 to 64 characters of ``[A-Za-z0-9._-]``), else a new random one. The
id is echoed in the response header and put in a context variable, so every record logged
while the request runs (in the event loop or in the thread pool, which copies the context)
carries it. At the end the middleware writes one access record and hands the same facts to the
metrics.

What is logged about a request is its method, its route *template* (``/items/{id}``, never the
URL), its status and its duration: never the query string, headers (``Authorization``,
cookies), form bodies, codes or tokens.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp.config import Settings

LogFormat = Literal["json", "text"]

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
UNMATCHED_ROUTE = "<unmatched>"
"""Route label of a request no route matched (a 404)."""
SHED_ROUTE = "<shed>"
"""Route label of a request refused by load shedding before routing."""
SHED_SCOPE_KEY = "idp.shed"

request_id_var: ContextVar[str | None] = ContextVar("idp_request_id", default=None)

access_logger = logging.getLogger("idp.access")

ACCESS_FIELDS = ("method", "path", "status", "duration_ms")
"""Record attributes (``extra=``) that the JSON formatter writes as fields of their own."""

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def log_format_of(settings: Settings) -> LogFormat:
    """``IDP_LOG_FORMAT``, else JSON in production and text in development."""
    if settings.log_format is not None:
        return settings.log_format
    return "json" if settings.is_production else "text"


# --- request ids --------------------------------------------------------------------------------


def new_request_id() -> str:
    return secrets.token_hex(16)


def accepted_request_id(value: bytes | None) -> str | None:
    """The caller's request id if it is a sane token, else None (a new one is made)."""
    if not value or len(value) > 64:
        return None
    text = value.decode("latin-1")
    return text if REQUEST_ID_PATTERN.fullmatch(text) else None


def current_request_id() -> str | None:
    return request_id_var.get()


# --- formatting ---------------------------------------------------------------------------------


class RequestIdFilter(logging.Filter):
    """Puts ``request_id`` on every record (``-`` outside a request), for both formats."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, and the access
    fields (method, path template, status, duration_ms) when the record has them."""

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        if request_id in (None, "-"):
            request_id = request_id_var.get()
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": request_id,
        }
        for name in ACCESS_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                document[name] = value
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False, default=str)


def logging_config(log_format: LogFormat, *, level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` document (uvicorn's ``log_config``): every record,
    uvicorn's included, through one handler on stderr in the chosen format."""
    formatter: dict[str, Any] = (
        {"()": "idp.ops.logging.JsonFormatter"} if log_format == "json" else {"format": TEXT_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "idp.ops.logging.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "default",
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["default"], "level": level.upper()},
        "loggers": {
            # Levels set explicitly: uvicorn may have set its own on these loggers before.
            "uvicorn": {"handlers": [], "propagate": True, "level": level.upper()},
            "uvicorn.error": {"handlers": [], "propagate": True, "level": level.upper()},
            # uvicorn's access log writes the raw URL (query strings with codes); ours does not.
            "uvicorn.access": {"handlers": [], "propagate": False},
        },
    }


# --- the middleware -----------------------------------------------------------------------------


def route_template(scope: Scope, root_path: str) -> str:
    """The matched route's path template; a mounted app's prefix plus ``/{path}``."""
    if scope.get(SHED_SCOPE_KEY):
        return SHED_ROUTE
    route = scope.get("route")
    if route is not None:
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
        if isinstance(template, str):
            return template
    mounted = scope.get("root_path", "")
    if isinstance(mounted, str) and mounted != root_path and mounted.startswith(root_path):
        return f"{mounted[len(root_path) :]}/{{path}}"
    return UNMATCHED_ROUTE


RequestObserver = Callable[[str, str, int, float], None]
"""Called once per request with (method, route template, status, duration in seconds)."""


class RequestContextMiddleware:
    """Request id, access log and request metrics, in one pass (pure ASGI)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        observe: RequestObserver | None = None,
        quiet_routes: frozenset[str] = frozenset(),
    ) -> None:
        self.app = app
        self.observe = observe
        self.quiet_routes = quiet_routes
        """Routes (probes, scrapes) whose access records are DEBUG rather than INFO."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope.get("headers", ())).get(REQUEST_ID_HEADER)
        request_id = accepted_request_id(incoming) or new_request_id()
        token = request_id_var.set(request_id)
        root_path = scope.get("root_path", "")
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != REQUEST_ID_HEADER
                ]
                headers.append((REQUEST_ID_HEADER, request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        except BaseException:
            # The unexpected-error handler runs outside this middleware (Starlette's
            # ServerErrorMiddleware): the id stays set so that its record carries it too. The
            # request's task, and with it this context, ends right after.
            self.log(scope, root_path, status, started, request_id)
            raise
        self.log(scope, root_path, status, started, request_id)
        request_id_var.reset(token)

    def log(
        self, scope: Scope, root_path: str, status: int, started: float, request_id: str
    ) -> None:
        duration = time.perf_counter() - started
        method = str(scope.get("method", ""))
        template = route_template(scope, root_path)
        access_logger.log(
            logging.DEBUG if template in self.quiet_routes else logging.INFO,
            "%s %s %s %.1fms",
            method,
            template,
            status,
            duration * 1000,
            extra={
                "request_id": request_id,
                "method": method,
                "path": template,
                "status": status,
                "duration_ms": round(duration * 1000, 1),
            },
        )
        if self.observe is not None:
            self.observe(method, template, status, duration)
