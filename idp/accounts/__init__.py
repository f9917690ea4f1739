"""Citizen accounts: credentials, login throttling, browser sessions and the login pages."""
