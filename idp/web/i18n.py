"""Languages of the citizen-facing pages: Spanish (default), Portuguese and English.

Choice order, as the foundation issue fixes it: the OIDC ``ui_locales`` parameter, then the
language switcher (a cookie), then ``Accept-Language``, then the deployment default. Messages
live in JSON catalogs (one per language, the same keys in each; a test checks that).
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from idp.config import SUPPORTED_LANGUAGES

LANGUAGE_COOKIE = "idp_lang"
LANGUAGE_NAMES = {"es": "Español", "pt": "Português", "en": "English"}


def _primary_subtag(tag: str) -> str:
    return tag.strip().split("-", 1)[0].split("_", 1)[0].lower()


def _first_supported(tags: list[str]) -> str | None:
    for tag in tags:
        primary = _primary_subtag(tag)
        if primary in SUPPORTED_LANGUAGES:
            return primary
    return None


def parse_accept_language(header: str | None) -> list[str]:
    """Language tags of an ``Accept-Language`` header, best first (RFC 9110 12.5.4)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header[:1000].split(",")):
        parts = item.strip().split(";")
        tag = parts[0].strip()
        if not tag or tag == "*":
            continue
        quality = 1.0
        for parameter in parts[1:]:
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate_language(
    *,
    ui_locales: str | None,
    chosen: str | None,
    accept_language: str | None,
    default: str,
) -> str:
    """The page language: ``ui_locales``, then the switcher's choice, then the browser's."""
    if ui_locales:
        from_request = _first_supported(ui_locales[:500].split())
        if from_request:
            return from_request
    if chosen and chosen in SUPPORTED_LANGUAGES:
        return chosen
    return _first_supported(parse_accept_language(accept_language)) or default


def _catalog_files(language: str) -> list[Any]:
    """``<language>.json`` and then every ``<feature>.<language>.json`` beside it: features
    keep their messages in their own files."""
    folder = resources.files("idp.web").joinpath("translations")
    extra = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(f".{language}.json")),
        key=lambda entry: entry.name,
    )
    return [folder.joinpath(f"{language}.json"), *extra]


@cache
def catalog(language: str) -> dict[str, str]:
    """The messages of one language (read once per process); a key defined in two files is
    an error, so one feature cannot silently change another's text."""
    messages: dict[str, str] = {}
    for entry in _catalog_files(language):
        part: dict[str, str] = json.loads(entry.read_text(encoding="utf-8"))
        duplicated = set(part) & set(messages)
        if duplicated:
            raise ValueError(f"{entry.name} redefines {', '.join(sorted(duplicated))}")
        messages.update(part)
    return messages


class Translator:
    """Looks up message keys in one language; unknown keys show as themselves (and a test
    fails), never as an empty string."""

    def __init__(self, language: str) -> None:
        self.language = language
        self._messages = catalog(language)

    def __call__(self, key: str, **params: Any) -> str:
        message = self._messages.get(key, key)
        return message.format(**params) if params else message
