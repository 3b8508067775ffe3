"""What a database error means to a client: a value it sent that cannot be stored (422), the
database out of reach (503: try again shortly), or a fault of ours (500). `shopcommon.problems`
answers accordingly."""

from __future__ import annotations

import traceback

import asyncpg
import sqlalchemy.exc

#: Errors raised, unwrapped, when the database cannot be reached or drops the connection: asyncpg
#: raises OSError's `ConnectionError` on connecting (through SQLAlchemy too), its own connection
#: errors (SQLSTATE class 08) when a connection is lost, and the server's refusals while it starts,
#: stops or is full (57P01-57P03, 53300); SQLAlchemy's pool raises `TimeoutError` when no connection
#: frees up in time. asyncpg's `InterfaceError` saying the connection is closed is one too (it also
#: means misuse, so only with those words).
UNREACHABLE: tuple[type[Exception], ...] = (
    ConnectionError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
    sqlalchemy.exc.TimeoutError,
)
_UNREACHABLE_STATES = ("08", "57P01", "57P02", "57P03", "53300")


def _sqlstate(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    cause = getattr(orig, "__cause__", None)
    return str(
        getattr(exc, "sqlstate", None) or getattr(orig, "sqlstate", None) or getattr(cause, "sqlstate", None) or ""
    )


def is_data_error(exc: BaseException) -> bool:
    """SQLSTATE class 22 (data exception), whether raised by asyncpg or wrapped by SQLAlchemy."""
    if isinstance(exc, asyncpg.exceptions.DataError):
        return True
    cause = getattr(getattr(exc, "orig", None), "__cause__", None)
    return isinstance(cause, asyncpg.exceptions.DataError) or _sqlstate(exc).startswith("22")


def is_unreachable(exc: BaseException) -> bool:
    """The database out of reach: not connected, the connection lost, or the server refusing. A bare
    `ConnectionError` counts only when raised from the database drivers (another socket's is not)."""
    if isinstance(exc, ConnectionError) and not _from_driver(exc):
        return False
    if isinstance(exc, UNREACHABLE) or _closed(exc):
        return True
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    cause = getattr(getattr(exc, "orig", None), "__cause__", None)
    return isinstance(cause, UNREACHABLE) or _closed(cause) or _sqlstate(exc).startswith(_UNREACHABLE_STATES)


def _closed(exc: BaseException | None) -> bool:
    return isinstance(exc, asyncpg.InterfaceError) and "closed" in str(exc)


def _from_driver(exc: BaseException) -> bool:
    modules = (frame.f_globals.get("__name__", "") for frame, _ in traceback.walk_tb(exc.__traceback__))
    return any(module.startswith(("asyncpg", "sqlalchemy")) for module in modules)
