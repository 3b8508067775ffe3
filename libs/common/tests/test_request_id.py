"""The request id of the incoming request travels on outgoing HTTP calls and Kafka headers."""

import logging

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Request

from shopcommon.app import create_service_app
from shopcommon.http import header_text, make_http_client
from shopcommon.kafka import trace_headers
from shopcommon.observability import Metrics, RequestContextMiddleware
from shopcommon.problems import NotFound
from shopcommon.settings import ServiceSettings


def downstream() -> FastAPI:
    app = FastAPI()

    @app.get("/echo")
    async def echo(request: Request) -> dict[str, str | None]:
        return {"rid": request.headers.get("x-request-id")}

    return app


def upstream(calls: httpx.AsyncClient) -> FastAPI:
    router = APIRouter()

    @router.get("/relay")
    async def relay() -> dict[str, object]:
        seen = (await calls.get("/echo")).json()["rid"]
        return {"downstream_saw": seen, "kafka": dict(trace_headers())["X-Request-ID"].decode()}

    return create_service_app(
        ServiceSettings(log_json=False), title="t", description="d", routers=[router], uses_db=False
    )


async def test_request_id_reaches_downstream_calls_and_kafka_headers() -> None:
    # The outgoing client, pointed in-process.
    calls = make_http_client("http://downstream", transport=httpx.ASGITransport(app=downstream()))
    app = upstream(calls)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://up") as client:
        r = await client.get("/relay", headers={"X-Request-ID": "rid-123"})
    assert r.json() == {"downstream_saw": "rid-123", "kafka": "rid-123"}
    assert r.headers["x-request-id"] == "rid-123"
    await calls.aclose()


async def test_a_request_id_that_cannot_travel_in_a_header_is_replaced() -> None:
    """Once a byte like 0xE9 in `X-Request-ID` was kept, and every call the request made to another
    service then failed to encode its headers: a 500."""
    calls = make_http_client("http://downstream", transport=httpx.ASGITransport(app=downstream()))
    app = upstream(calls)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://up") as client:
        for sent in (b"caf\xe9", b"two words", b""):
            r = await client.get("/relay", headers=[(b"X-Request-ID", sent)])
            assert r.status_code == 200, r.text
            rid = r.headers["x-request-id"]
            assert rid.encode() != sent and rid.isascii() and " " not in rid
            assert r.json() == {"downstream_saw": rid, "kafka": rid}
    await calls.aclose()


def test_header_text_keeps_only_visible_ascii_up_to_its_limit() -> None:
    assert header_text("rid-123_/:=", 100) == "rid-123_/:="
    assert header_text("x" * 300, 128) == "x" * 128
    for refused in ("", "two words", "caf\u00e9", "tab\there", "line\nbreak", "\x7f", "\u00b2"):
        assert header_text(refused, 100) is None, refused


async def test_every_request_is_counted_and_timed_per_route_and_status() -> None:
    app = FastAPI()
    metrics = Metrics("t")
    app.add_middleware(RequestContextMiddleware, metrics=metrics)

    @app.get("/items/{n}")
    async def item(n: int) -> dict[str, int]:
        return {"n": n}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        for path in ("/items/1", "/items/2", "/items/x", "/items/3"):
            await client.get(path)

    def sample(name: str, **labels: str) -> float | None:
        return metrics.registry.get_sample_value(name, {"method": "GET", "route": "/items/{n}", **labels})

    assert sample("http_requests_total", status="200") == 3
    assert sample("http_requests_total", status="422") == 1
    assert sample("http_request_duration_seconds_count") == 4


async def test_a_refused_request_on_a_path_with_a_token_is_logged_by_its_route(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A cancel link's token must not land in the logs with the 404 or 403 its page answers."""
    router = APIRouter()

    @router.get("/links/{token}")
    async def link(token: str) -> None:
        raise NotFound("no such link")

    @router.get("/orders/{order_id}")
    async def order(order_id: int) -> None:
        raise NotFound("no such order")

    app = create_service_app(ServiceSettings(log_json=False), title="t", description="d", routers=[router],
                             uses_db=False)  # fmt: skip
    logging.getLogger().addHandler(caplog.handler)  # the app's logging set-up replaced the root's handlers
    caplog.set_level(logging.INFO, logger="shopcommon.request")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        assert (await client.get("/links/s3cret-t0ken")).status_code == 404
        assert (await client.get("/orders/42")).status_code == 404
    logged = [rec.getMessage() for rec in caplog.records]
    assert "GET /links/{token} -> 404" in logged and "GET /orders/42 -> 404" in logged, logged
    assert not any("s3cret" in line for line in logged)
