"""Router of the introspection endpoint(s)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
