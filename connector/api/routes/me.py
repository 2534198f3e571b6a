"""Who am I: the principal behind the presented access token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from connector.api.security import Authenticated

router = APIRouter(prefix="/api/v1", tags=["identity"])


@router.get("/me", summary="The caller's participant, client, roles and scopes")
def me(principal: Authenticated) -> dict[str, Any]:
    return principal.as_json()
