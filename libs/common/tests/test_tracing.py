"""`shopcommon.tracing` in one process, spans caught by an in-memory exporter (the exporter is
outside the system): requests carry a caller's `traceparent` on, the SSE streams and probes make
no span, JSON log lines name the span they were written in, and an event's outbox row keeps the
trace context that the relay then hands to Kafka and a consumer's span continues."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sqlalchemy.ext.asyncio import AsyncEngine

from shopcommon import tracing
from shopcommon.app import create_service_app
from shopcommon.db import make_engine
from shopcommon.devstack.databases import create_database
from shopcommon.logging import JsonFormatter
from shopcommon.outbox import OutboxMessage, OutboxRelay, OutboxStore, RelayTuning
from shopcommon.settings import ServiceSettings
from shopcommon.testing.plugin import Stack

from .test_outbox import DDL

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"
log = logging.getLogger("shopcommon.tests.tracing")


class Caught(InMemorySpanExporter):
    """Keeps spans only while a test of this module runs (the provider is the process's)."""

    armed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return super().export(spans) if self.armed else SpanExportResult.SUCCESS


_caught: Caught | None = None


@pytest.fixture
def spans() -> Iterator[Caught]:
    global _caught
    tracing.setup_tracing("shopcommon-tests")
    if _caught is None:
        _caught = Caught()
        tracing.export_to(_caught, batched=False)
    _caught.clear()
    _caught.armed = True
    try:
        yield _caught
    finally:
        _caught.armed = False
        _caught.clear()


def sse_app(lines: list[str]) -> FastAPI:
    router = APIRouter()
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("t"))
    handler.emit = lambda record: lines.append(handler.format(record))  # type: ignore[method-assign]
    log.addHandler(handler)
    log.setLevel(logging.INFO)

    async def frames() -> AsyncIterator[bytes]:
        yield b"data: one\n\n"

    @router.get("/api/v1/things")
    async def things() -> dict[str, str | None]:
        log.info("listing things")
        return {"traceparent": tracing.current_traceparent()}

    @router.get("/lively")
    async def lively() -> dict[str, str]:
        return {}

    @router.get("/live")
    async def live() -> StreamingResponse:
        return StreamingResponse(frames(), media_type="text/event-stream")

    @router.get("/api/v1/events/stream")
    async def stream() -> StreamingResponse:
        log.info("stream opened")
        return StreamingResponse(frames(), media_type="text/event-stream")

    return create_service_app(
        ServiceSettings(log_json=False), title="t", description="d", routers=[router], uses_db=False
    )


async def test_requests_continue_the_callers_trace_and_streams_and_probes_make_no_span(spans: Caught) -> None:
    lines: list[str] = []
    app = sse_app(lines)
    caller = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        for path in ("/healthz", "/metrics", "/live", "/api/v1/events/stream", "/lively"):
            assert (await client.get(path, headers=caller)).status_code == 200
        answer = (await client.get("/api/v1/things", headers=caller)).json()
    server = [s for s in spans.get_finished_spans() if s.kind == trace.SpanKind.SERVER]
    assert sorted(s.name for s in server) == ["GET /api/v1/things", "GET /lively"]
    things = next(s for s in server if s.name == "GET /api/v1/things")
    assert format(things.context.trace_id, "032x") == CALLER_TRACE
    assert things.parent is not None and format(things.parent.span_id, "016x") == CALLER_SPAN
    own_span = format(things.context.span_id, "016x")
    assert answer["traceparent"] == f"00-{CALLER_TRACE}-{own_span}-01"
    # The stream's log line is outside any span; the request's carries the request's ids.
    logged = {line["msg"]: line for line in map(orjson.loads, lines)}
    assert "trace_id" not in logged["stream opened"] and "span_id" not in logged["stream opened"]
    assert logged["listing things"]["trace_id"] == CALLER_TRACE
    assert logged["listing things"]["span_id"] == own_span


