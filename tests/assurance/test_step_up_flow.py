"""The assurance gate in the authorization flow, end to end over the provider's pages:
unmet verification levels, the step-up routing to the missing method, the acr and amr in the
ID token, and an elevation that lapses after its lifetime.

The second factors' own pages (TOTP, eID card) have their own tests; here a proven method is
written into the session as those pages do (``record_method``), to test the gate alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import parse_qsl, urljoin, urlsplit

import jwt
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from idp.app import create_app
from idp.assurance.demo_card import DemoCaFiles, sign_challenge
from idp.assurance.methods import AuthMethod, record_method
from idp.config import Settings
from idp.context import utc_now
from idp.oidc import endpoints
from idp.storage.models import AuthorizationRequest, BrowserSession, TotpCredential
from tests.assurance.test_totp import code_at, enrolled
from tests.helpers import add_citizen, csrf_token_of
from tests.oidc.conftest import RegisteredClient
from tests.oidc.flow import authorize_url, pkce_pair, query_of, redeem
from tests.oidc.test_authorize import advance_clock

USERNAME = "3.456.789-4"
PASSWORD = "a long enough password 7"

NID = "urn:iduruguay:nid:{}".format


def _citizen(app: FastAPI, level: int) -> int:
    provider = app.state.provider
    return add_citizen(
        provider.database,
        provider.hasher,
        username=USERNAME,
        password=PASSWORD,
        verification_level=level,
    )


def _start(client: TestClient, registered: RegisteredClient, **params: str) -> tuple[Response, str]:
    verifier, challenge = pkce_pair()
    url = authorize_url(registered.client_id, registered.redirect_uri, challenge, **params)
    return client.get(url, follow_redirects=False), verifier


def _follow(client: TestClient, response: Response) -> Response:
    """Follow redirects on the provider until a page or a redirect to the client."""
    while response.status_code in (302, 303):
        location = response.headers["location"]
        if location.startswith("https://rp.example"):
            return response
        response = client.get(urljoin(str(response.url), location), follow_redirects=False)
    return response


def _post_login(client: TestClient, login_page: Response) -> tuple[str, Response]:
    """Post the login form the authorize endpoint sent us to (keeping its request_id)."""
    request_id = dict(parse_qsl(urlsplit(str(login_page.url)).query))["request_id"]
    posted = client.post(
        "/login",
        data={
            "csrf_token": csrf_token_of(login_page),
            "username": USERNAME,
            "password": PASSWORD,
            "request_id": request_id,
        },
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    return request_id, posted


def _log_in_at(client: TestClient, login_page: Response) -> Response:
    """Log in on that form and follow the provider's redirects."""
    return _follow(client, _post_login(client, login_page)[1])


def _prove(app: FastAPI, method: AuthMethod, *, age: timedelta = timedelta(0)) -> None:
    """Record a method proven ``age`` ago on the (single) signed-in session."""
    provider = app.state.provider
    with provider.database.transaction() as session:
        row = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id.is_not(None))
        ).one()
        row.auth_methods = record_method(row.auth_methods, method, now=provider.clock() - age)


def _consent(client: TestClient, page: Response) -> Response:
    assert urlsplit(str(page.url)).path == endpoints.CONSENT, page.url
    request_id = dict(parse_qsl(urlsplit(str(page.url)).query))["request_id"]
    return client.post(
        endpoints.CONSENT,
        data={"csrf_token": csrf_token_of(page), "request_id": request_id, "decision": "allow"},
        follow_redirects=False,
    )


def _id_token(
    client: TestClient, registered: RegisteredClient, redirect: Response, verifier: str
) -> dict[str, object]:
    params = query_of(redirect.headers["location"])
    assert "code" in params, params
    tokens = redeem(
        client,
        registered.client_id,
        registered.client_secret,
        params["code"],
        verifier,
        registered.redirect_uri,
    )
    assert tokens.status_code == 200, tokens.text
    claims: dict[str, object] = jwt.decode(
        tokens.json()["id_token"], options={"verify_signature": False}
    )
    return claims


