"""Measure the provider's protocol endpoints against a real server.

Usage: python bench/oidc_bench.py [--duration S] [--processes N] [--connections C]
       [--database-url URL] [--scenarios a,b,...] [--workers W]

Starts ``idp serve`` on a free loopback port with a throwaway database and keys, provisions a
confidential client and a citizen, and drives each scenario for ``--duration`` seconds with a
small raw asyncio HTTP/1.1 client (keep-alive connections) in ``--processes`` processes. The
server's CPU time is read from /proc before and after each scenario, so the figure that matters
on a shared machine is requests per server CPU-second, not wall-clock throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
IDP = str(Path(sys.executable).parent / "idp")
PASSWORD = "benchmark password"
USERNAME = "1.234.567-2"
REDIRECT_URI = "https://rp.bench.example/callback"


# --- a minimal HTTP/1.1 client ----------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection; no redirects, no cookies, no chunked bodies."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.set_cookies: list[str] = []
        """The Set-Cookie values of the last response (a dict keeps only one of them)."""

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def request(self, raw: bytes) -> tuple[int, dict[str, str], bytes]:
        assert self.reader
        assert self.writer
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        self.set_cookies = []
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
                if name.strip().lower() == "set-cookie":
                    self.set_cookies.append(value.strip())
        length = int(headers.get("content-length", "0"))
        body = await self.reader.readexactly(length) if length else b""
        if headers.get("connection", "").lower() == "close":
            self.writer.close()
            await self.open()
        return status, headers, body


def build_request(
    method: str, path: str, host: str, *, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- scenarios --------------------------------------------------------------------------------


def form(data: dict[str, str]) -> bytes:
    return urlencode(data).encode()


async def run_connection(
    scenario: str, setup: dict[str, Any], deadline: float, latencies: list[float], errors: list[int]
) -> None:
    parts = urlsplit(setup["issuer"])
    host_header = parts.netloc
    connection = Connection(parts.hostname or "127.0.0.1", parts.port or 80)
    await connection.open()
    basic = (
        "Basic "
        + base64.b64encode(f"{setup['client_id']}:{setup['client_secret']}".encode()).decode()
    )
    form_headers = {"Content-Type": "application/x-www-form-urlencoded", "Authorization": basic}
    refresh_token = setup["refresh_pool"].pop() if scenario == "refresh" else None
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        if scenario == "discovery":
            status, _, _ = await connection.request(
                build_request("GET", "/.well-known/openid-configuration", host_header)
            )
        elif scenario == "client_credentials":
            status, _, _ = await connection.request(
                build_request(
                    "POST",
                    setup["token_path"],
                    host_header,
                    headers=form_headers,
                    body=form({"grant_type": "client_credentials", "scope": "profile"}),
                )
            )
        elif scenario == "refresh":
            status, _, body = await connection.request(
                build_request(
                    "POST",
                    setup["token_path"],
                    host_header,
                    headers=form_headers,
                    body=form({"grant_type": "refresh_token", "refresh_token": refresh_token}),
                )
            )
            if status == 200:
                refresh_token = json.loads(body)["refresh_token"]
        elif scenario == "userinfo":
            status, _, _ = await connection.request(
                build_request(
                    "GET",
                    setup["userinfo_path"],
                    host_header,
                    headers={"Authorization": f"Bearer {setup['access_token']}"},
                )
            )
        elif scenario == "code_exchange":
            status, headers, _ = await connection.request(
                build_request(
                    "GET",
                    setup["authorize_path"],
                    host_header,
                    headers={"Cookie": setup["cookie"]},
                )
            )
            if status in (302, 303):
                code = parse_qs(urlsplit(headers["location"]).query)["code"][0]
                status, _, _ = await connection.request(
                    build_request(
                        "POST",
                        setup["token_path"],
                        host_header,
                        headers=form_headers,
                        body=form(
                            {
                                "grant_type": "authorization_code",
                                "code": code,
                                "redirect_uri": REDIRECT_URI,
                                "code_verifier": setup["verifier"],
                            }
                        ),
                    )
                )
        else:  # pragma: no cover
            raise ValueError(scenario)
        latencies.append(time.perf_counter() - started)
        if status != 200:
            errors.append(status)


def worker_process(
    scenario: str, setup: dict[str, Any], duration: float, connections: int, queue: Any
) -> None:
    latencies: list[float] = []
    errors: list[int] = []

    async def main() -> None:
        deadline = time.perf_counter() + duration
        await asyncio.gather(
            *(
                run_connection(scenario, setup, deadline, latencies, errors)
                for _ in range(connections)
            )
        )

    asyncio.run(main())
    queue.put((latencies, errors))


# --- server and provisioning ------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn workers, database backends), from /proc."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [pid]
    while pending:
        one = pending.pop()
        found.append(one)
        pending += parents.get(one, [])
    return found


def process_tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants, including those that have exited.

    A descendant that exits (a database backend whose pooled connection was closed) leaves
    the tree, but its parent's cutime/cstime then holds its time: summing utime, stime,
    cutime and cstime over the living tree counts every CPU-second once.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for one in descendants(pid):
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15]) / ticks
        except (OSError, IndexError):
            continue
    return total


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> Any:
    result = subprocess.run(
        [IDP, *args, "--json"], env=env, input=stdin, capture_output=True, text=True, check=True
    )
    return json.loads(result.stdout)


def provision(issuer: str, env: dict[str, str]) -> dict[str, Any]:
    client = run_cli(
        env,
        "clients",
        "create",
        "--name",
        "Benchmark portal",
        "--redirect-uri",
        REDIRECT_URI,
        "--grant-type",
        "authorization_code",
        "--grant-type",
        "refresh_token",
        "--grant-type",
        "client_credentials",
    )
    run_cli(
        env,
        "users",
        "create",
        "--username",
        USERNAME,
        "--given-name",
        "Bench",
        "--family-name",
        "Mark",
        "--email",
        "bench@example.uy",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    verifier = base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode()
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    authorize_query = urlencode(
        {
            "client_id": client["client_id"],
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid profile email offline_access",
            "state": "bench",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "prompt": "consent",
        }
    )
    auth = (client["client_id"], client["client_secret"])
    with httpx.Client(base_url=issuer, follow_redirects=False, timeout=30) as browser:
        response = browser.get(f"/authorize?{authorize_query}")
        login_url = response.headers["location"]
        page = browser.get(login_url)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        request_id = parse_qs(urlsplit(login_url).query)["request_id"][0]
        response = browser.post(
            "/login",
            data={
                "csrf_token": csrf,
                "username": USERNAME,
                "password": PASSWORD,
                "request_id": request_id,
            },
        )
        response = browser.get(response.headers["location"])
        while response.status_code in (302, 303) and "code=" not in response.headers["location"]:
            response = browser.get(response.headers["location"])
        if response.status_code == 200 and "decision" in response.text:
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.text).group(1)
            action = re.search(r'<form method="post" action="([^"]+)"', response.text).group(1)
            hidden = dict(
                re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', response.text)
            )
            hidden.update({"csrf_token": csrf, "decision": "allow"})
            response = browser.post(action, data=hidden)
        code = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
        cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
        tokens = browser.post(
            "/token",
            auth=auth,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
        ).json()
        refresh_pool = []
        for _ in range(256):
            response = browser.get(
                f"/authorize?{authorize_query.replace('prompt=consent', 'prompt=none')}",
                headers={"cookie": cookie},
            )
            fresh = parse_qs(urlsplit(response.headers["location"]).query)["code"][0]
            refresh_pool.append(
                browser.post(
                    "/token",
                    auth=auth,
                    data={
                        "grant_type": "authorization_code",
                        "code": fresh,
                        "redirect_uri": REDIRECT_URI,
                        "code_verifier": verifier,
                    },
                ).json()["refresh_token"]
            )
    return {
        "issuer": issuer,
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "token_path": "/token",
        "userinfo_path": "/userinfo",
        "authorize_path": "/authorize?" + authorize_query.replace("prompt=consent", "prompt=none"),
        "cookie": cookie,
        "verifier": verifier,
        "access_token": tokens["access_token"],
        "refresh_pool": refresh_pool,
    }


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database-url")
    parser.add_argument(
        "--scenarios", default="discovery,client_credentials,refresh,code_exchange,userinfo"
    )
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="idp-bench-"))
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "IDP_ISSUER": issuer,
        "IDP_DATABASE_URL": args.database_url or f"sqlite:///{folder / 'bench.sqlite3'}",
        "IDP_KEYS_DIR": str(folder / "keys"),
        "IDP_KEY_PASSPHRASE": "benchmark passphrase, not secret",
        "IDP_LOGIN_ACCOUNT_FAILURE_THRESHOLD": "1000",
    }
    subprocess.run([IDP, "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run([IDP, "keys", "rotate"], env=env, check=True, capture_output=True)
    server = subprocess.Popen(
        [
            IDP,
            "serve",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                httpx.get(f"{issuer}/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        setup = provision(issuer, env)
        print(
            f"# {time.strftime('%Y-%m-%d')}  processes={args.processes} "
            f"connections/process={args.connections} workers={args.workers} "
            f"duration={args.duration}s database={'postgresql' if args.database_url else 'sqlite'}"
        )
        print(
            f"{'scenario':<20}{'requests':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
            f"{'errors':>8}{'req/server-CPU-s':>18}"
        )
        for scenario in args.scenarios.split(","):
            queue: Any = multiprocessing.Queue()
            cpu_before = process_tree_cpu(server.pid)
            started = time.perf_counter()
            procs = []
            for index in range(args.processes):
                scenario_setup = dict(setup)
                if scenario == "refresh":
                    share = len(setup["refresh_pool"]) // args.processes
                    scenario_setup["refresh_pool"] = setup["refresh_pool"][
                        index * share : (index + 1) * share
                    ]
                proc = multiprocessing.Process(
                    target=worker_process,
                    args=(scenario, scenario_setup, args.duration, args.connections, queue),
                )
                proc.start()
                procs.append(proc)
            latencies: list[float] = []
            errors: list[int] = []
            for _ in procs:
                part_latencies, part_errors = queue.get()
                latencies += part_latencies
                errors += part_errors
            for proc in procs:
                proc.join()
            elapsed = time.perf_counter() - started
            cpu = process_tree_cpu(server.pid) - cpu_before
            count = len(latencies)
            print(
                f"{scenario:<20}{count:>10}{count / elapsed:>10.0f}"
                f"{percentile(latencies, 0.5) * 1000:>9.1f}"
                f"{percentile(latencies, 0.99) * 1000:>9.1f}{len(errors):>8}"
                f"{(count / cpu if cpu else float('nan')):>18.0f}"
            )
    finally:
        os.killpg(server.pid, signal.SIGINT)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
