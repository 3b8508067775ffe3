"""The route256 ProductService endpoints, verbatim: POST with the token in the body."""

from __future__ import annotations

import asyncio
import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from product_stub import catalogue
from product_stub.config import Settings
from product_stub.schemas import GetProductRequest, GetProductResponse, ListSkusRequest, ListSkusResponse
from shopcommon.access import Access
from shopcommon.db import RawPoolDep, ReadSessionDep
from shopcommon.problems import TooManyRequests, Unauthorized

router = APIRouter(tags=["route256 ProductService"])


class RateLimiter:
    """A per-process token bucket, imitating the real service's limit (off when rate is 0)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.updated = time.monotonic()

    def take(self) -> float:
        """0 when allowed, otherwise the seconds until a token is free."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


async def behave_like_the_real_service(request: Request) -> None:
    settings: Settings = request.app.state.settings
    wait = request.app.state.rate_limiter.take()
    if wait > 0:
        raise TooManyRequests(retry_after=int(wait) + 1, detail="ProductService rate limit exceeded")
    if settings.latency_ms > 0:
        await asyncio.sleep(settings.latency_ms / 1000)


Throttled = Annotated[None, Depends(behave_like_the_real_service)]


#: route256's ProductService: the token is a field of the body, and a wrong one is 401.
TOKEN_IN_BODY = Access(("token in body",), refusals=(401,))


def check_token(request: Request, token: str) -> None:
    expected: str = request.app.state.settings.token
    if not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthorized("Wrong ProductService token", headers={})


@router.post(
    "/get_product",
    response_model=GetProductResponse,
    summary="Name and price of one sku",
    **TOKEN_IN_BODY.doc(404, 422, 429),
)
async def get_product(body: GetProductRequest, request: Request, pool: RawPoolDep, _: Throttled) -> GetProductResponse:
    check_token(request, body.token)
    name, price = await catalogue.get_name_and_price(pool, sku=body.sku)
    return GetProductResponse(name=name, price=price)


@router.post(
    "/list_skus",
    response_model=ListSkusResponse,
    summary="Skus in ascending order after `startAfterSku`",
    **TOKEN_IN_BODY.doc(422, 429),
)
async def list_skus(body: ListSkusRequest, request: Request, session: ReadSessionDep, _: Throttled) -> ListSkusResponse:
    check_token(request, body.token)
    return ListSkusResponse(skus=await catalogue.list_skus(session, start_after=body.startAfterSku, count=body.count))
