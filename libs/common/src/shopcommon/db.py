"""The async engine and the per-request session: one transaction per request, committed by
the dependency that opened it (services flush, never commit)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

#: Constraint names that Alembic can diff and a reader can recognise.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def naming_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


def async_url(url: str) -> str:
    """Accept plain `postgresql://` URLs from the environment and use the asyncpg driver."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    return url


def plain_url(url: str) -> str:
    """The libpq form of a URL (for asyncpg.connect, psql, pgbench)."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def make_engine(url: str, *, pool_size: int = 20, max_overflow: int = 10, echo: bool = False) -> AsyncEngine:
    return create_async_engine(
        async_url(url),
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
        echo=echo,
        # Errors must not carry bind parameters into logs: they can hold password hashes or emails.
        hide_parameters=True,
    )


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A unit of work for workers: commits on clean exit, rolls back on error."""
    async with sessionmaker() as session, session.begin():
        yield session


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session, session.begin():
        yield session


#: `scope="function"`: the transaction commits before the response leaves, so a client never
#: reads an answer whose write later failed to commit.
async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Autocommit reads: no BEGIN/COMMIT round trips for requests that only read."""
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.read_sessionmaker
    async with sessionmaker() as session:
        yield session


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def make_raw_pool(url: str, *, max_size: int = 20) -> asyncpg.Pool:
    """A plain asyncpg pool for the hottest paths: no greenlet hop and result processing per call, as
    a query through an SQLAlchemy AsyncSession has (the difference: bench/checkout/README.md, the cart
    read, and bench/loms/README.md, the order writes)."""
    return await asyncpg.create_pool(plain_url(url), min_size=min(4, max_size), max_size=max_size)


def get_raw_pool(request: Request) -> asyncpg.Pool:
    return request.app.state.pg


RawPoolDep = Annotated[asyncpg.Pool, Depends(get_raw_pool)]
