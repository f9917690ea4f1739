"""Hypothesis profiles for the property tests, chosen with ``HYPOTHESIS_PROFILE``.

``default``: what ``make test`` runs (each test's usual example count). ``fuzz``: what ``make
fuzz`` runs, at least 1000 examples per property and no deadline. ``IDP_FUZZ_EXAMPLES`` sets
the schemathesis example count the same way (``tests/security/test_fuzz_openapi.py``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"

settings.register_profile(
    "fuzz", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def load_profile() -> None:
    settings.load_profile(os.environ.get(PROFILE_VARIABLE, "default"))


def examples(usual: int) -> int:
    """A property's example count: ``usual``, or more when the loaded profile asks for more."""
    return max(usual, settings.default.max_examples)
