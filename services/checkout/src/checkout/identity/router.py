from typing import Any

from fastapi import APIRouter, Request

router = APIRouter()


@router.get("/.well-known/jwks.json", tags=["auth"], summary="Public keys that verify every token",
            openapi_extra={"x-roles": ["public"]})
async def jwks(request: Request) -> dict[str, Any]:
    return request.app.state.key_store.jwks()  # type: ignore[no-any-return]
