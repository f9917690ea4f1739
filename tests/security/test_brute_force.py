"""Online guessing across worker processes (OWASP ASVS 2.2.1, NIST SP 800-63B 5.2.2: "limit
consecutive failed authentication attempts"; RFC 6238 5.2 for one-time codes).

Throttling that lives in a worker's memory is defeated by a load balancer: an attacker's
guesses spread over the workers and each sees only its share (the class of CVE-2023-30625,
CVE-2019-10330). Here two real ``idp serve`` processes share one database (a SQLite file, and
a PostgreSQL database) and parallel guesses alternate between them; the single-process and
threaded cases are in ``tests/accounts/test_login.py`` and ``tests/assurance/test_totp.py``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from idp.accounts.documents import normalise_document_number
from idp.accounts.throttling import account_key
from idp.app import create_app
from idp.assurance import totp
from idp.storage.models import LoginFailureCounter
from tests.conftest import TEST_PASSPHRASE, make_settings
from tests.helpers import DEMO_PASSWORD, DEMO_USERNAME, add_citizen, csrf_token_of
from tests.support.live_server import free_port

IDP = str(Path(sys.executable).parent / "idp")
ACCOUNT_THRESHOLD = 5
ADDRESS_THRESHOLD = 8
ACCOUNT_KEY = account_key(normalise_document_number(DEMO_USERNAME))
GUESSES = 16


@dataclass
class Cluster:
    app: FastAPI
    urls: list[str]
    citizen_id: int
    totp_secret: bytes

    def browser(self, index: int) -> httpx.Client:
        """A browser pinned to process ``index % 2``."""
        return httpx.Client(base_url=self.urls[index % 2], timeout=60)

    def counter(self, key: str) -> int:
        with self.app.state.provider.database.transaction() as session:
            row = session.get(LoginFailureCounter, key)
            return 0 if row is None else row.failures


def _start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [IDP, "serve", "--port", str(port), "--workers", "1", "--log-level", "warning"],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"idp serve exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return process, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"idp serve did not start:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def cluster(tmp_path: Path, database_url: str) -> Iterator[Cluster]:
    """Two provider processes on one database, one citizen with a confirmed authenticator.
    The test process prepares the database (and the keys) through the same code."""
    issuer = f"http://127.0.0.1:{free_port()}"
    overrides = {
        "issuer": issuer,
        "login_account_failure_threshold": ACCOUNT_THRESHOLD,
        "login_address_failure_threshold": ADDRESS_THRESHOLD,
    }
    settings = make_settings(database_url=database_url, keys_dir=tmp_path / "keys", **overrides)
    app = create_app(settings)
    provider = app.state.provider
    citizen_id = add_citizen(provider.database, provider.hasher)
    keys = totp.SecondFactorKeys.from_settings(settings)
    earlier = datetime.now(UTC) - timedelta(hours=1)
    with provider.database.transaction() as session:
        started = totp.start_enrolment(session, citizen_id=citizen_id, keys=keys, now=earlier)
        assert isinstance(started, totp.EnrolmentStarted)
        confirmed = totp.confirm_enrolment(
            session,
            citizen_id=citizen_id,
            code=totp.code_at(started.secret, earlier),
            keys=keys,
            policy=provider.throttling.account,
            now=earlier,
        )
        assert isinstance(confirmed, totp.EnrolmentConfirmed), confirmed
    env = {name: value for name, value in os.environ.items() if not name.startswith("IDP_")}
    env |= {
        "IDP_ISSUER": issuer,
        "IDP_DATABASE_URL": database_url,
        "IDP_KEYS_DIR": str(tmp_path / "keys"),
        "IDP_KEY_PASSPHRASE": TEST_PASSPHRASE,
        "IDP_LOGIN_ACCOUNT_FAILURE_THRESHOLD": str(ACCOUNT_THRESHOLD),
        "IDP_LOGIN_ADDRESS_FAILURE_THRESHOLD": str(ADDRESS_THRESHOLD),
        "IDP_LOG_FORMAT": "text",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for name in "ab":
            process, url = _start(env, tmp_path / f"provider-{name}.log")
            processes.append(process)
            urls.append(url)
        yield Cluster(app, urls, citizen_id, started.secret)
    finally:
        for process in processes:
            _stop(process)
        provider.database.dispose()


def login_token(browser: httpx.Client) -> str:
    page = browser.get("/login")
    assert page.status_code == 200, page.text
    return csrf_token_of(page)


def post_login(
    browser: httpx.Client, token: str, *, username: str, password: str
) -> httpx.Response:
    return browser.post(
        "/login",
        data={"csrf_token": token, "username": username, "password": password},
        follow_redirects=False,
    )


def log_in(browser: httpx.Client, *, username: str, password: str) -> httpx.Response:
    return post_login(browser, login_token(browser), username=username, password=password)


def burst(cluster: Cluster, username: object, password: object) -> list[int]:
    """``GUESSES`` logins, half on each process: the pages fetched first, then every POST
    released at once. ``username(i)`` and ``password(i)`` give the i-th guess."""
    browsers = [cluster.browser(index) for index in range(GUESSES)]
    tokens = [login_token(browser) for browser in browsers]

    def guess(index: int) -> int:
        return post_login(
            browsers[index],
            tokens[index],
            username=username(index),  # type: ignore[operator]
            password=password(index),  # type: ignore[operator]
        ).status_code

    try:
        return in_parallel(GUESSES, guess)
    finally:
        for browser in browsers:
            browser.close()


def in_parallel(count: int, attempt: object) -> list[int]:
    """``attempt(index)`` on ``count`` threads released together; the status codes."""
    start = threading.Barrier(count)

    def run(index: int) -> int:
        start.wait()
        return attempt(index)  # type: ignore[operator]

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_parallel_password_guesses_on_two_processes_lock_the_account_on_both(
    cluster: Cluster,
) -> None:
    statuses = burst(cluster, lambda _: DEMO_USERNAME, lambda index: f"guess {index}")

    assert set(statuses) <= {401, 429}, statuses
    assert 429 in statuses  # the lock engaged during the burst
    # Every failure was counted, whichever process took it.
    assert cluster.counter(ACCOUNT_KEY) >= ACCOUNT_THRESHOLD
    # The right password is now refused on both processes, with a Retry-After.
    for index in (0, 1):
        with cluster.browser(index) as browser:
            right = log_in(browser, username=DEMO_USERNAME, password=DEMO_PASSWORD)
        assert right.status_code == 429, right.text
        assert int(right.headers["retry-after"]) > 0


def test_a_parallel_burst_gets_no_more_guesses_than_the_threshold(cluster: Cluster) -> None:
    """Guesses released together are compared one after the other: each is counted before its
    comparison, and the counter's row lock (PostgreSQL) or the write lock (SQLite) orders
    them, so a guess that comes after the threshold-th sees its block and is not compared."""
    statuses = burst(cluster, lambda _: DEMO_USERNAME, lambda index: f"g{index}")
    assert statuses.count(401) <= ACCOUNT_THRESHOLD - 1, statuses


def test_alternating_guesses_lock_the_account_at_the_threshold_on_either_process(
    cluster: Cluster,
) -> None:
    statuses = []
    for index in range(ACCOUNT_THRESHOLD + 1):
        with cluster.browser(index) as browser:
            statuses.append(log_in(browser, username=DEMO_USERNAME, password="wrong").status_code)
    # Failures 1..threshold-1 are refused as wrong; the threshold-th starts the backoff, on
    # whichever process it lands; the next is refused without a look at the password.
    assert statuses == [401] * (ACCOUNT_THRESHOLD - 1) + [429, 429]


def test_parallel_guesses_of_many_accounts_lock_the_address_on_both_processes(
    cluster: Cluster,
) -> None:
    """Password spraying: one address, a different (unknown) account each time."""
    statuses = burst(
        cluster, lambda index: f"9.{index:03d}.000-{index % 10}", lambda _: "Password1"
    )
    assert set(statuses) <= {401, 429}, statuses
    assert cluster.counter("address:127.0.0.1") >= ADDRESS_THRESHOLD
    for index in (0, 1):  # even the real citizen, from this address, on either process
        with cluster.browser(index) as browser:
            right = log_in(browser, username=DEMO_USERNAME, password=DEMO_PASSWORD)
        assert right.status_code == 429, right.text


def test_parallel_totp_guesses_on_two_processes_are_throttled_on_both(cluster: Cluster) -> None:
    """RFC 6238 5.2: the verifier must throttle. Each guess is counted before it is compared,
    so a burst across processes gets at most threshold - 1 comparisons."""
    browsers = []
    for index in range(GUESSES):
        browser = cluster.browser(index)
        assert log_in(browser, username=DEMO_USERNAME, password=DEMO_PASSWORD).status_code == 303
        browsers.append(browser)
    now = datetime.now(UTC)
    accepted = {
        totp.code_at(cluster.totp_secret, now + timedelta(seconds=30 * s)) for s in range(-2, 3)
    }
    wrong = [c for c in (f"{n:06d}" for n in range(0, 10**6, 7919)) if c not in accepted]
    pages = [browser.get("/step-up/totp") for browser in browsers]
    tokens = [csrf_token_of(page) for page in pages]

    def guess(index: int) -> int:
        response = browsers[index].post(
            "/step-up/totp",
            data={"csrf_token": tokens[index], "code": wrong[index]},
            follow_redirects=False,
        )
        return response.status_code

    statuses = in_parallel(GUESSES, guess)

    assert 429 in statuses, statuses
    assert sum(1 for status in statuses if status != 429) <= ACCOUNT_THRESHOLD - 1, statuses
    # The right code is refused now, on both processes.
    for index in (0, 1):
        right = browsers[index].post(
            "/step-up/totp",
            data={"csrf_token": tokens[index], "code": totp.code_at(cluster.totp_secret, now)},
            follow_redirects=False,
        )
        assert right.status_code == 429, right.text
    for browser in browsers:
        browser.close()
