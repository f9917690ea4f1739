"""This provider side by side with node's oidc-provider (the anchor), in one run.

Usage: python bench/compare.py [--duration S] [--warmup S] [--processes N] [--connections C]
       [--workers W] [--database auto|postgresql|sqlite] [--scenarios a,b,...] [--profile DIR]

Installs the pinned ``oidc-provider`` into ``bench/anchor/node_modules`` on first use, starts
it (one Node process) and ``idp serve --workers W`` (W = cores by default, on a throwaway
PostgreSQL server when its binaries are installed) on loopback ports, seeds the same client and
citizen in both, and drives every scenario against one server then the other with the same load
generator, duration and concurrency. Per scenario it prints operations/s, p50/p99 latency and
operations per server CPU-second for both, and the ratio this/anchor.

CPU time is read from /proc (the server process and its descendants, exited ones included)
before and after each run: the anchor is one Node process while we run several workers, and the
machine is shared with the load generator, so operations per server CPU-second is the fair
figure, wall-clock throughput only a hint. Our CPU includes PostgreSQL's backends, since the
anchor keeps its state in its own memory.

It also measures the floor of this machine, on one core: ES256 and RS256 signatures/s and
argon2id verifications/s with the provider's default parameters. The anchor's demo login
checks no password, so our password flow is compared with the argon2id floor instead.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import html
import json
import multiprocessing
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from oidc_bench import (
    IDP,
    PASSWORD,
    REDIRECT_URI,
    ROOT,
    USERNAME,
    Connection,
    build_request,
    descendants,
    form,
    free_port,
    percentile,
    process_tree_cpu,
    provision,
)

ANCHOR = Path(__file__).resolve().parent / "anchor"
REFRESH_POOL = 256


# --- the two servers, seen alike by the load generator ----------------------------------------


@dataclass(frozen=True)
class Target:
    """What a load generator needs to know about one server; picklable for worker processes."""

    issuer: str
    client_id: str
    client_secret: str
    authorization_path: str
    token_path: str
    userinfo_path: str
    jwks_path: str
    session_cookie: str = ""
    """Cookies of a signed-in browser whose consent is remembered (for prompt=none)."""
    access_token: str = ""
    refresh_pool: tuple[str, ...] = ()
    verifier: str = ""


def new_verifier() -> str:
    """A PKCE code verifier (RFC 7636 4.1)."""
    return base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 4.2)."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_query(target: Target, *, prompt: str | None) -> str:
    """The same authorization request for both servers (PKCE S256, openid + offline_access)."""
    params = {
        "client_id": target.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid profile email offline_access",
        "state": "bench",
        "code_challenge": s256(target.verifier),
        "code_challenge_method": "S256",
    }
    if prompt:
        params["prompt"] = prompt
    return f"{target.authorization_path}?{urlencode(params)}"


# --- a browser on one keep-alive connection ---------------------------------------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Browser:
    """A connection with a cookie jar: enough to walk both servers' login pages."""

    connection: Connection
    host: str
    basic: str
    """The client's Authorization header (client_secret_basic, RFC 6749 2.3.1)."""
    token_path: str
    cookies: dict[str, str] = field(default_factory=dict)
    requests: int = 0

    async def send(
        self, method: str, path: str, *, data: dict[str, str] | None = None, **extra: str
    ) -> Response:
        headers = dict(extra)
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = b""
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            body = form(data)
        raw = build_request(method, path, self.host, headers=headers, body=body)
        status, response_headers, response_body = await self.connection.request(raw)
        self.requests += 1
        self.remember(self.connection.set_cookies)
        return Response(status, response_headers, response_body)

    def remember(self, set_cookies: list[str]) -> None:
        """Keep name=value of each cookie; drop the ones the server expires."""
        for line in set_cookies:
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            expired = "expires=thu, 01 jan 1970" in attributes.lower() or not value
            if expired:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    async def token(self, data: dict[str, str]) -> Response:
        return await self.send("POST", self.token_path, data=data, Authorization=self.basic)


async def open_browser(target: Target) -> Browser:
    """A browser with an empty cookie jar on a new connection to the target."""
    parts = urlsplit(target.issuer)
    connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
    await connection.open()
    secret = base64.b64encode(f"{target.client_id}:{target.client_secret}".encode()).decode()
    return Browser(connection, parts.netloc, f"Basic {secret}", target.token_path)


