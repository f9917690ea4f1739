"""The wall clock, in one place (UTC, timezone-aware)."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)
