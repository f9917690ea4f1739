"""Drive the provider's pages like a person with a browser would, without JavaScript.

``authorize_in_browser`` starts at an authorization URL, follows redirects on the provider,
fills the login form, answers the consent page, and stops at the relying party: it returns the
parameters the relying party receives (from the redirect's query, or from the form_post page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)
    buttons: dict[str, list[str]] = field(default_factory=dict)
    inputs: set[str] = field(default_factory=set)


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.forms.append(
                Form(action=attributes.get("action", ""), method=attributes.get("method", "get"))
            )
            return
        if not self.forms:
            return
        form = self.forms[-1]
        name = attributes.get("name")
        if not name:
            return
        if tag == "input":
            form.inputs.add(name)
            if attributes.get("type") in ("hidden",):
                form.fields[name] = attributes.get("value", "")
            elif attributes.get("type") == "submit":
                form.buttons.setdefault(name, []).append(attributes.get("value", ""))
        elif tag == "button":
            form.buttons.setdefault(name, []).append(attributes.get("value", ""))


def forms_of(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    return parser.forms


@dataclass
class RelyingPartyResponse:
    params: dict[str, str]
    mode: str  # "query" or "form_post"
    pages: list[str] = field(default_factory=list)  # URLs of the provider pages shown


def authorize_in_browser(
    browser: httpx.Client,
    url: str,
    *,
    redirect_uri: str,
    username: str | None,
    password: str | None,
    consent: str = "allow",
    max_steps: int = 12,
) -> RelyingPartyResponse:
    pages: list[str] = []
    response = browser.get(url, follow_redirects=False)
    for _ in range(max_steps):
        if response.status_code in (302, 303):
            location = urljoin(str(response.url), response.headers["location"])
            if location.startswith(redirect_uri):
                return RelyingPartyResponse(
                    dict(parse_qsl(urlsplit(location).query)), "query", pages
                )
            response = browser.get(location, follow_redirects=False)
            continue
        pages.append(str(response.url))
        if response.status_code != 200:
            raise AssertionError(
                f"unexpected {response.status_code} at {response.url}: {response.text[:500]}"
            )
        forms = forms_of(response.text)
        if not forms:
            raise AssertionError(f"no form on {response.url}")
        form = forms[0]
        action = urljoin(str(response.url), form.action)
        if action.startswith(redirect_uri):
            return RelyingPartyResponse(dict(form.fields), "form_post", pages)
        data = dict(form.fields)
        if "password" in form.inputs:
            assert username is not None, "a login was required"
            assert password is not None, "a login was required"
            data.update({"username": username, "password": password})
        elif "decision" in form.buttons:
            data["decision"] = consent
        response = browser.post(action, data=data, follow_redirects=False)
    raise AssertionError("too many steps before reaching the relying party")
