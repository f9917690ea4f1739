"""The peer's authorization response at our callback (RFC 6749 section 4.1.2, RFC 9207).

:func:`check_authorization_response` takes the query parameters the citizen's browser brought
back and what we stored when we sent the request, and returns the authorization code, or
refuses:

- ``state`` must be the one we sent, compared in constant time (RFC 6749 section 10.12); a
  mismatch is ``wrong_state`` and nothing else in the response is looked at;
- ``iss`` (RFC 9207 section 2.4): when present it must be the peer's issuer exactly, and it
  must be present when the peer announces ``authorization_response_iss_parameter_supported``
  (a mix-up attack otherwise goes unnoticed): ``wrong_issuer``;
- an ``error`` from the peer is ``peer_error`` (its ``error`` code goes to the log only);
- otherwise exactly one non-empty ``code``.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from idp.federation.crossborder.errors import CrossBorderRefused, Refusal
from idp.federation.crossborder.outbound_request import OutboundRequest
from idp.federation.crossborder.peers import Peer

MAX_PARAMETER_LENGTH = 4096


def _single(params: Mapping[str, str | list[str]], name: str) -> str | None:
    value = params.get(name)
    if isinstance(value, list):
        if len(value) != 1:
            raise CrossBorderRefused(Refusal.MALFORMED, f"{name} is repeated in the callback")
        value = value[0]
    if value is not None and (not isinstance(value, str) or len(value) > MAX_PARAMETER_LENGTH):
        raise CrossBorderRefused(Refusal.MALFORMED, f"{name} is not a usable parameter")
    return value


def check_authorization_response(
    params: Mapping[str, str | list[str]], *, request: OutboundRequest, peer: Peer
) -> str:
    """The authorization code of a valid response to ``request`` from ``peer``."""
    if peer.issuer != request.peer_issuer:
        raise CrossBorderRefused(
            Refusal.WRONG_ISSUER, f"the login in progress is with {request.peer_issuer}"
        )
    state = _single(params, "state")
    if state is None or not hmac.compare_digest(
        state.encode("utf-8", "surrogatepass"), request.state.encode("utf-8")
    ):
        raise CrossBorderRefused(Refusal.WRONG_STATE, "the callback's state is not ours")
    issuer = _single(params, "iss")
    if issuer is None and peer.authorization_response_iss_parameter_supported:
        raise CrossBorderRefused(Refusal.WRONG_ISSUER, "the callback has no iss (RFC 9207)")
    if issuer is not None and issuer != peer.issuer:
        raise CrossBorderRefused(
            Refusal.WRONG_ISSUER, f"the callback's iss {issuer!r} is not {peer.issuer!r}"
        )
    error = _single(params, "error")
    if error is not None:
        raise CrossBorderRefused(Refusal.PEER_ERROR, f"{peer.issuer} answered error {error!r}")
    code = _single(params, "code")
    if not code:
        raise CrossBorderRefused(Refusal.MALFORMED, "the callback has no code")
    return code
