"""Security tests use the protocol fixtures (registered clients, the demo citizen)."""

from tests.oidc.conftest import citizen_id, register

__all__ = ["citizen_id", "register"]