async def test_unexported_requests_get_one_lean_span_each_and_streams_none(
    spans: Caught, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While nothing exports, `ServerSpans` replaces FastAPI's instrumentation (and FastAPI's own
    telemetry stays off): one span per request, no more. A sampled caller's span still records,
    so the in-memory exporter sees it."""
    assert tracing._sampler is not None
    monkeypatch.setattr(tracing._sampler, "exporting", False)
    lines: list[str] = []
    app = sse_app(lines)
    caller = {"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        for path in ("/healthz", "/live", "/api/v1/events/stream"):
            assert (await client.get(path, headers=caller)).status_code == 200
        answer = (await client.get("/api/v1/things", headers=caller)).json()
        unsampled = (await client.get("/api/v1/things")).json()
    [server] = spans.get_finished_spans()
    assert server.kind == trace.SpanKind.SERVER and server.parent is not None
    assert format(server.parent.span_id, "016x") == CALLER_SPAN
    own_span = format(server.context.span_id, "016x")
    assert answer["traceparent"].startswith(f"00-{CALLER_TRACE}-{own_span}-")
    # Without a caller's context: a new trace, its ids made all the same (not recorded, not sampled).
    assert unsampled["traceparent"] is not None and CALLER_TRACE not in unsampled["traceparent"]
    assert int(unsampled["traceparent"][-2:], 16) & 1 == 0  # the sampled flag clear
    logged = [orjson.loads(line) for line in lines]
    assert [line.get("trace_id") for line in logged] == [None, CALLER_TRACE, unsampled["traceparent"][3:35]]


def test_log_lines_carry_trace_and_span_id_while_a_span_is_current_even_unexported() -> None:
    tracing.setup_tracing("shopcommon-tests")
    formatter = JsonFormatter("t")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello", (), None)
    assert "trace_id" not in orjson.loads(formatter.format(record))
    with trace.get_tracer("t").start_as_current_span("work") as span:
        line = orjson.loads(formatter.format(record))
    ids = span.get_span_context()
    assert ids.is_valid
    assert (line["trace_id"], line["span_id"]) == (format(ids.trace_id, "032x"), format(ids.span_id, "016x"))


def test_export_follows_the_standard_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert not tracing.export_requested()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    assert tracing.export_requested()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert not tracing.export_requested()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "otlp")
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT")
    assert tracing.export_requested()
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert not tracing.enabled()


@pytest.fixture
async def engine(shop_stack: Stack) -> AsyncIterator[AsyncEngine]:
    url = await create_database(shop_stack.urls.database_url, f"tracing_{uuid.uuid4().hex[:8]}")
    engine = make_engine(url, pool_size=5)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(DDL)
    yield engine
    await engine.dispose()


async def first_message_headers(bootstrap: str, topic: str) -> list[tuple[str, bytes]]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 20)
    finally:
        await consumer.stop()
    return list(message.headers)


async def test_the_outbox_keeps_the_trace_context_and_the_consumer_continues_it(
    spans: Caught, engine: AsyncEngine, shop_stack: Stack
) -> None:
    store, topic = OutboxStore("events_out"), f"tracing-{uuid.uuid4().hex[:8]}"
    with trace.get_tracer("t").start_as_current_span("change the order") as request_span:
        written = tracing.current_traceparent()
        async with engine.begin() as conn:
            await store.add(conn, topic, [OutboxMessage("7", {"order_id": 7})], notify=False)
    async with engine.connect() as conn:
        stored = (await conn.exec_driver_sql("SELECT traceparent FROM events_out")).scalar()
    ids = request_span.get_span_context()
    assert written is not None and stored == written
    assert written.startswith(f"00-{ids.trace_id:032x}-{ids.span_id:016x}-")

    bootstrap = shop_stack.urls.kafka_bootstrap_servers
    relay = OutboxRelay(engine, store, bootstrap, RelayTuning(topics={topic: 1}, linger=0))
    try:
        assert await relay.publish_batch() is not None and relay.published == 1
    finally:
        await relay.close()
    headers = await first_message_headers(bootstrap, topic)
    assert ("traceparent", written.encode()) in headers

    with tracing.consuming(f"process {topic}", [headers, []]):
        consumer_ids = trace.get_current_span().get_span_context()
    process = next(s for s in spans.get_finished_spans() if s.name == f"process {topic}")
    assert consumer_ids.trace_id == ids.trace_id
    assert process.parent is not None and process.parent.span_id == ids.span_id
    assert process.kind == trace.SpanKind.CONSUMER


def test_a_stored_context_is_read_from_the_headers_and_continued_later(spans: Caught) -> None:
    """What the notifications consumer keeps with a notification, and the sender's span: the child
    of the event's context, in the same trace; a malformed or absent header gives a trace of its own."""
    caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    kept = tracing.traceparent_in([("key", b"7"), ("traceparent", caller.encode())])
    assert kept == caller
    assert tracing.traceparent_in([("traceparent", b"00-nonsense-01")]) is None
    assert tracing.traceparent_in([]) is None and tracing.traceparent_in(None) is None

    with tracing.continuing("send email", kept):
        within = trace.get_current_span().get_span_context()
    with tracing.continuing("send email", None):
        alone = trace.get_current_span().get_span_context()
    assert format(within.trace_id, "032x") == CALLER_TRACE
    assert format(alone.trace_id, "032x") != CALLER_TRACE and alone.is_valid
    sent = [s for s in spans.get_finished_spans() if s.name == "send email"]
    assert len(sent) == 2
    assert sent[0].parent is not None and format(sent[0].parent.span_id, "016x") == CALLER_SPAN
    assert sent[0].kind == trace.SpanKind.PRODUCER
    assert sent[1].parent is None


async def test_a_cancel_links_token_stays_out_of_every_span(spans: Caught) -> None:
    """A booking's cancel link is its token: the server span of the request and the client span
    of the call carrying it on name the path with `{token}` in its place (they recorded it raw)."""
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    router = APIRouter()

    @router.get("/api/v1/bookings/by-token/{token}")
    async def by_token(token: str) -> dict[str, str]:
        ok = httpx.MockTransport(lambda _: httpx.Response(200))
        async with httpx.AsyncClient(transport=ok, base_url="http://bookings") as bookings:
            HTTPXClientInstrumentor().instrument_client(bookings)
            await bookings.post(f"/api/v1/bookings/by-token/{token}/cancel")
        return {}

    app = create_service_app(ServiceSettings(log_json=False), title="t", description="d", routers=[router],
                             uses_db=False)  # fmt: skip
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://svc") as client:
        assert (await client.get("/api/v1/bookings/by-token/s3cr3t-T0ken?x=1")).status_code == 200
        assert (await client.get("/bookings/cancel/s3cr3t-T0ken")).status_code == 404
    finished = spans.get_finished_spans()
    assert {trace.SpanKind.SERVER, trace.SpanKind.CLIENT} <= {s.kind for s in finished}
    said = [s.name for s in finished] + [str(v) for s in finished for v in (s.attributes or {}).values()]
    assert not [text for text in said if "s3cr3t" in text]
    assert any("/api/v1/bookings/by-token/{token}/cancel" in text for text in said)
