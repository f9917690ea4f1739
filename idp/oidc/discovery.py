"""Provider metadata: OpenID Connect Discovery 1.0 section 3 and RFC 8414 section 2.

A pure function of the settings and the algorithms the key ring can sign with; only what is
implemented is announced.
"""

from __future__ import annotations

from typing import Any

from idp.assurance import verified_claims
from idp.assurance.profiles import PROFILES
from idp.config import SUPPORTED_LANGUAGES, Settings
from idp.oidc import endpoints
from idp.oidc.claims import SUPPORTED_CLAIMS, VERIFIED_CLAIMS
from idp.oidc.client_keys import SIGNING_ALGS
from idp.oidc.clients import SERVICE_SCOPES, SUPPORTED_ID_TOKEN_ALGS, SUPPORTED_SCOPES, GrantType

CLIENT_ASSERTION_ALGS = ["RS256", "PS256", "ES256", "EdDSA"]
AUTHENTICATED_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]


def identity_assurance_metadata(settings: Settings) -> dict[str, Any]:
    """OpenID Connect for Identity Assurance 1.0, "OP metadata"."""
    return {
        "verified_claims_supported": True,
        "trust_frameworks_supported": [verified_claims.trust_framework_for(settings).name],
        "claims_in_verified_claims_supported": list(verified_claims.CLAIMS_IN_VERIFIED_CLAIMS),
        "evidence_supported": list(verified_claims.EVIDENCE_SUPPORTED),
        "documents_supported": list(verified_claims.DOCUMENTS_SUPPORTED),
        "documents_check_methods_supported": list(verified_claims.DOCUMENT_CHECK_METHODS_SUPPORTED),
        "electronic_records_supported": list(verified_claims.ELECTRONIC_RECORDS_SUPPORTED),
    }


def provider_metadata(settings: Settings, *, signing_algs: list[str]) -> dict[str, Any]:
    issuer = settings.issuer
    id_token_algs = [alg for alg in SUPPORTED_ID_TOKEN_ALGS if alg in signing_algs]
    return {
        "issuer": issuer,
        "authorization_endpoint": endpoints.absolute(issuer, endpoints.AUTHORIZE),
        "token_endpoint": endpoints.absolute(issuer, endpoints.TOKEN),
        "userinfo_endpoint": endpoints.absolute(issuer, endpoints.USERINFO),
        "jwks_uri": endpoints.absolute(issuer, endpoints.JWKS),
        "introspection_endpoint": endpoints.absolute(issuer, endpoints.INTROSPECTION),
        "revocation_endpoint": endpoints.absolute(issuer, endpoints.REVOCATION),
        "end_session_endpoint": endpoints.absolute(issuer, endpoints.END_SESSION),
        "scopes_supported": [*SUPPORTED_SCOPES, *SERVICE_SCOPES],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": [grant.value for grant in GrantType],
        "subject_types_supported": ["public", "pairwise"],
        "id_token_signing_alg_values_supported": id_token_algs,
        "userinfo_signing_alg_values_supported": id_token_algs,
        "token_endpoint_auth_methods_supported": [*AUTHENTICATED_METHODS, "none"],
        "token_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "introspection_endpoint_auth_methods_supported": AUTHENTICATED_METHODS,
        "introspection_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "revocation_endpoint_auth_methods_supported": AUTHENTICATED_METHODS,
        "revocation_endpoint_auth_signing_alg_values_supported": CLIENT_ASSERTION_ALGS,
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": PROFILES[settings.acr_profile].supported_acr_values(),
        "claims_supported": [*SUPPORTED_CLAIMS, VERIFIED_CLAIMS],
        "claims_parameter_supported": True,
        **identity_assurance_metadata(settings),
        "request_parameter_supported": True,
        "request_uri_parameter_supported": False,
        "request_object_signing_alg_values_supported": list(SIGNING_ALGS),
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "ui_locales_supported": list(SUPPORTED_LANGUAGES),
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        **signature_service_metadata(issuer),
        **automatic_registration_metadata(settings),
    }


def automatic_registration_metadata(settings: Settings) -> dict[str, Any]:
    """OpenID Federation 1.0 section 5.1.3, when this provider is a federation leaf:
    relying parties of the federation register automatically (section 12.1), authenticating
    their authorization requests with a signed request object (section 12.1.1.1)."""
    if not (settings.federation_enabled and settings.federation_role == "leaf"):
        return {}
    return {
        "client_registration_types_supported": ["automatic"],
        "request_authentication_methods_supported": {"authorization_endpoint": ["request_object"]},
        "request_authentication_signing_alg_values_supported": list(SIGNING_ALGS),
    }


def signature_service_metadata(issuer: str) -> dict[str, Any]:
    """Where the signature API lives (docs/signature.md). Not standard OpenID metadata:
    extension names in the same style, so that a client configures itself from discovery."""
    return {
        "signature_requests_endpoint": endpoints.absolute(issuer, endpoints.SIGNATURE_REQUESTS),
        "signature_verification_endpoint": endpoints.absolute(issuer, endpoints.SIGNATURE_VERIFY),
        "signature_ca_certificate_uri": endpoints.absolute(issuer, endpoints.SIGNATURE_CA),
        "signature_crl_uri": endpoints.absolute(issuer, endpoints.SIGNATURE_CRL),
        "signature_formats_supported": ["cades", "jades"],
        "signature_hash_algorithms_supported": ["SHA-256", "SHA-384", "SHA-512"],
    }
