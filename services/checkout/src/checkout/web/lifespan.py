"""The pages' resources: the templates and the bookings client (on checkout's usual HTTP stack)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import tzinfo
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI, Request
from jinja2 import Environment

from checkout.shopping.lifespan import http_client
from checkout.web.bookings_client import BookingsClient
from checkout.web.pages import environment
from checkout.web.settings import WebSettings
from checkout.web.standing import Standings
from shopcommon.http import make_http_client


@dataclass(frozen=True)
class Web:
    templates: Environment
    bookings: BookingsClient
    #: Form cookies are `Secure` (checkout's `cookie_secure`: outside dev unless said otherwise).
    cookie_secure: bool
    booking_zone: tzinfo | None
    #: Streams from the notifications service (httpx's own transport: it streams bodies, which the
    #: shopping clients' aiohttp transport does not); `/live` relays them.
    notifications: httpx.AsyncClient
    #: Whether a signed-in person's account still stands as their token says.
    standings: Standings


def get_web(request: Request) -> Web:
    web: Web = request.app.state.web
    return web


@asynccontextmanager
async def web_lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: WebSettings = app.state.settings
    # Tests may hand in transports (another app in-process) under `app.state.web_transports`.
    transports: dict[str, httpx.AsyncBaseTransport] = getattr(app.state, "web_transports", {})
    # Heartbeats come at least every 15 s: a minute of silence is a dead stream.
    streams = make_http_client(
        settings.notifications_url,
        timeout=5.0,
        read_timeout=60.0,
        max_connections=settings.live_streams_max,
        transport=transports.get("notifications"),
    )
    async with (
        http_client(settings.bookings_url, settings.bookings_timeout, transports.get("bookings")) as http,
        streams,
    ):
        app.state.web = Web(
            templates=environment(settings.page_refresh_seconds),
            bookings=BookingsClient(http, timeout=settings.bookings_timeout),
            cookie_secure=app.state.identity.cookie_secure,
            booking_zone=ZoneInfo(settings.booking_time_zone) if settings.booking_time_zone else None,
            notifications=streams,
            standings=Standings(app.state.read_sessionmaker, remember_seconds=settings.standing_seconds),
        )
        yield
