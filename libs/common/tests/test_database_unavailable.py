"""The database out of reach is a 503 problem a client can retry, not a 500: not reachable at all,
or the connection lost mid-request (a restart, a failover). A fault of ours stays a 500."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from shopcommon.db import make_engine, plain_url
from shopcommon.problems import install_problem_handlers
from shopcommon.testing.plugin import Stack

NOTHING_LISTENS = "postgresql+asyncpg://shop@127.0.0.1:9/shop"  # the discard port: refused at once


async def _lost_connection(url: str) -> asyncpg.Connection:
    """A connection whose server process has been ended by another session."""
    conn = await asyncpg.connect(url)
    closed = asyncio.Event()
    conn.add_termination_listener(lambda _: closed.set())
    other = await asyncpg.connect(url)
    try:
        await other.execute("SELECT pg_terminate_backend($1)", conn.get_server_pid())
    finally:
        await other.close()
    # Once the client has seen the socket close (a query racing the server's goodbye meets an
    # asyncpg state error instead, which says nothing about the database).
    await asyncio.wait_for(closed.wait(), 5)
    return conn


def make_app(database_url: str) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    raw_url = plain_url(database_url)

    @app.get("/unreachable")
    async def unreachable() -> None:
        engine = create_async_engine(NOTHING_LISTENS)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    @app.get("/lost")
    async def lost() -> None:
        conn = await _lost_connection(raw_url)
        try:
            await conn.fetchval("SELECT 1")
        finally:
            conn.terminate()

    @app.get("/lost-through-sqlalchemy")
    async def lost_through_sqlalchemy() -> None:
        engine = make_engine(database_url, pool_size=1, max_overflow=0)
        try:
            async with engine.connect() as conn:
                pid = await conn.scalar(text("SELECT pg_backend_pid()"))
                other = await asyncpg.connect(raw_url)
                try:
                    await other.execute("SELECT pg_terminate_backend($1)", pid)
                finally:
                    await other.close()
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    @app.get("/another-socket")
    async def another_socket() -> None:
        raise ConnectionResetError("a peer of ours, not the database")  # one we should have wrapped

    @app.get("/our-fault")
    async def our_fault() -> None:
        engine = make_engine(database_url)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELEC 1"))
        finally:
            await engine.dispose()

    return app


@pytest.mark.parametrize("path", ["/unreachable", "/lost", "/lost-through-sqlalchemy"])
async def test_the_database_out_of_reach_is_a_503_to_retry(shop_stack: Stack, path: str) -> None:
    transport = httpx.ASGITransport(app=make_app(shop_stack.urls.database_url), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.get(path)
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["retry-after"] == "1"
    assert r.json()["type"].endswith("/database-unavailable")


@pytest.mark.parametrize("path", ["/our-fault", "/another-socket"])
async def test_a_fault_of_ours_stays_a_500_not_a_database_outage(shop_stack: Stack, path: str) -> None:
    transport = httpx.ASGITransport(app=make_app(shop_stack.urls.database_url), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.get(path)
    assert r.status_code == 500, r.text
    assert r.json()["type"].endswith("/internal-server-error")
