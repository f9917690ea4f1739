"""The provider's signature API as the portal calls it, through the portal's authlib client
(``relying_party_demo.oidc``): a client_credentials access token with the ``signature`` scope
(RFC 6749 4.4, ``private_key_jwt`` client authentication), then bearer calls (RFC 6750 2.1).

- ``create_request``: ``POST /signature/requests`` -> the request id and the approval URI;
- ``fetch_result``: ``GET /signature/requests/{id}`` -> the status and the signature;
- ``verify``: ``POST /signature/verify`` (public, no token) -> the verification report.

A refusal (an OAuth error at the token endpoint, or an error document from the API) raises
``SignatureServiceError`` with the provider's ``error`` code; ``httpx.HTTPError`` means the
provider could not be reached.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from relying_party_demo.config import PortalSettings
from relying_party_demo.oidc import SERVICE_SCOPE, OAuthError, fetch_service_token
from relying_party_demo.signing import (
    Declaration,
    SignatureFormat,
    SignatureResult,
    Verdict,
    read_report,
    read_result,
    request_body,
)

log = logging.getLogger("relying_party_demo.signature_api")

UNAVAILABLE = "temporarily_unavailable"


class SignatureServiceError(Exception):
    """The provider refused a call of the signature API (or answered nonsense)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error[:100]
        self.description = description[:300]


@dataclass(frozen=True, slots=True)
class CreatedRequest:
    request_id: str
    approval_uri: str


def _json(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a success; a ``SignatureServiceError`` for anything else."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.is_success and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    description = body.get("error_description", "") if isinstance(body, dict) else ""
    if not isinstance(error, str):
        error = UNAVAILABLE if response.status_code >= 500 else "invalid_response"
    log.warning("the signature API answered %s: %s", response.status_code, error)
    raise SignatureServiceError(error, str(description or ""))


class SignatureApi:
    """The calls the portal makes; ``provider`` is the authlib client of ``build_oauth``."""

    def __init__(self, provider: Any, settings: PortalSettings) -> None:
        self.provider = provider
        self.issuer = settings.issuer
        self.base_url = settings.signature_api_url
        self.redirect_uri = settings.signature_redirect_uri

    async def _token(self) -> dict[str, Any]:
        try:
            return await fetch_service_token(self.provider, scope=SERVICE_SCOPE)
        except OAuthError as exc:
            log.warning("the token endpoint refused the portal: %s", exc.error)
            raise SignatureServiceError(str(exc.error), str(exc.description or "")) from None
        except ValueError:
            raise SignatureServiceError("invalid_response") from None

    async def create_request(
        self,
        *,
        subject: str,
        document: Declaration,
        signature_format: SignatureFormat,
        state: str,
    ) -> CreatedRequest:
        body = request_body(
            subject=subject,
            document=document,
            signature_format=signature_format,
            redirect_uri=self.redirect_uri,
            state=state,
        )
        response = await self.provider.post(
            f"{self.base_url}/requests", token=await self._token(), json=body
        )
        created = _json(response)
        request_id, approval_uri = created.get("request_id"), created.get("approval_uri")
        if not isinstance(request_id, str) or not isinstance(approval_uri, str):
            raise SignatureServiceError("invalid_response")
        if not approval_uri.startswith(f"{self.issuer}/"):  # the browser goes there: no detour
            raise SignatureServiceError("invalid_response", "approval_uri is not the provider's")
        return CreatedRequest(request_id=request_id, approval_uri=approval_uri)

    async def fetch_result(self, request_id: str) -> SignatureResult:
        response = await self.provider.get(
            f"{self.base_url}/requests/{quote(request_id, safe='')}", token=await self._token()
        )
        try:
            return read_result(_json(response))
        except ValueError:
            raise SignatureServiceError("invalid_response") from None

    async def verify(self, *, document: bytes, signature: str) -> Verdict:
        response = await self.provider.post(
            f"{self.base_url}/verify",
            json={"document": base64.b64encode(document).decode("ascii"), "signature": signature},
            withhold_token=True,
        )
        return read_report(_json(response))
