"""OpenTelemetry tracing, set up once per process by `create_service_app`.

Spans come from FastAPI requests (never the SSE streams, health, readiness or metrics), httpx
calls (and aiohttp's, which carry checkout's httpx calls), asyncpg queries, Redis commands and
aiokafka sends and receives. The database is traced at
asyncpg, the driver under SQLAlchemy and under the raw pools alike: SQLAlchemy's instrumentation
would miss the raw pools, and both together would give every query two spans.

Exporting is off unless the standard variables ask for it: `OTEL_TRACES_EXPORTER=otlp`, or an
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (OTLP over HTTP; the exporter
reads the other `OTEL_EXPORTER_OTLP_*` variables itself). While nothing exports, spans are not
recorded, only their ids made and passed on (the logs carry them, `traceparent` goes out with
every call and event), by a lean server span per request (`ServerSpans`) and without the asyncpg
and Redis spans (which would pass nothing on); a caller's sampled `traceparent` is still honoured. `OTEL_TRACES_SAMPLER`
replaces that choice; `OTEL_SDK_DISABLED=true` turns tracing off altogether.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler, SamplingResult
from starlette.types import ASGIApp, Receive, Scope, Send

#: Requests that make no span: the SSE streams (one would last as long as the stream) and the probes.
EXCLUDED_PATHS = ("/healthz", "/readyz", "/metrics", "/api/v1/events/stream", "/live")
_EXCLUDED_URLS = ",".join(f"^[a-z]+://[^/]*{path}$" for path in EXCLUDED_PATHS)
_CONTEXT_HEADERS = frozenset({b"traceparent", b"tracestate"})
#: Paths whose last part is a secret: a booking's cancel link is its token, all it takes to cancel.
_SECRET_IN_PATH = re.compile(r"(/by-token/|/bookings/cancel/)[^/?#\s]+")
#: FastAPI (0.16x) traces, meters and logs by itself once a provider is set, some spans per request
#: on top of ours (dependencies, endpoint, serialization): `FastAPI(telemetry=...)` turns it off.
NO_NATIVE_TELEMETRY: Any = {"tracing": False, "metrics": False, "logs": False}
_sampler: _RecordWhenExported | None = None
_leaves_instrumented = False


class _RecordWhenExported(Sampler):
    """Records (parent-based) once something exports; until then only a sampled parent records."""

    def __init__(self) -> None:
        self.exporting = False
        self._on, self._off = ParentBased(ALWAYS_ON), ParentBased(ALWAYS_OFF)

    def should_sample(self, *args: Any, **kwargs: Any) -> SamplingResult:
        return (self._on if self.exporting else self._off).should_sample(*args, **kwargs)

    def get_description(self) -> str:
        return "RecordWhenExported"


def enabled() -> bool:
    return os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def export_requested() -> bool:
    exporter = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return "otlp" in exporter.split(",")
    return any(os.environ.get(f"OTEL_EXPORTER_OTLP{kind}_ENDPOINT") for kind in ("", "_TRACES"))


def setup_tracing(service_name: str) -> None:
    """The process's tracer provider and the library instrumentation, the first time only."""
    global _sampler
    if _sampler is not None or not enabled():
        return
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    _sampler = _RecordWhenExported()
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
    sampler = None if os.environ.get("OTEL_TRACES_SAMPLER") else _sampler
    trace.set_tracer_provider(TracerProvider(resource=Resource.create(attributes), sampler=sampler))
    # The clients that carry the context on (HTTP calls, Kafka sends) always.
    for instrumentor in (HTTPXClientInstrumentor(), AioHttpClientInstrumentor(), AIOKafkaInstrumentor()):
        instrumentor.instrument()
    if export_requested():
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_to(OTLPSpanExporter())
    elif sampler is None:
        _instrument_leaves()


def _instrument_leaves() -> None:
    """asyncpg and Redis, whose spans pass nothing on: only once spans are recorded (unrecorded,
    a query's span costs up to ~30 us of naming it from its SQL, for nothing)."""
    global _leaves_instrumented
    if _leaves_instrumented:
        return
    from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    AsyncPGInstrumentor().instrument()  # type: ignore[no-untyped-call]
    RedisInstrumentor().instrument()
    _leaves_instrumented = True


def export_to(exporter: SpanExporter, *, batched: bool = True) -> None:
    """Send every span from now on to `exporter`, in batches (or each as it ends), its secrets out."""
    provider = trace.get_tracer_provider()
    if _sampler is None or not isinstance(provider, TracerProvider):
        raise RuntimeError("tracing is not set up (or OTEL_SDK_DISABLED)")
    redacted = Redacted(exporter)
    provider.add_span_processor(BatchSpanProcessor(redacted) if batched else SimpleSpanProcessor(redacted))
    _sampler.exporting = True
    _instrument_leaves()


