"""The request id of the incoming request travels on outgoing HTTP calls and Kafka headers."""

import httpx
from fastapi import APIRouter, FastAPI, Request

from shopcommon.app import create_service_app
from shopcommon.http import make_http_client
from shopcommon.kafka import header_value, trace_headers
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
        return {"downstream_saw": seen, "kafka": header_value(trace_headers(), "X-Request-ID")}

    return create_service_app(
        ServiceSettings(log_json=False), title="t", description="d", routers=[router], uses_db=False
    )


async def test_request_id_reaches_downstream_calls_and_kafka_headers() -> None:
    calls = make_http_client("http://downstream")
    calls._transport = httpx.ASGITransport(app=downstream())  # the outgoing client, pointed in-process
    app = upstream(calls)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://up") as client:
        r = await client.get("/relay", headers={"X-Request-ID": "rid-123"})
    assert r.json() == {"downstream_saw": "rid-123", "kafka": "rid-123"}
    assert r.headers["x-request-id"] == "rid-123"
    await calls.aclose()
