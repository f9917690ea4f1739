"""A national digital identity provider (OpenID Connect) with identity assurance, advanced
electronic signature and cross-border federation."""

__version__ = "0.1.0"
