"""Assurance, the Uruguay model: identity verification (a property of the account, with
evidence) kept apart from authentication (a property of this login), and the ``acr`` a relying
party sees derived from both, never higher than either."""
