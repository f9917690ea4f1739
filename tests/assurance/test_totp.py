"""TOTP as a second factor: enrolment with a QR code, step-up, replay protection, recovery
codes, throttling (also with parallel attempts on the database), encryption at rest, CSRF.

Every test runs on SQLite and PostgreSQL. The expected codes come from ``cryptography``'s
TOTP class and the secret the page shows (or the one decrypted from the database); the
provider's clock is pinned to the middle of a 30-second step so that no test straddles one.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from idp.assurance import totp
from idp.assurance.methods import AuthMethod
from idp.config import Settings
from idp.context import utc_now
from idp.oidc import endpoints
from idp.storage.models import BrowserSession, LoginFailureCounter, RecoveryCode, TotpCredential
from tests.helpers import csrf_token_of, log_in

REQUEST_ID = "parked-request-0123456789abcdef"
SECRET_TEXT = re.compile(r"<code>([A-Z2-7 ]{32,})</code>")
RECOVERY_TEXT = re.compile(r"<code>([2-9A-Z]{5}-[2-9A-Z]{5})</code>")


@pytest.fixture
def settings(settings_factory: Callable[..., Settings], database_url: str) -> Settings:
    """The app of these tests runs on each backend."""
    return settings_factory(database_url)


@pytest.fixture
def now(app: FastAPI) -> datetime:
    """The provider's clock, pinned to the middle of the current 30-second step."""
    middle = (int(utc_now().timestamp()) // 30) * 30 + 15
    pinned = datetime.fromtimestamp(middle, tz=utc_now().tzinfo)
    app.state.provider.clock = lambda: pinned
    return pinned


@pytest.fixture
def signed_in(client: TestClient, citizen_id: int, now: datetime) -> int:
    assert log_in(client).status_code == 303
    return citizen_id


def move_clock(app: FastAPI, to: datetime) -> None:
    app.state.provider.clock = lambda: to


def code_at(secret: bytes, when: datetime) -> str:
    return TOTP(secret, 6, SHA1(), 30).generate(when.timestamp()).decode()  # noqa: S303


def keys(app: FastAPI) -> totp.SecondFactorKeys:
    return totp.SecondFactorKeys.from_settings(app.state.provider.settings)


def credential(app: FastAPI, citizen_id: int) -> TotpCredential | None:
    with app.state.provider.database.transaction() as session:
        row = session.get(TotpCredential, citizen_id)
        session.expunge_all()
        return row


def auth_methods(app: FastAPI, citizen_id: int) -> dict[str, int]:
    with app.state.provider.database.transaction() as session:
        row = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id == citizen_id)
        ).one()
        return dict(row.auth_methods or {})


def enrolled(app: FastAPI, citizen_id: int, now: datetime) -> tuple[bytes, list[str]]:
    """A confirmed authenticator (confirmed an hour ago) and its recovery codes."""
    earlier = now - timedelta(hours=1)
    provider = app.state.provider
    with provider.database.transaction() as session:
        started = totp.start_enrolment(session, citizen_id=citizen_id, keys=keys(app), now=earlier)
        assert isinstance(started, totp.EnrolmentStarted)
        confirmed = totp.confirm_enrolment(
            session,
            citizen_id=citizen_id,
            code=code_at(started.secret, earlier),
            keys=keys(app),
            policy=provider.throttling.account,
            now=earlier,
        )
    assert isinstance(confirmed, totp.EnrolmentConfirmed)
    return started.secret, confirmed.recovery_codes


def start_enrolment(client: TestClient, *, request_id: str | None = None) -> Response:
    page = client.get("/account/totp")
    data = {"csrf_token": csrf_token_of(page), "action": "start"}
    if request_id:
        data["request_id"] = request_id
    started = client.post("/account/totp", data=data, follow_redirects=False)
    assert started.status_code == 303
    return client.get(started.headers["location"])


def secret_on(page: Response) -> bytes:
    match = SECRET_TEXT.search(page.text)
    assert match, "the page shows no secret"
    return base64.b32decode(match.group(1).replace(" ", ""))


