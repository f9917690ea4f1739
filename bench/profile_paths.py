"""Profile one hot path of the provider in-process, deterministically, with cProfile.

Usage: python bench/profile_paths.py [--database auto|postgresql|sqlite] [--requests N]
       [--scenarios userinfo,refresh,client_credentials,jwks,session_flow] [--top K] [--sort cumulative|tottime]
       [--filter REGEX] [--no-profile]

Starts a throwaway database, seeds it like ``oidc_bench`` (through ``idp serve`` for a moment),
then builds the application in this process and sends ``--requests`` requests per scenario
through the whole ASGI stack (middleware, routing, dependencies, the route, the database), one
at a time. Synchronous routes run inline instead of in the thread pool, so that cProfile, which
sees one thread only, sees them; this removes the thread-pool hop from what is measured, so
read the per-request figures as the cost of the work, not of the hop.

It prints, per scenario, the CPU time per request of this process (and of the PostgreSQL
backends, whose CPU a request also costs) and the top entries of the profile by cumulative
time; the profile counts CPU time (``time.process_time``), not time spent waiting for the
database. Run it before and after a change, on the same machine, a minute apart.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import cProfile
import io
import os
import pstats
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from compare import (
    REDIRECT_URI,
    authorization_query,
    database,
    database_kind,
    login_form,
    our_provider,
    our_target,
)
from oidc_bench import ROOT, process_tree_cpu

SCENARIOS = ("userinfo", "refresh", "client_credentials", "jwks", "session_flow", "password_flow")


def request_scope(method: str, path: str, headers: dict[str, str], *, port: int) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", port),
        "state": {},
    }


async def call(app: Any, scope: dict[str, Any], body: bytes) -> tuple[int, bytes, str]:
    """One request through the ASGI application; the status, the body and the ``Location``
    header of the response (its ``Set-Cookie`` headers go to ``scope["set_cookies"]``)."""
    sent = False
    status = 0
    location = ""
    set_cookies: list[str] = scope.setdefault("set_cookies", [])
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        nonlocal location
        if message["type"] == "http.response.start":
            status = message["status"]
            for name, value in message.get("headers", []):
                if name == b"location":
                    location = value.decode()
                elif name == b"set-cookie":
                    set_cookies.append(value.decode())
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks), location


@contextlib.contextmanager
def inline_thread_pool() -> Iterator[None]:
    """Run ``run_in_threadpool`` work inline, so that cProfile sees the synchronous routes
    (Starlette and FastAPI reach the pool through ``anyio.to_thread.run_sync``)."""
    from anyio import to_thread

    original = to_thread.run_sync

    async def inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
        return func(*args)

    to_thread.run_sync = inline  # type: ignore[assignment]
    try:
        yield
    finally:
        to_thread.run_sync = original


def make_requests(
    setup: dict[str, Any], port: int, state: dict[str, str]
) -> dict[str, Callable[[], tuple]]:
    """Builders of each scenario's request; ``state["refresh"]`` is the refresh token to send
    next (each response's new one replaces it)."""
    basic = (
        "Basic "
        + base64.b64encode(f"{setup['client_id']}:{setup['client_secret']}".encode()).decode()
    )
    form_headers = {
        "host": f"127.0.0.1:{port}",
        "content-type": "application/x-www-form-urlencoded",
        "authorization": basic,
    }

    def userinfo() -> tuple:
        headers = {"host": f"127.0.0.1:{port}", "authorization": f"Bearer {setup['access_token']}"}
        return request_scope("GET", "/userinfo", headers, port=port), b""

    def refresh() -> tuple:
        body = urlencode({"grant_type": "refresh_token", "refresh_token": state["refresh"]})
        headers = {**form_headers, "content-length": str(len(body))}
        return request_scope("POST", "/token", headers, port=port), body.encode()

    def client_credentials() -> tuple:
        body = urlencode({"grant_type": "client_credentials", "scope": "profile"})
        headers = {**form_headers, "content-length": str(len(body))}
        return request_scope("POST", "/token", headers, port=port), body.encode()

    def jwks() -> tuple:
        headers = {"host": f"127.0.0.1:{port}"}
        return request_scope("GET", "/jwks.json", headers, port=port), b""

    target = our_target(setup, jwks_path="/jwks.json")

    def authorize() -> tuple:
        query = authorization_query(target, prompt="none")
        path, _, query_string = query.partition("?")
        headers = {"host": f"127.0.0.1:{port}", "cookie": setup["cookie"]}
        scope = request_scope("GET", path, headers, port=port)
        scope["query_string"] = query_string.encode()
        return scope, b""

    def exchange() -> tuple:
        body = urlencode(
            {
                "grant_type": "authorization_code",
                "code": state["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": setup["verifier"],
            }
        )
        headers = {**form_headers, "content-length": str(len(body))}
        return request_scope("POST", "/token", headers, port=port), body.encode()

    return {
        "userinfo": userinfo,
        "refresh": refresh,
        "client_credentials": client_credentials,
        "jwks": jwks,
        "session_flow": authorize,
        "session_flow_token": exchange,
    }


async def run_scenario(
    app: Any,
    scenario: str,
    requests: dict[str, Any],
    count: int,
    after: Callable[[bytes], None],
) -> None:
    if scenario == "password_flow":
        for _ in range(count):
            await password_flow(app, requests)
        return
    build: Callable[[], tuple] = requests[scenario]
    for _ in range(count):
        scope, body = build()
        status, content, location = await call(app, scope, body)
        if scenario == "session_flow":
            # The authorization half answers with a redirect carrying the code; the token half
            # (prompt=none on a signed-in session, then the code exchange) is part of the flow.
            if status not in (302, 303):
                raise RuntimeError(f"{scenario}: HTTP {status}: {content[:300]!r}")
            requests["state"]["code"] = parse_qs(urlsplit(location).query)["code"][0]
            scope, body = requests["session_flow_token"]()
            status, content, _ = await call(app, scope, body)
        if status != 200:
            raise RuntimeError(f"{scenario}: HTTP {status}: {content[:300]!r}")
        after(content)


async def password_flow(app: Any, requests: dict[str, Any]) -> None:
    """A new browser: authorize, login page, login (argon2id), back to authorize, code, token;
    cookies kept between the requests like a browser would."""
    state = requests["state"]
    port = state["port"]
    cookies: dict[str, str] = {}
    scope, _ = requests["session_flow"]()  # the same authorization request, without prompt
    path = scope["path"]
    query = scope["query_string"].decode().replace("&prompt=none", "")
    method, data = "GET", b""
    for _ in range(10):
        headers = {"host": f"127.0.0.1:{port}"}
        if cookies:
            headers["cookie"] = "; ".join(f"{name}={value}" for name, value in cookies.items())
        if data:
            headers["content-type"] = "application/x-www-form-urlencoded"
            headers["content-length"] = str(len(data))
        scope = request_scope(method, path, headers, port=port)
        scope["query_string"] = query.encode()
        status, content, location = await call(app, scope, data)
        for line in scope["set_cookies"]:
            pair = line.partition(";")[0]
            name, _, value = pair.partition("=")
            if value and "01 jan 1970" not in line.lower():
                cookies[name.strip()] = value
            else:
                cookies.pop(name.strip(), None)
        if status in (302, 303):
            if location.startswith(REDIRECT_URI):
                state["code"] = parse_qs(urlsplit(location).query)["code"][0]
                token_scope, token_body = requests["session_flow_token"]()
                status, content, _ = await call(app, token_scope, token_body)
                if status != 200:
                    raise RuntimeError(f"password_flow token: HTTP {status}: {content[:300]!r}")
                return
            parts = urlsplit(location)
            path, query, method, data = parts.path, parts.query, "GET", b""
        elif status == 200 and b"<form" in content:
            action, fields = login_form(content)
            parts = urlsplit(action)
            path, query, method = parts.path, parts.query, "POST"
            data = urlencode(fields).encode()
        else:
            raise RuntimeError(f"password_flow: HTTP {status}: {content[:300]!r}")
    raise RuntimeError("password_flow: no code after 10 requests")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=("postgresql", "sqlite", "auto"), default="auto")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--scenarios", default="userinfo,refresh")
    parser.add_argument("--top", type=int, default=35)
    parser.add_argument("--sort", default="cumulative", help="pstats order: cumulative, tottime")
    parser.add_argument(
        "--filter", default="", help="regular expression the listed functions' names must match"
    )
    parser.add_argument("--no-profile", action="store_true")
    parser.add_argument(
        "--statements",
        action="store_true",
        help="print the SQL statements of one operation of each scenario, then stop",
    )
    args = parser.parse_args()
    unknown = set(args.scenarios.split(",")) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    sys.path.insert(0, str(ROOT))
    kind = database_kind(args.database)
    folder = Path(tempfile.mkdtemp(prefix="idp-profile-"))
    try:
        with database(kind, folder) as (database_url, database_pids):
            with our_provider(folder, database_url, 1) as (_server, setup):
                env = {
                    "IDP_ISSUER": setup["issuer"],
                    "IDP_DATABASE_URL": database_url,
                    "IDP_KEYS_DIR": str(folder / "keys"),
                    "IDP_KEY_PASSPHRASE": "benchmark passphrase, not secret",
                    "IDP_LOG_LEVEL": "WARNING",
                }
            os.environ.update(env)
            port = int(setup["issuer"].rsplit(":", 1)[1])
            asyncio.run(profile(args, setup, port, database_pids))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def profile(
    args: argparse.Namespace, setup: dict[str, Any], port: int, database_pids: list[int]
) -> None:
    import json

    from idp.app import create_app
    from idp.config import load_settings

    app = create_app(load_settings())
    state = {"refresh": setup["refresh_pool"][-1]}
    requests: dict[str, Any] = make_requests(setup, port, state)
    requests["state"] = state
    state["port"] = port

    def after(content: bytes) -> None:
        if b"refresh_token" in content:
            state["refresh"] = json.loads(content)["refresh_token"]

    async with app.router.lifespan_context(app):
        with inline_thread_pool():
            for scenario in args.scenarios.split(","):
                await run_scenario(app, scenario, requests, 200, after)  # warm-up
                if args.statements:
                    await print_statements(app, scenario, requests, after)
                    continue
                own, db = time.process_time(), sum(map(process_tree_cpu, database_pids))
                await run_scenario(app, scenario, requests, args.requests, after)
                own = time.process_time() - own
                db = sum(map(process_tree_cpu, database_pids)) - db
                print(
                    f"## {scenario}: {1000 * own / args.requests:.3f} ms CPU per request here "
                    f"+ {1000 * db / args.requests:.3f} ms in the database "
                    f"({args.requests} requests, one at a time)"
                )
                if args.no_profile:
                    continue
                profiler = cProfile.Profile(time.process_time)  # CPU, not waiting
                profiler.enable()
                await run_scenario(app, scenario, requests, args.requests, after)
                profiler.disable()
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                stats.sort_stats(args.sort).print_stats(args.filter, args.top)
                if os.environ.get("PROFILE_CALLEES"):
                    stats.print_callees(os.environ["PROFILE_CALLEES"])
                print(trimmed(out.getvalue()))


async def print_statements(
    app: Any, scenario: str, requests: dict[str, Any], after: Callable[[bytes], None]
) -> None:
    """The statements one operation sends to the database, in order (round trips to cut)."""
    from sqlalchemy import event

    engine = app.state.provider.database.engine
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split())[:160])

    event.listen(engine, "before_cursor_execute", record)
    try:
        await run_scenario(app, scenario, requests, 1, after)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    print(f"## {scenario}: {len(statements)} statements (BEGIN/COMMIT not counted)")
    for number, statement in enumerate(statements, 1):
        print(f"{number:3}. {statement}")


def trimmed(report: str) -> str:
    """The pstats table without machine paths (site-packages and the checkout shortened)."""
    report = re.sub(r"\S*/site-packages/", "", report)
    report = re.sub(r"\S*/(idp|bench)/", r"\1/", report)
    report = re.sub(r"\S*/lib/python3\.\d+/", "", report)
    return "\n".join(line for line in report.splitlines() if line.strip())


if __name__ == "__main__":
    main()