def login_form(page: bytes) -> tuple[str, dict[str, str]]:
    """The first POST form of a page: its action and fields, with the credentials filled in.

    Ours asks for ``username`` and ``password`` (and carries a CSRF token); the anchor's
    devInteractions form asks for ``login`` (any value) and ``password`` (not checked).
    """
    text = page.decode()
    opening = re.search(r"<form[^>]*>", text)
    if opening is None:
        raise RuntimeError("no form on the login page")
    action = html.unescape(re.search(r'action="([^"]*)"', opening.group(0)).group(1))
    fields: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", text[opening.end() :]):
        attributes = dict(re.findall(r'(\w[\w-]*)="([^"]*)"', tag))
        name = attributes.get("name")
        if not name:
            continue
        if attributes.get("type") == "hidden":
            fields[name] = html.unescape(attributes.get("value", ""))
        elif name in ("username", "login"):
            fields[name] = USERNAME
        elif name == "password":
            fields[name] = PASSWORD
    return action, fields


def local_path(location: str, issuer: str) -> str:
    return location[len(issuer) :] if location.startswith(issuer) else location


async def authorize(browser: Browser, target: Target, *, prompt: str | None) -> str | None:
    """Walk an authorization request to its code: redirects, and the login form if shown."""
    response = await browser.send("GET", authorization_query(target, prompt=prompt))
    for _ in range(10):
        if response.status in (302, 303):
            location = response.headers["location"]
            if location.startswith(REDIRECT_URI):
                return parse_qs(urlsplit(location).query).get("code", [None])[0]
            response = await browser.send("GET", local_path(location, target.issuer))
        elif response.status == 200 and b"<form" in response.body:
            action, fields = login_form(response.body)
            response = await browser.send("POST", local_path(action, target.issuer), data=fields)
        else:
            return None
    return None


async def exchange(browser: Browser, target: Target, code: str) -> Response:
    return await browser.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": target.verifier,
        }
    )


# --- scenarios: one operation each, True when it succeeded ------------------------------------


Scenario = Callable[[Browser, Target, dict[str, str]], Awaitable[bool]]


async def client_credentials(browser: Browser, target: Target, state: dict[str, str]) -> bool:
    response = await browser.token({"grant_type": "client_credentials", "scope": "profile"})
    return response.status == 200


async def refresh(browser: Browser, target: Target, state: dict[str, str]) -> bool:
    """One rotation of this connection's own refresh token (both servers rotate on use)."""
    response = await browser.token(
        {"grant_type": "refresh_token", "refresh_token": state["refresh_token"]}
    )
    if response.status != 200:
        return False
    state["refresh_token"] = json.loads(response.body)["refresh_token"]
    return True


async def password_flow(browser: Browser, target: Target, state: dict[str, str]) -> bool:
    """A new browser: authorize, login page, login, back to authorize, code, token."""
    browser.cookies.clear()
    code = await authorize(browser, target, prompt=None)
    return code is not None and (await exchange(browser, target, code)).status == 200


async def session_flow(browser: Browser, target: Target, state: dict[str, str]) -> bool:
    """A signed-in browser with remembered consent: authorize with prompt=none, then token."""
    browser.cookies = dict(
        pair.split("=", 1) for pair in target.session_cookie.split("; ") if "=" in pair
    )
    code = await authorize(browser, target, prompt="none")
    return code is not None and (await exchange(browser, target, code)).status == 200


async def userinfo(browser: Browser, target: Target, state: dict[str, str]) -> bool:
    response = await browser.send(
        "GET", target.userinfo_path, Authorization=f"Bearer {target.access_token}"
    )
    return response.status == 200


async def discovery(browser: Browser, target: Target, state: dict[str, str]) -> bool:
    response = await browser.send("GET", "/.well-known/openid-configuration")
    return response.status == 200


async def jwks(browser: Browser, target: Target, state: dict[str, str]) -> bool:
    response = await browser.send("GET", target.jwks_path)
    return response.status == 200