def step_up(client: TestClient, *, request_id: str | None = REQUEST_ID, **fields: str) -> Response:
    query = f"?{urlencode({'request_id': request_id})}" if request_id else ""
    page = client.get(f"{endpoints.STEP_UP_TOTP}{query}", follow_redirects=False)
    assert page.status_code == 200, page.headers.get("location")
    data = {"csrf_token": csrf_token_of(page), **fields}
    if request_id:
        data["request_id"] = request_id
    return client.post(endpoints.STEP_UP_TOTP, data=data, follow_redirects=False)


def wrong_codes(secret: bytes, now: datetime, count: int) -> list[str]:
    """Six-digit codes that are none of the accepted ones around ``now``."""
    accepted = {code_at(secret, now + timedelta(seconds=30 * s)) for s in (-1, 0, 1)}
    return [c for c in (f"{n:06d}" for n in range(0, 10**6, 7919)) if c not in accepted][:count]


# Enrolment -----------------------------------------------------------------------------------
def test_enrolment_shows_a_qr_code_and_the_first_right_code_turns_it_on(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    intro = client.get("/account/totp")
    assert intro.status_code == 200
    assert 'name="action" value="start"' in intro.text
    assert credential(app, signed_in) is None  # looking at the page changes nothing

    page = start_enrolment(client)
    assert re.search(r'<svg role="img" width="\d+" height="\d+" class="qr"><title>', page.text)
    assert "<script" not in page.text
    assert 'autocomplete="one-time-code"' in page.text
    assert 'inputmode="numeric"' in page.text
    assert "127.0.0.1 · CI *****672" in page.text  # issuer, and the number masked
    secret = secret_on(page)
    assert len(secret) == 20
    pending = credential(app, signed_in)
    assert pending is not None
    assert pending.confirmed_at is None
    assert keys(app).open(pending.secret_encrypted, citizen_id=signed_in) == secret

    confirmed = client.post(
        "/account/totp",
        data={"csrf_token": csrf_token_of(page), "action": "confirm", "code": code_at(secret, now)},
        follow_redirects=False,
    )
    assert confirmed.status_code == 200
    assert "Guarde sus códigos de recuperación" in confirmed.text
    codes = RECOVERY_TEXT.findall(confirmed.text)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert any(c.startswith("idp_session=") for c in confirmed.headers.get_list("set-cookie"))

    row = credential(app, signed_in)
    assert row is not None
    assert row.confirmed_at == now
    assert row.last_used_step == totp.time_step(now)
    assert AuthMethod.TOTP.value in auth_methods(app, signed_in)
    with app.state.provider.database.transaction() as session:
        hashes = set(
            session.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.citizen_id == signed_in)
            )
        )
    assert len(hashes) == 10
    assert not hashes & {c for code in codes for c in (code, code.replace("-", ""))}

    assert "activa desde el" in client.get("/account/totp").text  # shown once only
    assert not RECOVERY_TEXT.search(client.get("/account/totp").text)


def test_starting_again_replaces_an_unconfirmed_secret(
    app: FastAPI, client: TestClient, signed_in: int
) -> None:
    first = secret_on(start_enrolment(client))
    assert secret_on(client.get("/account/totp")) == first  # reloading keeps it
    second = secret_on(start_enrolment(client))
    assert second != first
    row = credential(app, signed_in)
    assert row is not None
    assert keys(app).open(row.secret_encrypted, citizen_id=signed_in) == second


