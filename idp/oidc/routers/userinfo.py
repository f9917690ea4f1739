"""Router of the userinfo endpoint(s)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
