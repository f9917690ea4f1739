"""Rendering citizen-facing pages: one Jinja2 environment, translated, with the language
switcher and the CSRF token of the browser's session."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request

from idp.web.i18n import LANGUAGE_NAMES, Translator


@dataclass(frozen=True, slots=True)
class FormError:
    """One entry of an error summary; ``field`` is the id of the input it links to."""

    message: str
    field: str | None = None


@dataclass(frozen=True, slots=True)
class LanguageOption:
    code: str
    name: str
    href: str
    current: bool


def create_template_environment() -> Environment:
    folder = resources.files("idp.web").joinpath("templates")
    return Environment(
        loader=FileSystemLoader(str(folder)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def language_options(request: Request, current: str) -> list[LanguageOption]:
    """Links to the same page in each language (keeping the other query parameters)."""
    options = []
    for code, name in LANGUAGE_NAMES.items():
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
        params.append(("lang", code))
        options.append(
            LanguageOption(
                code=code,
                name=name,
                href=f"{request.url.path}?{urlencode(params)}",
                current=code == current,
            )
        )
    return options


def render_page(
    environment: Environment,
    *,
    request: Request,
    template: str,
    language: str,
    csrf_token: str | None = None,
    errors: list[FormError] | None = None,
    **context: Any,
) -> str:
    errors = errors or []
    return environment.get_template(template).render(
        t=Translator(language),
        lang=language,
        language_options=language_options(request, language),
        csrf_token=csrf_token,
        errors=errors,
        field_errors={error.field: error.message for error in errors if error.field},
        **context,
    )