def test_a_wrong_code_does_not_confirm_the_enrolment(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    page = start_enrolment(client)
    secret = secret_on(page)
    refused = client.post(
        "/account/totp",
        data={
            "csrf_token": csrf_token_of(page),
            "action": "confirm",
            "code": wrong_codes(secret, now, 1)[0],
        },
    )
    assert refused.status_code == 401
    assert "El código no es correcto" in refused.text
    assert 'aria-invalid="true"' in refused.text
    row = credential(app, signed_in)
    assert row is not None
    assert row.confirmed_at is None
    assert AuthMethod.TOTP.value not in auth_methods(app, signed_in)

    malformed = client.post(
        "/account/totp",
        data={"csrf_token": csrf_token_of(page), "action": "confirm", "code": "12ab"},
    )
    assert malformed.status_code == 400
    assert "El código tiene 6 números." in malformed.text


def test_a_confirmed_authenticator_is_replaced_only_with_a_current_code(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    page = client.get("/account/totp")
    assert 'value="replace"' in page.text
    token = csrf_token_of(page)

    refused = client.post("/account/totp", data={"csrf_token": token, "action": "start"})
    assert refused.status_code == 409
    assert "ya está activa" in refused.text
    wrong = client.post(
        "/account/totp",
        data={"csrf_token": token, "action": "replace", "code": wrong_codes(secret, now, 1)[0]},
    )
    assert wrong.status_code == 401
    row = credential(app, signed_in)
    assert row is not None
    assert row.confirmed_at is not None  # still the old one

    replaced = client.post(
        "/account/totp",
        data={"csrf_token": token, "action": "replace", "code": code_at(secret, now)},
        follow_redirects=False,
    )
    assert replaced.status_code == 303
    new_secret = secret_on(client.get(replaced.headers["location"]))
    assert new_secret != secret
    row = credential(app, signed_in)
    assert row is not None
    assert row.confirmed_at is None


# Step-up -------------------------------------------------------------------------------------
def test_step_up_with_a_code_elevates_the_session_and_resumes_the_request(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    assert AuthMethod.TOTP.value not in auth_methods(app, signed_in)
    done = step_up(client, code=code_at(secret, now))
    assert done.status_code == 303
    assert done.headers["location"] == f"{endpoints.AUTHORIZE_CONTINUE}?request_id={REQUEST_ID}"
    assert auth_methods(app, signed_in)[AuthMethod.TOTP.value] == int(now.timestamp())
    assert any(c.startswith("idp_session=") for c in done.headers.get_list("set-cookie"))

    # elevated now: the step-up page sends the citizen straight on
    again = client.get(f"{endpoints.STEP_UP_TOTP}?request_id={REQUEST_ID}", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"].startswith(endpoints.AUTHORIZE_CONTINUE)


def test_step_up_without_a_request_returns_to_the_account(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    done = step_up(client, request_id=None, code=code_at(secret, now))
    assert (done.status_code, done.headers["location"]) == (303, "/account")


def test_a_wrong_code_is_refused_without_elevating(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    refused = step_up(client, code=wrong_codes(secret, now, 1)[0])
    assert refused.status_code == 401
    assert "El código no es correcto" in refused.text
    assert 'href="#code"' in refused.text  # the error summary links to the field
    assert f'name="request_id" value="{REQUEST_ID}"' in refused.text
    assert AuthMethod.TOTP.value not in auth_methods(app, signed_in)


def test_a_code_is_accepted_only_once(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    code = code_at(secret, now)
    assert step_up(client, code=code).status_code == 303
    page = client.get("/account")
    reused = client.post(
        endpoints.STEP_UP_TOTP,
        data={"csrf_token": csrf_token_of(page), "code": code, "request_id": REQUEST_ID},
        follow_redirects=False,
    )
    assert reused.status_code == 401
    assert "Ese código ya se usó" in reused.text
    # the previous step's code is older than the one used: refused as well
    previous = code_at(secret, now - timedelta(seconds=30))
    if previous != code:
        again = client.post(
            endpoints.STEP_UP_TOTP,
            data={"csrf_token": csrf_token_of(page), "code": previous},
            follow_redirects=False,
        )
        assert again.status_code == 401


def test_codes_one_step_away_are_accepted_and_two_steps_away_refused(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    accepted_steps = {code_at(secret, now + timedelta(seconds=30 * s)) for s in (-1, 0, 1)}
    for offset in (-60, 60):
        code = code_at(secret, now + timedelta(seconds=offset))
        if code in accepted_steps:  # one in a million: the same digits another step
            continue
        assert step_up(client, code=code).status_code == 401
    assert step_up(client, code=code_at(secret, now + timedelta(seconds=30))).status_code == 303

    # the pure check agrees, and knows which step matched
    assert totp.matching_steps(secret, code_at(secret, now - timedelta(seconds=30)), now=now) == [
        totp.time_step(now) - 1
    ]


def test_a_recovery_code_works_once(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    _, codes = enrolled(app, signed_in, now)
    page = client.get(f"{endpoints.STEP_UP_TOTP}?request_id={REQUEST_ID}")
    assert 'name="recovery_code"' in page.text
    used = step_up(client, recovery_code=codes[0])
    assert used.status_code == 303
    assert used.headers["location"].startswith(endpoints.AUTHORIZE_CONTINUE)
    methods = auth_methods(app, signed_in)
    assert AuthMethod.RECOVERY_CODE.value in methods
    assert AuthMethod.TOTP.value not in methods

    page = client.get("/account")
    typed = codes[0].replace("-", "").lower()  # as a person may type it
    again = client.post(
        endpoints.STEP_UP_TOTP,
        data={"csrf_token": csrf_token_of(page), "recovery_code": typed},
        follow_redirects=False,
    )
    assert again.status_code == 401
    assert "no es correcto o ya se usó" in again.text
    assert 'href="#recovery_code"' in again.text
    # the others still work
    other = client.post(
        endpoints.STEP_UP_TOTP,
        data={"csrf_token": csrf_token_of(page), "recovery_code": codes[1].lower()},
        follow_redirects=False,
    )
    assert other.status_code == 303


def test_step_up_without_an_authenticator_links_to_enrolment_and_back(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    page = client.get(f"{endpoints.STEP_UP_TOTP}?request_id={REQUEST_ID}")
    assert page.status_code == 200
    assert "Todavía no configuró la verificación en dos pasos" in page.text
    assert f'href="/account/totp?request_id={REQUEST_ID}"' in page.text
    assert 'name="code"' not in page.text

    enrolment = start_enrolment(client, request_id=REQUEST_ID)
    assert f'name="request_id" value="{REQUEST_ID}"' in enrolment.text
    confirmed = client.post(
        "/account/totp",
        data={
            "csrf_token": csrf_token_of(enrolment),
            "action": "confirm",
            "code": code_at(secret_on(enrolment), now),
            "request_id": REQUEST_ID,
        },
    )
    back = f"{endpoints.STEP_UP_TOTP}?request_id={REQUEST_ID}"
    assert f'href="{back}"' in confirmed.text
    resumed = client.get(back, follow_redirects=False)
    assert resumed.status_code == 303
    assert resumed.headers["location"] == f"{endpoints.AUTHORIZE_CONTINUE}?request_id={REQUEST_ID}"


def test_a_malformed_request_id_is_dropped(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    done = step_up(client, request_id="https://evil.example/", code=code_at(secret, now))
    assert (done.status_code, done.headers["location"]) == (303, "/account")


# Throttling ----------------------------------------------------------------------------------
def test_wrong_codes_are_throttled_with_a_backoff(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime, settings: Settings
) -> None:
    secret, _ = enrolled(app, signed_in, now)
    page = client.get(f"{endpoints.STEP_UP_TOTP}?request_id={REQUEST_ID}")
    token = csrf_token_of(page)

    def attempt(code: str) -> Response:
        return client.post(
            endpoints.STEP_UP_TOTP,
            data={"csrf_token": token, "code": code, "request_id": REQUEST_ID},
            follow_redirects=False,
        )

    wrong = wrong_codes(secret, now, 5)
    assert [attempt(code).status_code for code in wrong[:4]] == [401] * 4
    fifth = attempt(wrong[4])
    assert fifth.status_code == 429
    assert int(fifth.headers["retry-after"]) == settings.login_backoff_base_seconds
    assert "Hubo demasiados códigos incorrectos" in fifth.text
    assert "30 segundos" in fifth.text

    blocked = attempt(code_at(secret, now))  # even the right code waits
    assert blocked.status_code == 429
    assert AuthMethod.TOTP.value not in auth_methods(app, signed_in)
    with app.state.provider.database.transaction() as session:
        counter = session.get(LoginFailureCounter, f"second_factor:{signed_in}")
        assert counter is not None
        assert counter.failures == 5

    later = now + timedelta(seconds=settings.login_backoff_base_seconds + 1)
    move_clock(app, later)
    assert attempt(code_at(secret, later)).status_code == 303
    with app.state.provider.database.transaction() as session:
        assert session.get(LoginFailureCounter, f"second_factor:{signed_in}") is None


def test_parallel_wrong_attempts_all_count_and_few_are_checked(
    app: FastAPI, citizen_id: int, now: datetime, settings: Settings
) -> None:
    """Twelve workers guess at once, each in its own transaction: the counter row puts them in
    a queue, so only as many as the threshold are compared before the backoff starts."""
    secret, _ = enrolled(app, citizen_id, now)
    provider = app.state.provider
    workers = 12
    guesses = wrong_codes(secret, now, workers)
    start = threading.Barrier(workers)

    def guess(code: str) -> object:
        start.wait()
        with provider.database.transaction() as session:
            return totp.verify_second_factor(
                session,
                citizen_id=citizen_id,
                code=code,
                keys=keys(app),
                policy=provider.throttling.account,
                now=now,
            )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(guess, guesses))

    threshold = settings.login_account_failure_threshold
    assert sum(isinstance(o, totp.WrongCode) for o in outcomes) == threshold - 1
    assert sum(isinstance(o, totp.SecondFactorThrottled) for o in outcomes) == workers - (
        threshold - 1
    )
    with provider.database.transaction() as session:
        counter = session.get(LoginFailureCounter, totp.throttle_key(citizen_id))
        assert counter is not None
        assert counter.failures >= threshold
        right = totp.verify_second_factor(
            session,
            citizen_id=citizen_id,
            code=code_at(secret, now),
            keys=keys(app),
            policy=provider.throttling.account,
            now=now,
        )
    assert isinstance(right, totp.SecondFactorThrottled)


def test_parallel_failures_below_the_threshold_are_all_counted(
    app: FastAPI, citizen_id: int, now: datetime
) -> None:
    secret, _ = enrolled(app, citizen_id, now)
    provider = app.state.provider
    workers = provider.throttling.account.threshold - 1
    start = threading.Barrier(workers)

    def guess(code: str) -> object:
        start.wait()
        with provider.database.transaction() as session:
            return totp.verify_second_factor(
                session,
                citizen_id=citizen_id,
                code=code,
                keys=keys(app),
                policy=provider.throttling.account,
                now=now,
            )

    with ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(guess, wrong_codes(secret, now, workers)))
    assert all(isinstance(o, totp.WrongCode) for o in outcomes)
    with provider.database.transaction() as session:
        counter = session.get(LoginFailureCounter, totp.throttle_key(citizen_id))
        assert counter is not None
        assert counter.failures == workers


def test_one_code_sent_by_two_workers_at_once_is_accepted_once(
    app: FastAPI, citizen_id: int, now: datetime
) -> None:
    secret, codes = enrolled(app, citizen_id, now)
    provider = app.state.provider
    start = threading.Barrier(2)

    def send(code: str) -> object:
        start.wait()
        with provider.database.transaction() as session:
            return totp.verify_second_factor(
                session,
                citizen_id=citizen_id,
                code=code,
                keys=keys(app),
                policy=provider.throttling.account,
                now=now,
            )

    for code in (code_at(secret, now), codes[0]):
        with ThreadPoolExecutor(max_workers=2) as pool:
            outcomes = list(pool.map(send, [code, code]))
        assert sum(isinstance(o, totp.SecondFactorAccepted) for o in outcomes) == 1


def test_starting_twice_at_once_leaves_one_pending_secret(
    app: FastAPI, citizen_id: int, now: datetime
) -> None:
    """A double click on "set up": both requests succeed, the later secret wins."""
    provider = app.state.provider
    start = threading.Barrier(2)

    def begin(_: int) -> object:
        start.wait()
        with provider.database.transaction() as session:
            return totp.start_enrolment(session, citizen_id=citizen_id, keys=keys(app), now=now)

    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(begin, range(2)))
    assert all(isinstance(o, totp.EnrolmentStarted) for o in outcomes)
    row = credential(app, citizen_id)
    assert row is not None
    secrets_started = {o.secret for o in outcomes if isinstance(o, totp.EnrolmentStarted)}
    assert keys(app).open(row.secret_encrypted, citizen_id=citizen_id) in secrets_started


# Storage and access --------------------------------------------------------------------------
def test_the_secret_is_not_stored_in_clear(app: FastAPI, citizen_id: int, now: datetime) -> None:
    secret, _ = enrolled(app, citizen_id, now)
    row = credential(app, citizen_id)
    assert row is not None
    stored = row.secret_encrypted
    in_base32 = base64.b32encode(secret).decode()
    for clear in (in_base32, in_base32.lower(), secret.hex(), base64.b64encode(secret).decode()):
        assert clear not in stored
    assert secret not in stored.encode()
    assert keys(app).open(stored, citizen_id=citizen_id) == secret
    assert keys(app).open(stored, citizen_id=citizen_id + 1) is None  # bound to its row
    other = totp.SecondFactorKeys.from_settings(
        app.state.provider.settings.model_copy(update={"key_passphrase": None})
    )
    assert other.open(stored, citizen_id=citizen_id) is None  # another passphrase


def test_pages_need_a_signed_in_citizen(client: TestClient, now: datetime) -> None:
    enrol = client.get("/account/totp", follow_redirects=False)
    assert (enrol.status_code, enrol.headers["location"]) == (303, "/login")
    step = client.get(f"{endpoints.STEP_UP_TOTP}?request_id={REQUEST_ID}", follow_redirects=False)
    assert step.status_code == 303
    assert step.headers["location"] == f"/login?request_id={REQUEST_ID}"


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime
) -> None:
    started = client.post("/account/totp", data={"action": "start"}, follow_redirects=False)
    assert started.status_code == 403
    assert credential(app, signed_in) is None

    secret, _ = enrolled(app, signed_in, now)
    for token in ("", "not-the-token"):
        refused = client.post(
            endpoints.STEP_UP_TOTP,
            data={"csrf_token": token, "code": code_at(secret, now), "request_id": REQUEST_ID},
            follow_redirects=False,
        )
        assert refused.status_code == 403
    assert AuthMethod.TOTP.value not in auth_methods(app, signed_in)
    row = credential(app, signed_in)
    assert row is not None
    assert row.last_used_step == totp.time_step(now - timedelta(hours=1))  # code still unused
    assert step_up(client, code=code_at(secret, now)).status_code == 303


@pytest.mark.parametrize(
    ("language", "title"),
    [("es", "Confirme que es usted"), ("pt", "Confirme que é você"), ("en", "Confirm it is you")],
)
def test_step_up_page_in_each_language(
    app: FastAPI, client: TestClient, signed_in: int, now: datetime, language: str, title: str
) -> None:
    enrolled(app, signed_in, now)
    page = client.get(endpoints.STEP_UP_TOTP, headers={"accept-language": language})
    assert f'<html lang="{language}">' in page.text
    assert title in page.text


def test_recovery_codes_are_fifty_bits_in_readable_groups() -> None:
    codes = totp.new_recovery_codes()
    assert len(codes) == totp.RECOVERY_CODE_COUNT == 10
    assert all(RECOVERY_TEXT.fullmatch(f"<code>{code}</code>") for code in codes)
    assert len(totp.RECOVERY_ALPHABET) ** 10 == 2**50
    assert totp.recovery_code_of(" abcde-fghjk ") == "ABCDEFGHJK"
    assert totp.recovery_code_of("ABCDE-FGHJ0") is None  # 0 is not in the alphabet
    assert totp.totp_code_of("123 456") == "123456"
    assert totp.totp_code_of("12345") is None