def test_an_account_verified_at_level_1_asked_for_level_3_gets_unmet_requirements(
    app: FastAPI, client: TestClient, register
) -> None:
    _citizen(app, 1)
    registered = register()
    started, _ = _start(client, registered, acr_values=NID(3), ui_locales="en")
    page = _log_in_at(client, _follow(client, started))

    assert page.status_code == 200
    assert "This service asks for a higher identity level" in page.text
    assert "level 1" in page.text
    assert "level 3" in page.text
    assert "electronic ID card" in page.text  # how to reach level 3
    # The button gives the client the error, with state and iss (RFC 9207).
    href = page.text.split('class="button" href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    assert href.startswith(registered.redirect_uri)
    returned = query_of(href)
    assert returned["error"] == "unmet_authentication_requirements"
    assert returned["state"] == "state-123"
    assert returned["iss"] == app.state.provider.settings.issuer
    # Nothing is left parked for this request.
    with app.state.provider.database.transaction() as session:
        assert session.scalars(select(AuthorizationRequest)).all() == []


def test_unmet_requirements_with_prompt_none_go_straight_back(
    app: FastAPI, client: TestClient, register
) -> None:
    _citizen(app, 1)
    registered = register()
    started, _ = _start(client, registered)
    _log_in_at(client, _follow(client, started))  # a session, level 1

    again, _ = _start(client, registered, acr_values=NID(2), prompt="none")
    assert again.status_code == 303
    params = query_of(again.headers["location"])
    assert params["error"] == "unmet_authentication_requirements"


def test_an_essential_acr_this_provider_does_not_know_is_unmet(
    app: FastAPI, client: TestClient, register
) -> None:
    _citizen(app, 3)
    registered = register()
    claims = '{"id_token": {"acr": {"essential": true, "values": ["urn:other:gold"]}}}'
    started, _ = _start(client, registered, claims=claims)
    page = _log_in_at(client, _follow(client, started))
    assert 'class="button"' in page.text
    assert "error=unmet_authentication_requirements" in page.text


def test_unmet_in_form_post_mode_posts_the_error_back(
    app: FastAPI, client: TestClient, register
) -> None:
    _citizen(app, 0)
    registered = register()
    started, _ = _start(client, registered, acr_values=NID(1), response_mode="form_post")
    page = _log_in_at(client, _follow(client, started))
    assert f'action="{registered.redirect_uri}"' in page.text
    assert 'value="unmet_authentication_requirements"' in page.text
    assert "form-action https://rp.example.gub.uy" in page.headers["content-security-policy"]


def test_a_level_2_request_sends_a_password_login_to_the_step_up_chooser(
    app: FastAPI, client: TestClient, register
) -> None:
    _citizen(app, 2)
    registered = register()
    started, _ = _start(client, registered, acr_values=NID(2))
    page = _log_in_at(client, _follow(client, started))

    # No authenticator enrolled: the citizen is offered to set one up, or to use the card.
    assert urlsplit(str(page.url)).path == endpoints.STEP_UP
    request_id = dict(parse_qsl(urlsplit(str(page.url)).query))["request_id"]
    assert f"{endpoints.ACCOUNT_TOTP}?request_id={request_id}" in page.text
    assert f"{endpoints.STEP_UP_CARD}?request_id={request_id}" in page.text


def test_with_an_authenticator_the_step_up_goes_straight_to_it(
    app: FastAPI, client: TestClient, register
) -> None:
    citizen_id = _citizen(app, 2)
    with app.state.provider.database.transaction() as session:
        session.add(
            TotpCredential(
                citizen_id=citizen_id,
                secret_encrypted="not used by this test",
                created_at=utc_now(),
                confirmed_at=utc_now(),
            )
        )
    registered = register()
    started, _ = _start(client, registered, acr_values=NID(2))
    request_id, posted = _post_login(client, _follow(client, started))
    resumed = client.get(posted.headers["location"], follow_redirects=False)
    assert resumed.headers["location"].startswith(endpoints.STEP_UP)
    chooser = client.get(resumed.headers["location"], follow_redirects=False)
    assert chooser.status_code == 303
    assert chooser.headers["location"] == f"{endpoints.STEP_UP_TOTP}?request_id={request_id}"


def test_a_level_3_request_asks_for_the_card(app: FastAPI, client: TestClient, register) -> None:
    _citizen(app, 3)
    registered = register()
    started, _ = _start(client, registered, acr_values=NID(3))
    request_id, posted = _post_login(client, _follow(client, started))
    resumed = client.get(posted.headers["location"], follow_redirects=False)
    chooser = client.get(resumed.headers["location"], follow_redirects=False)
    assert chooser.headers["location"] == f"{endpoints.STEP_UP_CARD}?request_id={request_id}"


def test_after_the_step_up_the_request_resumes_with_the_higher_acr_which_then_lapses(
    app: FastAPI, client: TestClient, register
) -> None:
    _citizen(app, 2)
    registered = register()
    started, verifier = _start(client, registered, acr_values=NID(2))
    chooser = _log_in_at(client, _follow(client, started))
    request_id = dict(parse_qsl(urlsplit(str(chooser.url)).query))["request_id"]

    _prove(app, AuthMethod.TOTP)
    resumed = client.get(
        f"{endpoints.AUTHORIZE_CONTINUE}?request_id={request_id}", follow_redirects=False
    )
    redirect = _consent(client, _follow(client, resumed))
    claims = _id_token(client, registered, redirect, verifier)
    assert claims["acr"] == NID(2)
    assert claims["amr"] == [
        "pwd",
        "otp",
        "mfa",
        "urn:iduruguay:am:password",
        "urn:iduruguay:am:totp",
    ]

    # Within the lifetime, the same level is given again without asking (consent remembered).
    again, verifier = _start(client, registered, acr_values=NID(2), prompt="none")
    assert _id_token(client, registered, again, verifier)["acr"] == NID(2)

    # Past the lifetime the session falls back to its password level: a level-2 request
    # needs the second factor again, and a plain request gets level 1.
    advance_clock(app, timedelta(seconds=app.state.provider.settings.step_up_lifetime_seconds + 1))
    lapsed, _ = _start(client, registered, acr_values=NID(2), prompt="none")
    assert query_of(lapsed.headers["location"])["error"] == "interaction_required"
    lapsed, _ = _start(client, registered, acr_values=NID(2))
    assert lapsed.headers["location"].startswith(endpoints.STEP_UP)
    plain, verifier = _start(client, registered)
    plain_claims = _id_token(client, registered, plain, verifier)
    assert plain_claims["acr"] == NID(1)
    assert plain_claims["amr"] == ["pwd", "urn:iduruguay:am:password"]


def test_a_step_up_that_lapses_on_the_consent_page_is_asked_again(
    app: FastAPI, client: TestClient, register
) -> None:
    _citizen(app, 2)
    registered = register()
    started, _ = _start(client, registered, acr_values=NID(2))
    chooser = _log_in_at(client, _follow(client, started))
    request_id = dict(parse_qsl(urlsplit(str(chooser.url)).query))["request_id"]
    _prove(app, AuthMethod.TOTP)
    consent_page = _follow(
        client,
        client.get(
            f"{endpoints.AUTHORIZE_CONTINUE}?request_id={request_id}", follow_redirects=False
        ),
    )
    advance_clock(app, timedelta(seconds=app.state.provider.settings.step_up_lifetime_seconds + 1))
    answered = _consent(client, consent_page)
    assert answered.headers["location"] == f"{endpoints.STEP_UP}?request_id={request_id}"


def test_discovery_lists_the_profile_acr_values(client: TestClient) -> None:
    metadata = client.get("/.well-known/openid-configuration").json()
    assert metadata["acr_values_supported"] == [NID(level) for level in range(4)]


def test_the_eidas_profile_names_levels_with_eidas_uris(
    settings_factory: Callable[..., Settings], sqlite_database_url: str
) -> None:
    application = create_app(settings_factory(sqlite_database_url, acr_profile="eidas"))
    try:
        with TestClient(application, base_url="http://127.0.0.1:8000") as http:
            metadata = http.get("/.well-known/openid-configuration").json()
    finally:
        application.state.provider.database.dispose()
    assert metadata["acr_values_supported"] == [
        "http://eidas.europa.eu/LoA/low",
        "http://eidas.europa.eu/LoA/substantial",
        "http://eidas.europa.eu/LoA/high",
    ]


def test_a_password_login_asked_for_level_2_steps_up_with_totp_and_resumes(
    app: FastAPI, client: TestClient, register
) -> None:
    """The whole path through the real pages: login, the TOTP page, consent, the ID token."""
    citizen_id = _citizen(app, 2)
    secret, _recovery = enrolled(app, citizen_id, app.state.provider.clock())
    registered = register()
    started, verifier = _start(client, registered, acr_values=NID(2), nonce="n-2")
    login_page = _follow(client, started)
    request_id = dict(parse_qsl(urlsplit(str(login_page.url)).query))["request_id"]
    totp_page = _log_in_at(client, login_page)
    assert urlsplit(str(totp_page.url)).path == endpoints.STEP_UP_TOTP

    posted = client.post(
        endpoints.STEP_UP_TOTP,
        data={
            "csrf_token": csrf_token_of(totp_page),
            "request_id": request_id,
            "code": code_at(secret, app.state.provider.clock()),
        },
        follow_redirects=False,
    )
    assert posted.headers["location"] == f"{endpoints.AUTHORIZE_CONTINUE}?request_id={request_id}"
    redirect = _consent(client, _follow(client, posted))
    claims = _id_token(client, registered, redirect, verifier)
    assert claims["acr"] == NID(2)
    assert claims["nonce"] == "n-2"  # the original request, resumed
    assert "otp" in claims["amr"]
    assert "urn:iduruguay:am:totp" in claims["amr"]


def test_a_password_login_asked_for_level_3_steps_up_with_the_software_card(
    app: FastAPI, client: TestClient, register
) -> None:
    """Level 3 through the real card page: the demo CA issues the citizen's software card,
    which signs the page's challenge; the request resumes with nid:3 and the card's amr."""
    provider = app.state.provider
    settings = provider.settings
    _citizen(app, 3)
    authority = DemoCaFiles.under(settings.keys_dir, settings.key_passphrase_bytes()).create(
        now=provider.clock()
    )
    key, certificate = authority.issue_card(
        document_number=USERNAME.replace(".", "").replace("-", ""), now=provider.clock()
    )
    registered = register()
    started, verifier = _start(client, registered, acr_values=NID(3))
    login_page = _follow(client, started)
    request_id = dict(parse_qsl(urlsplit(str(login_page.url)).query))["request_id"]
    card_page = _log_in_at(client, login_page)
    assert urlsplit(str(card_page.url)).path == endpoints.STEP_UP_CARD
    challenge = re.search(r"--challenge ([A-Za-z0-9_-]{20,})", card_page.text)
    assert challenge is not None, card_page.text

    answer = sign_challenge(
        key=key,
        certificate=certificate,
        challenge=challenge.group(1),
        audience=settings.issuer,
        now=provider.clock(),
    )
    posted = client.post(
        endpoints.STEP_UP_CARD,
        data={
            "csrf_token": csrf_token_of(card_page),
            "request_id": request_id,
            "card_response": answer,
        },
        follow_redirects=False,
    )
    assert posted.headers["location"] == f"{endpoints.AUTHORIZE_CONTINUE}?request_id={request_id}"
    claims = _id_token(client, registered, _consent(client, _follow(client, posted)), verifier)
    assert claims["acr"] == NID(3)
    assert "hwk" in claims["amr"]
    assert "urn:iduruguay:am:ci" in claims["amr"]
