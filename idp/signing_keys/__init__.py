"""Signing keys: generation, encrypted storage at rest, states and the JWKS."""
