"""Router of the discovery endpoint(s)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
