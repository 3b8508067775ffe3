"""What routes receive: the database, the event sink, the clock, the (optional) caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated

import asyncpg
from fastapi import Depends, Header, Request
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bookings.config import Settings
from bookings.domain.limits import Bucket, request_buckets
from bookings.services.events import EventSink
from shopcommon.auth import BEARER_SECURITY, Principal, Role, authenticate, bearer_credentials, require_roles
from shopcommon.idempotency import KEY_RULES

#: The OpenAPI `security` of a public route that reads a token when one is sent (`optional_principal`).
OPTIONAL_BEARER = {"security": [{}, *BEARER_SECURITY]}
IDEMPOTENCY_KEY_DOC = (
    "Makes the request safe to retry: scoped to the caller (a guest without a token is one caller) and the "
    "route, the same key with the same body replays the first answer (`Idempotent-Replayed: true`), with a "
    "different body answers 422, and while the first request is still running answers 409. Use a random UUID."
)


def engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


def sink_of(request: Request) -> EventSink:
    settings: Settings = request.app.state.settings
    return EventSink(settings.booking_events_topic, settings.public_url)


async def request_transaction(request: Request) -> AsyncIterator[AsyncConnection]:
    """One transaction per request, committed before the response leaves."""
    async with engine_of(request).begin() as conn:
        yield conn


async def autocommit_connection(request: Request) -> AsyncIterator[AsyncConnection]:
    """Reads without BEGIN/COMMIT round trips."""
    async with engine_of(request).connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def utc_now() -> datetime:
    """`async`: FastAPI runs a plain `def` dependency in a worker thread, a hop per request."""
    return datetime.now(UTC)


def search_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.search_pool
    return pool


async def optional_principal(request: Request) -> Principal | None:
    """The caller of a public route: None without credentials; a bad token is still 401."""
    if request.headers.get("authorization") is None and not request.cookies.get("access_token"):
        return None
    return await authenticate(request, bearer_credentials(request))


ConnDep = Annotated[AsyncConnection, Depends(request_transaction, scope="function")]
ReadConnDep = Annotated[AsyncConnection, Depends(autocommit_connection, scope="function")]
SinkDep = Annotated[EventSink, Depends(sink_of)]
EngineDep = Annotated[AsyncEngine, Depends(engine_of)]
Now = Annotated[datetime, Depends(utc_now)]
MaybeCaller = Annotated[Principal | None, Depends(optional_principal)]
Manager = Annotated[Principal, require_roles(Role.MANAGER)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=IDEMPOTENCY_KEY_DOC,
        **KEY_RULES,
    ),
]


def request_limits(request: Request, caller: Principal | None, email: str | None) -> list[Bucket]:
    """The rate-limit buckets of a booking request: none for staff. The client is the peer, or the
    rightmost `X-Forwarded-For` entry that is not a trusted proxy when the peer is one (`main`
    installs uvicorn's `ProxyHeadersMiddleware` with `FORWARDED_ALLOW_IPS`): entries a client
    writes itself are never believed, so it cannot choose its own bucket."""
    if caller is not None and caller.role == Role.MANAGER:
        return []
    settings: Settings = request.app.state.settings
    return request_buckets(
        client=request.client.host if request.client else None,
        email=email,
        per_ip=settings.requests_per_ip,
        ip_window=settings.requests_per_ip_window,
        per_email=settings.requests_per_email,
        email_window=settings.requests_per_email_window,
    )
