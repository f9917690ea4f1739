"""Refusals of cross-border login: one exception, fixed reasons, the error the portal gets.

Cross-border login never half-trusts a peer: every check that fails ends the login with a
:class:`CrossBorderRefused`. Its ``reason`` is a fixed machine code (for logs, metrics and the
choice of the citizen's page); its ``message`` is plain English for logs and operators and is
never shown to the citizen or sent to the portal.

Two renderings are defined here so that the routes only look them up:

- :attr:`CrossBorderRefused.oauth_error`: the standard error the portal receives at its
  redirect URI (RFC 6749 section 4.1.2.1; ``unmet_authentication_requirements`` from OpenID
  Connect Core Unmet Authentication Requirements 1.0 when the peer's level is too low;
  ``temporarily_unavailable`` when the peer cannot be reached, so the portal may retry later;
  ``access_denied`` otherwise).
- :func:`citizen_message`: one sentence for the citizen's page, in ``es``, ``pt`` or ``en``.
"""

from __future__ import annotations

from enum import StrEnum

from idp.federation.statements import Reason, TrustChainError


class Refusal(StrEnum):
    """Why a cross-border login was refused."""

    PEER_UNKNOWN = "peer_unknown"
    """The chosen provider is not one of the federation's listed peers."""
    PEER_UNREACHABLE = "peer_unreachable"
    """A statement or endpoint of the peer (or of its superiors) could not be fetched."""
    PEER_EXPIRED = "peer_expired"
    """A statement of the peer's Trust Chain has expired."""
    PEER_UNTRUSTED = "peer_untrusted"
    """The peer's Trust Chain is invalid (bad signature, unknown Trust Anchor, removed
    subordinate, constraint or policy violation) or its resolved metadata is unusable."""
    PEER_ERROR = "peer_error"
    """The peer answered the authorization request with an error (the citizen cancelled, or
    could not log in there)."""
    WRONG_STATE = "wrong_state"
    """The callback's ``state`` is not the one we sent (CSRF, or a stale tab)."""
    MALFORMED = "malformed"
    """The peer's answer (ID token, redirect) is not well formed."""
    UNSUPPORTED_ALG = "unsupported_alg"
    WRONG_TYP = "wrong_typ"
    BAD_SIGNATURE = "bad_signature"
    WRONG_ISSUER = "wrong_issuer"
    WRONG_AUDIENCE = "wrong_audience"
    WRONG_NONCE = "wrong_nonce"
    EXPIRED = "expired"
    """The ID token has expired, or was issued too long ago."""
    NOT_YET_VALID = "not_yet_valid"
    """The ID token's ``iat`` (or ``nbf``) is in the future."""
    MISSING_CLAIM = "missing_claim"
    INVALID_CLAIM = "invalid_claim"
    LEVEL_TOO_LOW = "level_too_low"


OAUTH_ERRORS: dict[Refusal, str] = {
    Refusal.LEVEL_TOO_LOW: "unmet_authentication_requirements",
    Refusal.PEER_UNREACHABLE: "temporarily_unavailable",
}
"""The ``error`` sent to the portal; every other refusal is ``access_denied``."""

PORTAL_DESCRIPTION = "The identity provider of the other country could not be used"
"""``error_description`` for the portal: generic, so that no peer detail leaks."""


class CrossBorderRefused(Exception):
    """A cross-border login was refused for ``reason``; ``message`` is for logs only."""

    def __init__(self, reason: Refusal | str, message: str) -> None:
        super().__init__(message)
        self.reason = Refusal(reason)
        self.message = message

    @property
    def oauth_error(self) -> str:
        return OAUTH_ERRORS.get(self.reason, "access_denied")

    def __repr__(self) -> str:
        return f"CrossBorderRefused({self.reason.value!r}, {self.message!r})"


_CHAIN_REASONS: dict[Reason, Refusal] = {
    Reason.FETCH_FAILED: Refusal.PEER_UNREACHABLE,
    Reason.FETCH_LIMIT: Refusal.PEER_UNREACHABLE,
    Reason.EXPIRED: Refusal.PEER_EXPIRED,
}


