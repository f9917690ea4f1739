"""Router of the revocation endpoint(s)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