SCENARIO_FUNCTIONS: dict[str, Scenario] = {
    "client_credentials": client_credentials,
    "refresh": refresh,
    "password_flow": password_flow,
    "session_flow": session_flow,
    "userinfo": userinfo,
    "discovery": discovery,
    "jwks": jwks,
}


# --- the load generator -----------------------------------------------------------------------


@dataclass
class Part:
    """What one load process measured."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    requests: int = 0


async def run_browser(
    scenario: Scenario, target: Target, state: dict[str, str], deadline: float, part: Part
) -> None:
    browser = await open_browser(target)
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        try:
            ok = await scenario(browser, target, state)
        except (KeyError, ValueError, RuntimeError, AttributeError):
            ok = False
        part.latencies.append(time.perf_counter() - started)
        part.errors += not ok
    part.requests += browser.requests


def load_process(
    scenario_name: str, target: Target, duration: float, connections: int, queue: Any
) -> None:
    """Entry point of one load process: `connections` browsers until the deadline."""
    part = Part()

    async def main() -> None:
        deadline = time.perf_counter() + duration
        scenario = SCENARIO_FUNCTIONS[scenario_name]
        states = [{"refresh_token": token} for token in target.refresh_pool[:connections]] or [
            {} for _ in range(connections)
        ]
        await asyncio.gather(
            *(run_browser(scenario, target, state, deadline, part) for state in states)
        )

    asyncio.run(main())
    queue.put(part)


@dataclass(frozen=True)
class Measurement:
    operations: int
    errors: int
    requests: int
    elapsed: float
    cpu_seconds: float
    database_cpu_seconds: float
    """The part of ``cpu_seconds`` spent by the database server (0 for the anchor)."""
    p50_ms: float
    p99_ms: float
    rss_mb: float
    """The largest resident set of one server process (a worker) sampled during the run."""

    @property
    def per_second(self) -> float:
        return self.operations / self.elapsed

    @property
    def per_cpu_second(self) -> float:
        return self.operations / self.cpu_seconds if self.cpu_seconds else float("nan")


def cpu_time(pids: list[int]) -> float:
    return sum(process_tree_cpu(pid) for pid in pids)


def largest_rss_mb(pids: list[int]) -> float:
    """The resident memory of the largest process among these and their descendants, in MB."""
    largest = 0
    for one in (found for pid in pids for found in descendants(pid)):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{one}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    largest = max(largest, int(line.split()[1]))
    return largest / 1024


class RssSampler(threading.Thread):
    """Samples ``largest_rss_mb`` of the server every quarter second while a run goes on."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.25):
            self.peak = max(self.peak, largest_rss_mb(self.pids))

    def stop(self) -> float:
        self.done.set()
        self.join()
        return max(self.peak, largest_rss_mb(self.pids))


def drive(
    scenario: str,
    target: Target,
    server_pids: list[int],
    database_pids: list[int],
    *,
    duration: float,
    processes: int,
    connections: int,
) -> Measurement:
    """Run one scenario against one server; each process gets its own refresh tokens."""
    queue: Any = multiprocessing.Queue()
    share = len(target.refresh_pool) // processes
    cpu_before = [cpu_time(server_pids), cpu_time(database_pids)]
    rss = RssSampler(server_pids)
    rss.start()
    started = time.perf_counter()
    workers = []
    for index in range(processes):
        own = replace(target, refresh_pool=target.refresh_pool[index * share : (index + 1) * share])
        worker = multiprocessing.Process(
            target=load_process, args=(scenario, own, duration, connections, queue)
        )
        worker.start()
        workers.append(worker)
    parts = [queue.get() for _ in workers]
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    rss_mb = rss.stop()
    server_cpu = cpu_time(server_pids) - cpu_before[0]
    database_cpu = cpu_time(database_pids) - cpu_before[1]
    latencies = [value for part in parts for value in part.latencies]
    return Measurement(
        operations=len(latencies),
        errors=sum(part.errors for part in parts),
        requests=sum(part.requests for part in parts),
        elapsed=elapsed,
        cpu_seconds=server_cpu + database_cpu,
        database_cpu_seconds=database_cpu,
        p50_ms=percentile(latencies, 0.5) * 1000 if latencies else float("nan"),
        p99_ms=percentile(latencies, 0.99) * 1000 if latencies else float("nan"),
        rss_mb=rss_mb,
    )


