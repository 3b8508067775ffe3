"""A W3C `traceparent` sent to checkout comes out in LOMS's and notifications' work for that
request, as every service's JSON log lines show (each line written within a span names its trace
and span): checkout's request, LOMS's request, the notifications consumer handling the event
the LOMS request wrote (its outbox row kept the context; the relay put it in the Kafka headers),
and the e-mail sent for it later (its notification row kept the context too).
The SSE stream makes no span, so its request line names no trace. Exporting stays off: the ids are
made and carried all the same."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from notifications.testing.push_service import local_push_env
from notifications.testing.tls import TestCertificate
from shopcommon.testing.plugin import Stack

from .conftest import System, bearer, new_customer, start_system


@pytest.fixture(scope="module")
def traced(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tls = TestCertificate.issue(tmp_path_factory.mktemp("push-tls"))
    # JSON logs, and DEBUG so that every request and every handled batch of events writes a line.
    env = {**local_push_env(tls), "LOG_JSON": "true", "LOG_LEVEL": "DEBUG"}
    system = start_system(shop_stack, tmp_path_factory.mktemp("traced"), extra_env=env)
    try:
        yield system
    finally:
        system.stop()


def log_lines(system: System, service: str) -> list[dict[str, Any]]:
    text = system.services[service].proc.log_path.read_text(errors="replace")
    return [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]


async def lines_with(
    system: System, service: str, trace_id: str, about: str = "", timeout: float = 20
) -> list[dict[str, Any]]:
    """The service's log lines in the trace, once one whose message contains `about` is there."""
    deadline = time.monotonic() + timeout
    while True:
        found = [line for line in log_lines(system, service) if line.get("trace_id") == trace_id]
        if any(about in line["msg"] for line in found) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.2)


def caller_trace() -> tuple[str, str, dict[str, str]]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, {"traceparent": f"00-{trace_id}-{span_id}-01"}


async def test_a_callers_trace_reaches_loms_and_the_notifications_consumer(traced: System) -> None:
    customer = await new_customer(traced, await bearer(traced, "admin", "1"))
    async with traced.client("checkout") as client:
        products = (await client.get("/api/v1/products", params={"limit": 100, "in_stock": "true"})).json()
        sku = next(p["sku"] for p in products["items"] if p["quantity_in_stock"] >= 5)
        trace_id, caller_span, header = caller_trace()
        placed = await client.post(
            "/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers={**customer["headers"], **header}
        )
    assert placed.status_code == 201, placed.text

    checkout = await lines_with(traced, "checkout", trace_id, "POST /api/v1/orders")
    loms = await lines_with(traced, "loms", trace_id, "POST /api/v1/orders")
    handled = [
        line for line in await lines_with(traced, "notifications", trace_id, "handled") if "handled" in line["msg"]
    ]
    assert any("POST /api/v1/orders" in line["msg"] for line in checkout), checkout
    assert any("POST /api/v1/orders" in line["msg"] for line in loms), log_lines(traced, "loms")[-15:]
    assert handled, "the notifications consumer handled no event in the caller's trace:\n" + "\n".join(
        str(line) for line in log_lines(traced, "notifications")[-30:]
    )
    # The e-mail the event caused was sent later, from its stored row, in the same trace.
    mailed = [
        line for line in await lines_with(traced, "notifications", trace_id, "e-mailed") if "e-mailed" in line["msg"]
    ]
    assert mailed, "no e-mail was sent in the caller's trace"
    # Each service worked in spans of its own within the caller's trace.
    spans = {line["span_id"] for line in checkout + loms + handled + mailed}
    assert caller_span not in spans
    assert {line["span_id"] for line in loms}.isdisjoint(line["span_id"] for line in checkout)
    assert {line["span_id"] for line in mailed}.isdisjoint(line["span_id"] for line in handled)
    assert all(len(line["span_id"]) == 16 for line in checkout + loms + handled + mailed)


async def test_the_event_stream_makes_no_span(traced: System) -> None:
    customer = await new_customer(traced, await bearer(traced, "admin", "1"))
    trace_id, _, header = caller_trace()
    async with (
        traced.client("notifications") as client,
        client.stream("GET", "/api/v1/events/stream", headers={**customer["headers"], **header}) as stream,
    ):
        assert stream.status_code == 200
        await asyncio.wait_for(anext(stream.aiter_bytes()), 10)

    async def stream_lines() -> list[dict[str, Any]]:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            lines = [line for line in log_lines(traced, "notifications") if "/api/v1/events/stream" in line["msg"]]
            if lines:
                return lines
            await asyncio.sleep(0.2)
        return []

    lines = await stream_lines()
    assert lines, "the stream's request line never came"
    assert all("trace_id" not in line and "span_id" not in line for line in lines), lines
    assert not await lines_with(traced, "notifications", trace_id, timeout=0)
