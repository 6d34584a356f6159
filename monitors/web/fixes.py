"""Placeholder: filled in by issue 12's work."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
