"""OpenID Connect and OAuth 2.0 protocol endpoints and their rules.

Protocol rules live in small modules named after what they implement (discovery, authorize,
token, userinfo, introspection, revocation, logout, client authentication); routers are thin.
"""
