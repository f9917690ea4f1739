"""Security headers on every response (pure ASGI middleware: no per-request objects).

CSP: no script at all (the pages work without JavaScript), styles and images only from us,
forms only to us, no framing (``frame-ancestors 'none'`` plus ``X-Frame-Options`` for old
browsers). HSTS only when the issuer is https: on http it would be ignored or harmful.
A header the route set itself is kept (see ``form_post_policy``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def form_post_policy(target_origin: str) -> str:
    """CSP of the form_post response page: like the default, but the form may post to the
    client's redirect URI origin (OAuth 2.0 Form Post Response Mode)."""
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action {target_origin}")


def form_action_source(redirect_uri: str) -> str:
    """The CSP ``form-action`` source that allows exactly the redirect URI's origin (CSP3
    serialized-source-list): ``https://host:port`` for web URIs, ``scheme:`` for a native
    app's private-use scheme."""
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("http", "https"):
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:"


def flow_page_policy(target_origins: list[str]) -> str:
    """CSP of a page whose form may end at a client: the login, step-up and consent pages of
    a pending authorization, the logout confirmation. Browsers apply ``form-action`` to every
    redirect that follows the submission (CSP3), so the client's origin must be allowed next
    to ``'self'`` for the final 303 to the redirect URI to be followed."""
    sources = " ".join(["'self'", *dict.fromkeys(target_origins)])
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action {sources}")


def security_headers(*, https: bool) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"x-frame-options", b"DENY"),
        (b"referrer-policy", b"no-referrer"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
    ]
    if https:
        headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
    return headers


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.headers = security_headers(https=https)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = list(message.get("headers", []))
                present = {name.lower() for name, _ in existing}
                # A route may set a stricter or more specific header of its own (the form_post
                # response needs form-action to the client's origin); that one wins.
                message["headers"] = existing + [
                    (name, value) for name, value in self.headers if name not in present
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)
