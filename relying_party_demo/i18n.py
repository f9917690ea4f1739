"""The portal's pages in Spanish, Portuguese and English: one flat JSON catalog per language.

A missing key falls back to Spanish and then to the key itself, so a page never breaks on a
translation gap; ``tests/relying_party_demo`` checks the catalogs have the same keys.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from relying_party_demo.config import SUPPORTED_LANGUAGES

FALLBACK_LANGUAGE = "es"
LANGUAGE_NAMES = {"es": "Español", "pt": "Português", "en": "English"}


@cache
def catalog(language: str) -> dict[str, str]:
    text = (
        resources.files("relying_party_demo")
        .joinpath("translations", f"{language}.json")
        .read_text(encoding="utf-8")
    )
    data = json.loads(text)
    return {str(key): str(value) for key, value in data.items()}


class Translator:
    """``t("key", name=value)``: the text of a key in one language, with ``{name}`` filled."""

    def __init__(self, language: str) -> None:
        self.language = language if language in SUPPORTED_LANGUAGES else FALLBACK_LANGUAGE

    def __call__(self, key: str, **values: Any) -> str:
        text = catalog(self.language).get(key) or catalog(FALLBACK_LANGUAGE).get(key) or key
        return text.format(**values) if values else text

    def optional(self, key: str) -> str | None:
        """The text of a key, or None when no catalog has it."""
        return catalog(self.language).get(key) or catalog(FALLBACK_LANGUAGE).get(key)


def negotiate(
    *, chosen: str | None, remembered: str | None, accept_language: str | None, default: str
) -> str:
    """The language of a page: the one just chosen, the one remembered in the session, the
    browser's first supported preference, else the portal's default."""
    for candidate in (chosen, remembered):
        if candidate in SUPPORTED_LANGUAGES:
            return str(candidate)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()[:2]
        if tag in SUPPORTED_LANGUAGES:
            return tag
    return default
