"""Alembic migrations; installed as the ``idp.migrations`` package."""
