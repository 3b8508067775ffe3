from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from bookings.api import bookings, cancel_links, tables
from bookings.config import Settings
from bookings.workers.running import running_workers
from shopcommon.app import create_service_app
from shopcommon.db import plain_url

DESCRIPTION = """\
Restaurant table bookings (the restaurant seed): guests search tables and request a booking;
staff confirm or reject it; every status change is published to `bookings.booking-events`, from
which notifications emails the guest (the first email with a single-use cancel link).

* Tables are `regular`, `cabin` or `room`, with seats and a price that changes over time
  (`GET /api/v1/tables/{id}/prices`); a booking keeps the price in force when it was requested.
* Statuses: `pending` -> `confirmed` | `rejected`; `pending`/`confirmed` -> `cancelled`
  (`cancelled_by`: `customer` through the link, or `staff`). Pending requests do not take a table
  off the search; confirmed bookings of one table never overlap (the database refuses it).
* Times are ISO 8601 with an offset; a booking lasts 30 minutes to 8 hours and starts in the future.
* `Idempotency-Key` on `POST /api/v1/bookings`.

Searching and requesting need no token. Each operation's `x-roles` names who may call it. Errors
are `application/problem+json` (RFC 9457).
"""


async def _nothing_to_reset(conn: asyncpg.Connection) -> None:
    """The search pool's connections run one read statement at a time and change no session state
    (no SET, LISTEN, advisory lock, cursor or open transaction), so none is reset on release: asyncpg's
    default sends `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL;`, a round trip and
    four statements per search (see bench/bookings/README.md)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.search_pool = await asyncpg.create_pool(
            plain_url(settings.database_url),
            min_size=min(4, settings.db_raw_pool_size),
            max_size=settings.db_raw_pool_size,
            reset=_nothing_to_reset,
        )
        try:
            async with running_workers(app.state.engine, settings) as workers:
                app.state.workers = workers
                yield
        finally:
            await app.state.search_pool.close()

    app = create_service_app(
        settings,
        title="Bookings",
        description=DESCRIPTION,
        routers=[tables.router, cancel_links.router, bookings.router],
        lifespan=lifespan,
        uses_kafka=True,
        openapi_tags=[
            {"name": "tables", "description": "Search (public) and table administration (managers)."},
            {"name": "bookings", "description": "Requests (public), the customer's own, the staff's work."},
            {"name": "cancel links", "description": "The guest's single-use cancel link."},
        ],
    )
    # Outermost: everything inside (the rate limits, the logs) sees the client, not the proxy.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    return app
