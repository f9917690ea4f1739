"""The portal end to end against the real provider: login, claims, step-up, logout, refusals."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from idp.assurance.methods import AuthMethod, record_method
from idp.storage import clients as client_store
from idp.storage.models import BrowserSession, ClientAssertionJti
from relying_party_demo.app import SESSION_COOKIE
from tests.helpers import add_citizen, csrf_token_of
from tests.relying_party_demo.conftest import (
    LEVEL_0_USERNAME,
    LEVEL_1_USERNAME,
    LEVEL_2_USERNAME,
    PASSWORD,
    LiveDemo,
)
from tests.relying_party_demo.walk import walk


def _log_in(live: LiveDemo, username: str, *, path: str = "/login") -> tuple[httpx.Client, str]:
    browser = live.browser()
    result = walk(
        browser, f"{live.portal}{path}", portal=live.portal, username=username, password=PASSWORD
    )
    return browser, result.page.text


def test_login_through_the_portal_shows_the_claims_and_the_level(live: LiveDemo) -> None:
    browser = live.browser()
    result = walk(
        browser,
        f"{live.portal}/login",
        portal=live.portal,
        username=LEVEL_1_USERNAME,
        password=PASSWORD,
    )
    page = result.page
    assert page.status_code == 200
    assert str(page.url) == f"{live.portal}/perfil"
    assert result.passed_through(live.metadata["authorization_endpoint"])
    assert "Juan" in page.text
    assert "Rodríguez" in page.text
    assert "urn:iduruguay:nid:1" in page.text
    assert "datos de contacto comprobados" in page.text  # acr in plain language
    assert "<code>pwd</code>: contraseña" in page.text  # amr in plain language
    assert "2.345.678-3" in page.text or "23456783" in page.text  # the document scope
    # The signed session cookie stays well below the 4 kB browsers keep.
    assert len(browser.cookies[SESSION_COOKIE]) < 3500
    # The home page now greets the citizen.
    assert "Ingresaste como Juan." in browser.get(f"{live.portal}/").text


def test_the_authorization_request_uses_pkce_nonce_and_the_registered_redirect(
    live: LiveDemo,
) -> None:
    browser = live.browser()
    start = browser.get(f"{live.portal}/login?level=2", follow_redirects=False)
    assert start.status_code == 302
    location = start.headers["location"]
    assert location.startswith(live.metadata["authorization_endpoint"])
    query = {name: values[0] for name, values in parse_qs(urlsplit(location).query).items()}
    assert query["client_id"] == "tramites-demo"
    assert query["redirect_uri"] == f"{live.portal}/callback"
    assert query["response_type"] == "code"
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) == 43
    assert query["state"]
    assert query["nonce"]
    assert query["acr_values"] == "urn:iduruguay:nid:2"
    assert set(query["scope"].split()) == {"openid", "profile", "email", "document"}


def test_the_token_endpoint_is_called_with_private_key_jwt(live: LiveDemo) -> None:
    provider = live.provider_app.state.provider
    with provider.database.transaction() as session:
        client = client_store.get_client(session, client_id=live.registration.client_id)
        assert client is not None
        assert client.token_endpoint_auth_method == "private_key_jwt"
        assert client.secret_hash is None
        assert session.scalars(select(ClientAssertionJti)).all() == []
    _, page = _log_in(live, LEVEL_0_USERNAME)
    assert "María" in page
    with provider.database.transaction() as session:
        used = session.scalars(select(ClientAssertionJti)).all()
    # The provider accepted exactly one client assertion of the portal (its replay cache).
    assert [row.client_id for row in used] == ["tramites-demo"]


def test_a_level_0_account_logs_in_normally(live: LiveDemo) -> None:
    _, page = _log_in(live, LEVEL_0_USERNAME)
    assert "María" in page
    assert "urn:iduruguay:nid:0" in page
    assert "identidad no comprobada" in page


def test_the_procedure_offers_step_up_and_explains_an_unmet_level(live: LiveDemo) -> None:
    browser, _ = _log_in(live, LEVEL_1_USERNAME)
    procedure = browser.get(f"{live.portal}/tramite")
    assert "Tu ingreso no alcanza el nivel necesario" in procedure.text
    assert 'action="/login"' in procedure.text
    assert 'name="level" value="2"' in procedure.text
    # The citizen presses "Confirmar mi identidad con nivel 2": the form sends level and next.
    result = walk(
        browser,
        f"{live.portal}/login?level=2&next=/tramite",
        portal=live.portal,
        username=LEVEL_1_USERNAME,
        password=PASSWORD,
    )
    page = result.page
    assert str(page.url) == f"{live.portal}/tramite"
    assert "El ingreso no se completó" in page.text
    assert "todavía no tiene el nivel de verificación que pide este trámite" in page.text
    assert "unmet_authentication_requirements" in page.text
    assert "Traceback" not in page.text
    # The earlier login stays: the portal still knows the citizen at level 1.
    assert "Ingresaste como Juan." in browser.get(f"{live.portal}/").text


def test_logout_ends_the_portal_session_and_the_providers(live: LiveDemo) -> None:
    browser, _ = _log_in(live, LEVEL_1_USERNAME)
    forged = browser.post(f"{live.portal}/logout", follow_redirects=False)
    assert forged.status_code == 403  # another site's form: no token, nothing done
    assert "Ingresaste como Juan." in browser.get(f"{live.portal}/").text
    token = csrf_token_of(browser.get(f"{live.portal}/logout"))
    result = walk(
        browser,
        f"{live.portal}/logout",
        portal=live.portal,
        method="POST",
        data={"csrf_token": token},
    )
    end_session = live.metadata["end_session_endpoint"]
    assert result.passed_through(end_session)
    logout_request = next(url for url in result.visited if url.startswith(end_session))
    query = parse_qs(urlsplit(logout_request).query)
    assert query["post_logout_redirect_uri"] == [f"{live.portal}/"]
    assert query["id_token_hint"][0].count(".") == 2
    page = result.page
    assert str(page.url).startswith(f"{live.portal}/?state=")
    assert "Cerraste la sesión en este portal y en el proveedor" in page.text
    profile = browser.get(f"{live.portal}/perfil")
    assert "Necesitas ingresar" in profile.text
    # The provider's session is gone too: logging in again asks for the password.
    again = walk(
        browser,
        f"{live.portal}/login",
        portal=live.portal,
        username=LEVEL_1_USERNAME,
        password=PASSWORD,
    )
    assert any("/login" in url and live.issuer in url for url in again.visited)


def test_a_callback_with_a_forged_state_is_refused_with_a_clear_page(live: LiveDemo) -> None:
    browser = live.browser()
    browser.get(f"{live.portal}/login", follow_redirects=False)
    page = browser.get(f"{live.portal}/callback?code=abc&state=forged")
    assert page.status_code == 400
    assert "No pudimos completar el ingreso" in page.text
    assert "no corresponde a un ingreso iniciado en este navegador" in page.text
    assert "Traceback" not in page.text


def test_a_state_from_another_browser_is_refused(live: LiveDemo) -> None:
    victim = live.browser()
    start = victim.get(f"{live.portal}/login", follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    attacker = live.browser()
    page = attacker.get(f"{live.portal}/callback?code=abc&state={state}")
    assert page.status_code == 400
    assert "No pudimos completar el ingreso" in page.text


def test_a_provider_error_is_explained_in_plain_language(live: LiveDemo) -> None:
    browser = live.browser()
    result = walk(
        browser,
        f"{live.portal}/login",
        portal=live.portal,
        username=LEVEL_0_USERNAME,
        password=PASSWORD,
        consent="deny",
    )
    page = result.page
    assert str(page.url) == f"{live.portal}/perfil"
    assert "Cancelaste el ingreso o no autorizaste compartir tus datos" in page.text
    assert "access_denied" in page.text
    assert "Necesitas ingresar" in page.text


def test_a_wrong_issuer_in_the_response_is_refused(live: LiveDemo) -> None:
    browser = live.browser()
    start = browser.get(f"{live.portal}/login", follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    page = browser.get(f"{live.portal}/callback?code=abc&state={state}&iss=https://evil.example")
    assert page.status_code == 400
    assert "otro proveedor de identidad" in page.text


def test_a_level_2_citizen_who_steps_up_can_use_the_procedure(live: LiveDemo) -> None:
    """The second factor's own pages have their own tests; here the proven TOTP is written
    into the provider's session as those pages do, and the portal's step-up is the subject."""
    provider = live.provider_app.state.provider
    add_citizen(
        provider.database,
        provider.hasher,
        username=LEVEL_2_USERNAME,
        given_name="Ana",
        verification_level=2,
    )
    browser, page = _log_in(live, LEVEL_2_USERNAME)
    assert "urn:iduruguay:nid:1" in page  # a password alone gives level 1
    with provider.database.transaction() as session:
        row = session.scalars(
            select(BrowserSession).where(BrowserSession.citizen_id.is_not(None))
        ).one()
        row.auth_methods = record_method(row.auth_methods, AuthMethod.TOTP, now=provider.clock())
    result = walk(
        browser,
        f"{live.portal}/login?level=2&next=/tramite",
        portal=live.portal,
    )
    assert str(result.page.url) == f"{live.portal}/tramite"
    assert "Puedes hacer este trámite" in result.page.text
    profile = browser.get(f"{live.portal}/perfil").text
    assert "urn:iduruguay:nid:2" in profile
    assert "identidad verificada contra el registro civil, ingreso con dos factores" in profile
    assert "<code>otp</code>: código de un solo uso" in profile
    assert "<code>mfa</code>: más de un factor" in profile


def test_pages_follow_the_chosen_language_and_pass_it_to_the_provider(live: LiveDemo) -> None:
    browser = live.browser()
    home = browser.get(f"{live.portal}/?lang=pt")
    assert '<html lang="pt">' in home.text
    assert "Entrar com identidade digital" in home.text
    start = browser.get(f"{live.portal}/login", follow_redirects=False)
    assert parse_qs(urlsplit(start.headers["location"]).query)["ui_locales"] == ["pt"]
    english = browser.get(f"{live.portal}/tramite", headers={"accept-language": "en"})
    assert '<html lang="pt">' in english.text  # the choice made on the page wins


def test_pages_carry_protective_headers(live: LiveDemo) -> None:
    page = httpx.get(f"{live.portal}/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert f"form-action 'self' {live.issuer}" in policy
    assert "script-src" not in policy  # no scripts at all
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    missing = httpx.get(f"{live.portal}/no-such-page")
    assert missing.status_code == 404
    assert "Página no encontrada" in missing.text


def test_a_provider_error_description_is_shown_as_text_only(live: LiveDemo) -> None:
    browser = live.browser()
    start = browser.get(f"{live.portal}/login?next=/tramite", follow_redirects=False)
    state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
    answer = browser.get(
        f"{live.portal}/callback",
        params={
            "error": "temporarily_unavailable",
            "error_description": "<script>alert(1)</script>",
            "state": state,
            "iss": live.issuer,
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/tramite"
    page = browser.get(f"{live.portal}/tramite").text
    assert "El proveedor de identidad está ocupado en este momento" in page
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The flash is shown once; the used state cannot be replayed.
    assert "El ingreso no se completó" not in browser.get(f"{live.portal}/tramite").text
    replay = browser.get(f"{live.portal}/callback", params={"code": "x", "state": state})
    assert replay.status_code == 400
