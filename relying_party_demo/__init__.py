"""A small government portal ("trámites") that logs citizens in through the provider."""
