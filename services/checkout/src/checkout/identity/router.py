from typing import Any

from fastapi import APIRouter, Request

from checkout.identity import api_auth, api_users
from shopcommon.access import PUBLIC

router = APIRouter()
router.include_router(api_auth.router)
router.include_router(api_users.router)


@router.get("/.well-known/jwks.json", tags=["auth"], summary="Public keys that verify every token", **PUBLIC.doc())
async def jwks(request: Request) -> dict[str, Any]:
    jwks: dict[str, Any] = request.app.state.key_store.jwks()
    return jwks
