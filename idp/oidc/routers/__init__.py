"""Thin FastAPI routers of the protocol endpoints; the rules live in idp.oidc modules."""