def from_trust_chain_error(error: TrustChainError, *, peer: str) -> CrossBorderRefused:
    """The refusal for a peer whose Trust Chain did not resolve.

    A peer removed from the Trust Anchor (revoked) answers 404 at the fetch endpoint, which
    the resolver reports as ``fetch_failed``: the citizen's page then says the provider cannot
    be reached, which is true from the citizen's point of view; the log keeps the detail.
    """
    refusal = _CHAIN_REASONS.get(error.reason, Refusal.PEER_UNTRUSTED)
    return CrossBorderRefused(
        refusal, f"Trust Chain of {peer}: {error.reason.value}: {error.message}"
    )


_UNREACHABLE = {
    "es": "No pudimos comunicarnos con el proveedor de identidad del otro país. "
    "Inténtelo de nuevo más tarde.",
    "pt": "Não foi possível comunicar com o provedor de identidade do outro país. "
    "Tente novamente mais tarde.",
    "en": "We could not reach the identity provider of the other country. Please try again later.",
}
_LEVEL = {
    "es": "El nivel de seguridad de su identidad en el otro país no alcanza el que exige "
    "este servicio.",
    "pt": "O nível de segurança da sua identidade no outro país não atinge o exigido por "
    "este serviço.",
    "en": "The assurance level of your identity in the other country is below what this "
    "service requires.",
}
_MISSING = {
    "es": "El proveedor de identidad del otro país no envió todos los datos necesarios "
    "(nombre, apellido y fecha de nacimiento).",
    "pt": "O provedor de identidade do outro país não enviou todos os dados necessários "
    "(nome, sobrenome e data de nascimento).",
    "en": "The identity provider of the other country did not send all the data needed "
    "(given name, family name and date of birth).",
}
_UNTRUSTED = {
    "es": "No podemos confiar en la respuesta del proveedor de identidad del otro país, "
    "así que no iniciamos su sesión.",
    "pt": "Não podemos confiar na resposta do provedor de identidade do outro país, "
    "por isso não iniciamos a sua sessão.",
    "en": "We cannot trust the answer of the identity provider of the other country, "
    "so you were not logged in.",
}
_UNKNOWN = {
    "es": "Ese proveedor de identidad no forma parte de la federación.",
    "pt": "Esse provedor de identidade não faz parte da federação.",
    "en": "That identity provider is not part of the federation.",
}
_PEER_ERROR = {
    "es": "El inicio de sesión en el otro país se canceló o no se completó.",
    "pt": "O login no outro país foi cancelado ou não foi concluído.",
    "en": "The login in the other country was cancelled or did not complete.",
}
_STATE = {
    "es": "Esta respuesta no corresponde a un inicio de sesión en curso. Vuelva a empezar "
    "desde el servicio al que quería entrar.",
    "pt": "Esta resposta não corresponde a um login em andamento. Comece de novo a partir do "
    "serviço que queria acessar.",
    "en": "This answer does not belong to a login in progress. Please start again from the "
    "service you wanted to use.",
}
_MESSAGES: dict[Refusal, dict[str, str]] = {
    Refusal.PEER_ERROR: _PEER_ERROR,
    Refusal.WRONG_STATE: _STATE,
    Refusal.PEER_UNKNOWN: _UNKNOWN,
    Refusal.PEER_UNREACHABLE: _UNREACHABLE,
    Refusal.LEVEL_TOO_LOW: _LEVEL,
    Refusal.MISSING_CLAIM: _MISSING,
    Refusal.INVALID_CLAIM: _MISSING,
}


def citizen_message(reason: Refusal | str, language: str) -> str:
    """One sentence for the citizen's page in ``language`` (``es``, ``pt``, ``en``; a region
    such as ``pt-BR`` is reduced to its language; anything else falls back to ``en``)."""
    texts = _MESSAGES.get(Refusal(reason), _UNTRUSTED)
    return texts.get(language.split("-")[0].lower(), texts["en"])
