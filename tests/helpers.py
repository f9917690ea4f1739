"""Small helpers shared by tests that drive the pages over HTTP."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from httpx import Response

from idp.accounts.passwords import PasswordHasher
from idp.accounts.registration import NewCitizen, create_citizen
from idp.context import utc_now
from idp.storage.database import Database

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
DEMO_USERNAME = "1.234.567-2"
DEMO_PASSWORD = "correct horse battery"


def csrf_token_of(page: Response) -> str:
    match = CSRF_FIELD.search(page.text)
    assert match, "the page has no CSRF token field"
    return match.group(1)


def add_citizen(
    database: Database,
    hasher: PasswordHasher,
    *,
    username: str = DEMO_USERNAME,
    password: str = DEMO_PASSWORD,
    given_name: str = "María",
    verification_level: int = 0,
) -> int:
    with database.transaction() as session:
        citizen = create_citizen(
            session,
            request=NewCitizen(
                document_number=username,
                given_name=given_name,
                family_name="Rodríguez",
                verification_level=verification_level,
            ),
            password=password,
            hasher=hasher,
            now=utc_now(),
        )
        return citizen.id


def log_in(
    client: TestClient, *, username: str = DEMO_USERNAME, password: str = DEMO_PASSWORD
) -> Response:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_token_of(page), "username": username, "password": password},
        follow_redirects=False,
    )