class Redacted(SpanExporter):
    """`exporter`, handed each span with the secrets out of its name and attributes: the
    instrumentations record the raw path and URL of every request and call, and a trace backend is
    read by more people than the database (where a booking's cancel token is kept as a digest)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self.exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.exporter.export([_without_secrets(span) for span in spans])

    def shutdown(self) -> None:
        self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.exporter.force_flush(timeout_millis)


def _hidden(text: str) -> str:
    return _SECRET_IN_PATH.sub(r"\1{token}", text)


def _without_secrets(span: ReadableSpan) -> ReadableSpan:
    attributes = dict(span.attributes or {})
    texts = [span.name, *(value for value in attributes.values() if isinstance(value, str))]
    if not any(_SECRET_IN_PATH.search(text) for text in texts):
        return span
    return ReadableSpan(
        name=_hidden(span.name), context=span.context, parent=span.parent, resource=span.resource,
        attributes={key: _hidden(value) if isinstance(value, str) else value for key, value in attributes.items()},
        events=span.events, links=span.links, kind=span.kind, status=span.status, start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
    )  # fmt: skip


def instrument_app(app: FastAPI) -> None:
    """Server spans for `app`'s requests: FastAPI's instrumentation when spans are recorded, else
    `ServerSpans` (outermost either way, so every log line of a request names its span)."""
    if _sampler is None:
        return
    if _sampler.exporting or os.environ.get("OTEL_TRACES_SAMPLER"):
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        # The ASGI send/receive spans would add two spans per request and say nothing new.
        FastAPIInstrumentor.instrument_app(app, excluded_urls=_EXCLUDED_URLS, exclude_spans=["receive", "send"])
        return
    build = app.build_middleware_stack
    app.build_middleware_stack = lambda: ServerSpans(build())  # type: ignore[method-assign]


class ServerSpans:
    """A request's server span while nothing records spans: its ids, continuing the caller's
    `traceparent`, and nothing else. FastAPI's instrumentation gathers the request's attributes
    and metrics before it knows the span is not recorded: about 100 µs a request, thrown away."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.tracer = trace.get_tracer(__name__)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXCLUDED_PATHS:
            await self.app(scope, receive, send)
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _CONTEXT_HEADERS}
        context = propagate.extract(carrier) if carrier else Context()
        with self.tracer.start_as_current_span(scope["method"], context=context, kind=trace.SpanKind.SERVER):
            await self.app(scope, receive, send)


def current_traceparent() -> str | None:
    """The W3C `traceparent` of the current span, None outside any trace."""
    if not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


def traceparent_header(traceparent: str | None) -> list[tuple[str, bytes]]:
    return [("traceparent", traceparent.encode())] if traceparent else []


@contextmanager
def consuming(name: str, headers: Sequence[Sequence[tuple[str, bytes]] | None]) -> Iterator[None]:
    """A consumer span for work on messages with these Kafka headers: the child of the first
    message's trace context, linked to every message's (one span cannot have several parents)."""
    contexts = [trace.get_current_span(_extract(h)).get_span_context() for h in headers]
    joined = [c for c in contexts if c.is_valid]
    parent = trace.set_span_in_context(trace.NonRecordingSpan(joined[0])) if joined else None
    links = [trace.Link(c) for c in joined[1:]]
    tracer = trace.get_tracer("shopcommon.tracing")
    with tracer.start_as_current_span(name, context=parent, kind=trace.SpanKind.CONSUMER, links=links):
        yield


def traceparent_in(headers: Sequence[tuple[str, bytes]] | None) -> str | None:
    """The `traceparent` the Kafka headers carry, rewritten from its parsed form (so a malformed
    one from some other producer is None, not stored); None when they carry none."""
    context = trace.get_current_span(_extract(headers)).get_span_context()
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


@contextmanager
def continuing(name: str, traceparent: str | None, kind: trace.SpanKind = trace.SpanKind.PRODUCER) -> Iterator[None]:
    """A span for work done later on behalf of a stored trace context (a notification sent from
    its row): its child, or the root of a trace of its own when none was stored."""
    parent = propagate.extract({"traceparent": traceparent}) if traceparent else Context()
    with trace.get_tracer("shopcommon.tracing").start_as_current_span(name, context=parent, kind=kind):
        yield


def _extract(headers: Sequence[tuple[str, bytes]] | None) -> Any:
    """The trace context the headers carry (an empty one when they carry none)."""
    return propagate.extract({key.lower(): value.decode("latin-1") for key, value in headers or () if value})


def log_ids() -> tuple[str, str] | None:
    """The current trace and span id as hex, for a log line; None outside any span."""
    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return None
    return format(context.trace_id, "032x"), format(context.span_id, "016x")
