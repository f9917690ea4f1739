"""A browser without JavaScript that starts at the portal and walks through the provider's
pages (login form, consent, the "level not reached" page) until a portal page is shown."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx

from tests.support.browser_flow import forms_of


@dataclass
class Walk:
    page: httpx.Response
    visited: list[str] = field(default_factory=list)

    def passed_through(self, prefix: str) -> bool:
        return any(url.startswith(prefix) for url in self.visited)


def walk(
    browser: httpx.Client,
    url: str,
    *,
    portal: str,
    username: str | None = None,
    password: str | None = None,
    consent: str = "allow",
    method: str = "GET",
    data: dict[str, str] | None = None,
    max_steps: int = 15,
) -> Walk:
    visited: list[str] = []
    response = browser.request(method, url, data=data, follow_redirects=False)
    for _ in range(max_steps):
        visited.append(str(response.url))
        if response.status_code in (302, 303, 307):
            location = urljoin(str(response.url), response.headers["location"])
            response = browser.get(location, follow_redirects=False)
            continue
        if str(response.url).startswith(portal):
            return Walk(page=response, visited=visited)
        assert response.status_code == 200, f"{response.status_code} at {response.url}"
        forms = forms_of(response.text)
        if not forms:
            # The provider's "level not reached" page links back to the portal.
            link = re.search(rf'href="({re.escape(portal)}[^"]*)"', response.text)
            assert link, f"neither a form nor a way back at {response.url}"
            response = browser.get(html.unescape(link.group(1)), follow_redirects=False)
            continue
        form = forms[0]
        data = dict(form.fields)
        if "password" in form.inputs:
            assert username is not None, "a login was required"
            assert password is not None, "a login was required"
            data.update({"username": username, "password": password})
        elif "decision" in form.buttons:
            data["decision"] = consent
        action = urljoin(str(response.url), form.action)
        response = browser.request(form.method.upper(), action, data=data, follow_redirects=False)
    raise AssertionError(f"too many steps: {visited}")
