"""/readyz names what is down in a word; the exception's text stays in the server's log."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from shopcommon import app as app_module
from shopcommon.app import create_service_app, readiness_failure
from shopcommon.settings import ServiceSettings


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield int(s.getsockname()[1])


@pytest.fixture
async def app(closed_port: int, silent_port: int, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FastAPI]:
    monkeypatch.setattr(app_module, "READY_TIMEOUT", 0.5)
    settings = ServiceSettings(
        log_json=False,
        database_url=f"postgresql://shop:hunter2@127.0.0.1:{closed_port}/shop",
        redis_url=f"redis://127.0.0.1:{silent_port}/0",
    )
    service = create_service_app(settings, title="t", description="d", routers=[], uses_redis=True)
    async with service.router.lifespan_context(service):
        yield service


async def test_readyz_names_what_is_down_without_the_exception_text(
    app: FastAPI, closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="shopcommon.app")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.get("/readyz")
    assert r.status_code == 503
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["down"] == {"database": "unreachable", "redis": "timeout"}
    assert body["detail"] == "Dependencies down: database, redis"
    for leak in (str(closed_port), "127.0.0.1", "Error", "hunter2"):
        assert leak not in r.text
    logged = " ".join(rec.getMessage() for rec in caplog.records)
    assert "readiness check database failed" in logged and "readiness check redis failed" in logged


class DriverError(Exception):
    pass


def wrapped(outer: Exception, inner: BaseException) -> Exception:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise outer from exc
    except Exception as caught:
        return caught


@pytest.mark.parametrize(
    ("exc", "word"),
    [
        (TimeoutError(), "timeout"),
        (ConnectionRefusedError(111, "refused"), "unreachable"),
        (socket.gaierror(-2, "Name or service not known"), "unreachable"),
        (wrapped(DriverError("wrapped"), ConnectionResetError()), "unreachable"),
        (wrapped(DriverError("wrapped"), TimeoutError()), "timeout"),
        (DriverError('password authentication failed for user "shop"'), "failing"),
    ],
)
def test_a_failure_is_told_in_one_word(exc: BaseException, word: str) -> None:
    assert readiness_failure(exc) == word
