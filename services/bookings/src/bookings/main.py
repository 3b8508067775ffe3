from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from bookings.api import bookings, cancel_links, tables
from bookings.config import Settings
from bookings.workers.running import running_workers
from shopcommon.app import create_service_app

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


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with running_workers(app.state.engine, settings) as workers:
            app.state.workers = workers
            yield

    return create_service_app(
        settings,
        title="Bookings",
        description=DESCRIPTION,
        routers=[tables.router, cancel_links.router, bookings.router],
        lifespan=lifespan,
        uses_kafka=True,
        raw_pool=True,
        openapi_tags=[
            {"name": "tables", "description": "Search (public) and table administration (managers)."},
            {"name": "bookings", "description": "Requests (public), the customer's own, the staff's work."},
            {"name": "cancel links", "description": "The guest's single-use cancel link."},
        ],
    )