# --- starting and seeding the servers ---------------------------------------------------------


def wait_until_up(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT to the server's process group, SIGKILL if it lingers."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def database(kind: str, folder: Path) -> Iterator[tuple[str, list[int]]]:
    """A database URL and the pids whose CPU counts as the database's.

    PostgreSQL (preferred: several workers write concurrently) comes from the test suite's
    throwaway server, which runs as the ``postgres`` user when started by root.
    """
    if kind == "sqlite":
        yield f"sqlite:///{folder / 'bench.sqlite3'}", []
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.postgresql import throwaway_server

    with throwaway_server() as server:
        yield server.url(), [postmaster_pid(server.port)]


def postmaster_pid(port: int) -> int:
    """The PostgreSQL server listening on ``port`` (its backends are its children)."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            words = cmdline.read_bytes().split(b"\0")
            if words[0].endswith(b"postgres") and f"-p {port}".encode() in b" ".join(words):
                return int(cmdline.parent.name)
    raise RuntimeError(f"no PostgreSQL server on port {port}")


@contextlib.contextmanager
def our_provider(
    folder: Path, database_url: str, workers: int
) -> Iterator[tuple[subprocess.Popen[bytes], dict[str, Any]]]:
    """``idp serve`` with throwaway keys, seeded like oidc_bench (client, citizen, consent)."""
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "IDP_ISSUER": issuer,
        "IDP_DATABASE_URL": database_url,
        "IDP_KEYS_DIR": str(folder / "keys"),
        "IDP_KEY_PASSPHRASE": "benchmark passphrase, not secret",
        "IDP_LOGIN_ACCOUNT_FAILURE_THRESHOLD": "1000",
    }
    subprocess.run([IDP, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([IDP, "keys", "rotate"], env=env, check=True, capture_output=True)
    command = [IDP, "serve", "--port", str(port), "--workers", str(workers)]
    server = subprocess.Popen(
        [*command, "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_until_up(f"{issuer}/.well-known/openid-configuration", server)
        yield server, provision(issuer, env)
    finally:
        stop(server)


def our_target(setup: dict[str, Any], *, jwks_path: str | None = None) -> Target:
    """Our provider as a target; the JWKS path from discovery unless given (the server may
    already be stopped, as in ``profile_paths``)."""
    return Target(
        issuer=setup["issuer"],
        client_id=setup["client_id"],
        client_secret=setup["client_secret"],
        authorization_path="/authorize",
        token_path=setup["token_path"],
        userinfo_path=setup["userinfo_path"],
        jwks_path=jwks_path or urlsplit(discover(setup["issuer"])["jwks_uri"]).path,
        session_cookie=setup["cookie"],
        access_token=setup["access_token"],
        refresh_pool=tuple(setup["refresh_pool"]),
        verifier=setup["verifier"],
    )


def discover(issuer: str) -> dict[str, Any]:
    return httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()


def install_anchor() -> None:
    """``npm ci`` into bench/anchor/node_modules (gitignored), once."""
    if (ANCHOR / "node_modules" / "oidc-provider").exists():
        return
    if shutil.which("npm") is None:
        raise SystemExit("npm is needed to install the anchor (node's oidc-provider).")
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ANCHOR, check=True)


@contextlib.contextmanager
def anchor_provider(
    client_id: str, client_secret: str
) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    """node's oidc-provider with the same client credentials as ours, and its issuer."""
    install_anchor()
    port = free_port()
    server = subprocess.Popen(
        ["node", "server.mjs", str(port), client_id, client_secret, REDIRECT_URI],
        cwd=ANCHOR,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{issuer}/.well-known/openid-configuration", server)
        yield server, issuer
    finally:
        stop(server)


def seed_anchor(issuer: str, client_id: str, client_secret: str) -> Target:
    """Sign in once (devInteractions), then collect refresh tokens with prompt=none flows."""
    metadata = discover(issuer)
    target = Target(
        issuer=issuer,
        client_id=client_id,
        client_secret=client_secret,
        authorization_path=urlsplit(metadata["authorization_endpoint"]).path,
        token_path=urlsplit(metadata["token_endpoint"]).path,
        userinfo_path=urlsplit(metadata["userinfo_endpoint"]).path,
        jwks_path=urlsplit(metadata["jwks_uri"]).path,
        verifier=new_verifier(),
    )
    return asyncio.run(_seed_anchor(target))


async def _seed_anchor(target: Target) -> Target:
    browser = await open_browser(target)
    code = await authorize(browser, target, prompt=None)
    if code is None:
        raise RuntimeError("the anchor's login did not end with a code")
    tokens = json.loads((await exchange(browser, target, code)).body)
    session = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    target = replace(target, session_cookie=session, access_token=tokens["access_token"])
    pool = []
    for _ in range(REFRESH_POOL):
        code = await authorize(browser, target, prompt="none")
        pool.append(json.loads((await exchange(browser, target, code or "")).body)["refresh_token"])
    return replace(target, refresh_pool=tuple(pool))


@contextlib.contextmanager
def profiling(folder: Path | None, scenario: str, pid: int, duration: float) -> Iterator[None]:
    """Sample our server and its workers with py-spy while a scenario runs, if asked to."""
    if folder is None:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    spy = str(Path(sys.executable).parent / "py-spy")
    command = [
        spy,
        "record",
        "--pid",
        str(pid),
        "--subprocesses",
        "--rate",
        "250",
        "--format",
        "raw",
    ]
    sampler = subprocess.Popen(
        [*command, "--duration", str(int(duration)), "--output", str(folder / f"{scenario}.txt")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        sampler.wait(timeout=duration + 30)


# --- the floor of this machine ----------------------------------------------------------------


def rate(operation: Callable[[], object], seconds: float = 1.0) -> float:
    """Operations per second of one call on one core."""
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        operation()
        count += 1
    return count / (time.perf_counter() - started)


def floors() -> dict[str, float]:
    """Signatures/s (the work of every token) and argon2id/s (the work of every password)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

    from idp.accounts.passwords import PasswordHasher
    from idp.config import Settings

    message = os.urandom(400)
    es256 = ec.generate_private_key(ec.SECP256R1())
    rs256 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    defaults = Settings.model_fields
    hasher = PasswordHasher(
        memory_cost_kib=defaults["password_memory_cost_kib"].default,
        time_cost=defaults["password_time_cost"].default,
        parallelism=defaults["password_parallelism"].default,
    )
    stored = hasher.hash(PASSWORD)
    return {
        "ES256 signs/s": rate(lambda: es256.sign(message, ec.ECDSA(hashes.SHA256()))),
        "RS256 signs/s": rate(
            lambda: rs256.sign(message, padding.PKCS1v15(), hashes.SHA256()),
        ),
        "argon2id verifications/s": rate(lambda: hasher.verify(stored, PASSWORD), seconds=2.0),
    }


# --- report -----------------------------------------------------------------------------------


def print_header(args: argparse.Namespace, database_kind: str) -> None:
    print(
        f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  cores={os.cpu_count()} "
        f"this: idp serve --workers {args.workers} ({database_kind}); anchor: oidc-provider, "
        f"1 node process (memory adapter); load: {args.processes} processes x "
        f"{args.connections} connections, {args.duration:g} s per scenario and server "
        f"after {args.warmup:g} s of warm-up"
    )
    print(
        "| scenario | req/op | ops/s this | ops/s anchor | p50 ms this | p50 ms anchor "
        "| p99 ms this | p99 ms anchor | ops/CPU-s this | ops/CPU-s anchor | ratio ops/CPU-s "
        "| DB share of CPU this | max RSS MB this/anchor | errors this/anchor |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def print_row(scenario: str, ours: Measurement, anchor: Measurement) -> None:
    ratio = ours.per_cpu_second / anchor.per_cpu_second if anchor.per_cpu_second else 0
    database_share = ours.database_cpu_seconds / ours.cpu_seconds if ours.cpu_seconds else 0
    requests = (
        f"{ours.requests / max(ours.operations, 1):.0f}/"
        f"{anchor.requests / max(anchor.operations, 1):.0f}"
    )
    print(
        f"| {scenario} | {requests} | {ours.per_second:.0f} | {anchor.per_second:.0f} "
        f"| {ours.p50_ms:.1f} | {anchor.p50_ms:.1f} | {ours.p99_ms:.1f} | {anchor.p99_ms:.1f} "
        f"| {ours.per_cpu_second:.0f} | {anchor.per_cpu_second:.0f} | {ratio:.2f} "
        f"| {database_share:.0%} | {ours.rss_mb:.0f}/{anchor.rss_mb:.0f} "
        f"| {ours.errors}/{anchor.errors} |",
        flush=True,
    )


def print_floors(
    before: dict[str, float], after: dict[str, float], password_per_cpu_second: float | None
) -> None:
    """The floor before and after the runs: on a shared machine it moves as much as 2x."""
    print()
    print("| floor (one core) | before the runs | after the runs |")
    print("|---|---|---|")
    for name, value in before.items():
        print(f"| {name} | {value:.0f} | {after[name]:.0f} |")
    argon2 = [before["argon2id verifications/s"], after["argon2id verifications/s"]]
    if password_per_cpu_second is not None:
        share = [password_per_cpu_second / value for value in argon2]
        print(
            f"\npassword flows per server CPU-second: {password_per_cpu_second:.1f} = "
            f"{min(share):.0%} to {max(share):.0%} of the argon2id floor "
            f"({min(argon2):.1f} to {max(argon2):.1f}/s)"
        )


def split_refresh_pool(target: Target) -> tuple[Target, Target]:
    """Halves of the refresh tokens for the measured run and the warm-up: a rotated token
    used again would revoke its grant (RFC 9700 4.14.2), in both servers."""
    half = len(target.refresh_pool) // 2
    return (
        replace(target, refresh_pool=target.refresh_pool[:half]),
        replace(target, refresh_pool=target.refresh_pool[half:]),
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument(
        "--warmup",
        type=float,
        default=1,
        help="seconds of unmeasured load before each measured run (Node's JIT, prepared "
        "statements and connection pools start cold)",
    )
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--database", choices=("postgresql", "sqlite", "auto"), default="auto")
    parser.add_argument("--scenarios", default=",".join(SCENARIO_FUNCTIONS))
    parser.add_argument(
        "--profile",
        type=Path,
        help="folder for py-spy's collapsed stacks of our server, one file per scenario "
        "(py-spy must be installed; sampling slows the server, so keep these figures apart)",
    )
    args = parser.parse_args()
    unknown = set(args.scenarios.split(",")) - set(SCENARIO_FUNCTIONS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def database_kind(choice: str) -> str:
    if choice != "auto":
        return choice
    has_postgresql = shutil.which("initdb") or Path("/usr/lib/postgresql").exists()
    return "postgresql" if has_postgresql else "sqlite"


def main() -> None:
    args = parse_arguments()
    kind = database_kind(args.database)
    folder = Path(tempfile.mkdtemp(prefix="idp-compare-"))
    try:
        with (
            database(kind, folder) as (database_url, database_pids),
            our_provider(folder, database_url, args.workers) as (server, setup),
            anchor_provider(setup["client_id"], setup["client_secret"]) as (node, anchor_url),
        ):
            ours, warm_ours = split_refresh_pool(our_target(setup))
            anchor, warm_anchor = split_refresh_pool(
                seed_anchor(anchor_url, setup["client_id"], setup["client_secret"])
            )
            floor_before = floors()
            print_header(args, kind)
            password_per_cpu = None
            for scenario in args.scenarios.split(","):
                options = {
                    "duration": args.duration,
                    "processes": args.processes,
                    "connections": args.connections,
                }
                if args.warmup:
                    warm = {**options, "duration": args.warmup}
                    drive(scenario, warm_ours, [server.pid], database_pids, **warm)
                    drive(scenario, warm_anchor, [node.pid], [], **warm)
                with profiling(args.profile, scenario, server.pid, args.duration):
                    measured_ours = drive(scenario, ours, [server.pid], database_pids, **options)
                measured_anchor = drive(scenario, anchor, [node.pid], [], **options)
                print_row(scenario, measured_ours, measured_anchor)
                if scenario == "password_flow":
                    password_per_cpu = measured_ours.per_cpu_second
        print_floors(floor_before, floors(), password_per_cpu)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
