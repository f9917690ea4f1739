"""The audit tests use the CLI fixture for ``idp audit verify``."""

from tests.cli.conftest import cli

__all__ = ["cli"]
