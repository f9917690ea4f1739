"""Cross-border login: this provider as a relying party of the federation's peer providers.

Pure building blocks, no web framework and no database (the routes compose them):

- ``peers``: the peers a resolved Trust Chain describes, and the login page's list of them;
- ``acr_mapping``: peer ``acr`` -> eIDAS level (the shared scale) -> our ``acr``;
- ``outbound_request``: the signed authorization request to a peer (automatic registration,
  PKCE, state, nonce, forwarded ``acr_values``) and the ``private_key_jwt`` assertion;
- ``callback``: the peer's authorization response (``state``, RFC 9207 ``iss``, ``code``);
- ``id_token_check``: strict validation of the peer's ID token;
- ``claims_mapping``: the regional minimum data set, the person identifier, ``amr`` and
  ``verified_claims`` for the ID token this provider issues to its portal;
- ``errors``: :class:`CrossBorderRefused`, its reasons and what the portal and the citizen see.
"""

from idp.federation.crossborder.acr_mapping import (
    AcrTable,
    AcrTableError,
    EidasLevel,
    default_acr_table,
    load_acr_table,
    map_peer_acr,
    meets,
    peer_acr_for,
    require_level,
)
from idp.federation.crossborder.callback import check_authorization_response
from idp.federation.crossborder.claims_mapping import (
    ConsentAttribute,
    MinimumDataSet,
    consent_attributes,
    federated_amr,
    federated_verified_claims,
    map_claims,
    person_identifier,
    portal_claims,
)
from idp.federation.crossborder.errors import (
    CrossBorderRefused,
    Refusal,
    citizen_message,
    from_trust_chain_error,
)
from idp.federation.crossborder.id_token_check import check_id_token
from idp.federation.crossborder.outbound_request import (
    OutboundRequest,
    PkcePair,
    SigningKey,
    build_authorization_request,
    client_assertion,
    token_request_form,
)
from idp.federation.crossborder.peers import (
    Peer,
    PeerListing,
    find_peer,
    list_peers,
    peer_from_trust_chain,
)

__all__ = [
    "AcrTable",
    "AcrTableError",
    "ConsentAttribute",
    "CrossBorderRefused",
    "EidasLevel",
    "MinimumDataSet",
    "OutboundRequest",
    "Peer",
    "PeerListing",
    "PkcePair",
    "Refusal",
    "SigningKey",
    "build_authorization_request",
    "check_authorization_response",
    "check_id_token",
    "citizen_message",
    "client_assertion",
    "consent_attributes",
    "default_acr_table",
    "federated_amr",
    "federated_verified_claims",
    "find_peer",
    "from_trust_chain_error",
    "list_peers",
    "load_acr_table",
    "map_claims",
    "map_peer_acr",
    "meets",
    "peer_acr_for",
    "peer_from_trust_chain",
    "person_identifier",
    "portal_claims",
    "require_level",
    "token_request_form",
]
