"""The common shape of every service: lifespan with its resources, problem errors,
health, readiness, metrics and a clean OpenAPI document (`shopcommon.openapi_document`)."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text
from starlette.types import ASGIApp

from shopcommon.access import PUBLIC
from shopcommon.auth import TokenVerifier
from shopcommon.body_limit import BodyLimitMiddleware
from shopcommon.db import make_engine, make_raw_pool, make_sessionmaker
from shopcommon.kafka import kafka_ready
from shopcommon.logging import configure_logging
from shopcommon.observability import Metrics, RequestContextMiddleware
from shopcommon.openapi_document import PROBLEM_SCHEMA, document_validation_problems, service_document
from shopcommon.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, problem_response
from shopcommon.redis import make_redis
from shopcommon.settings import ServiceSettings
from shopcommon.tracing import NO_NATIVE_TELEMETRY, instrument_app, setup_tracing

__all__ = ["PROBLEM_SCHEMA", "create_service_app", "document_validation_problems", "readiness_failure"]

log = logging.getLogger(__name__)
ReadyCheck = Callable[[FastAPI], Awaitable[None]]
READY_TIMEOUT = 3.0
ServiceLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def _check_db(app: FastAPI) -> None:
    async with app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis(app: FastAPI) -> None:
    await app.state.redis.ping()


async def _check_kafka(app: FastAPI) -> None:
    await kafka_ready(app.state.settings.kafka_bootstrap_servers)


def _operation_id(route: APIRoute) -> str:
    return route.name


@dataclass(frozen=True)
class _Resources:
    """What the common lifespan opens on `app.state` before the service's own, and closes after."""

    settings: ServiceSettings
    uses_db: bool
    uses_redis: bool
    raw_pool: bool

    async def open(self, app: FastAPI) -> None:
        settings = self.settings
        app.state.settings = settings
        app.state.token_verifier = TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=settings.jwt_jwks_url,
            jwks_file=settings.jwt_jwks_file,
            public_key_pem=settings.jwt_public_key,
        )
        if self.uses_db:
            app.state.engine = make_engine(
                settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
            )
            app.state.sessionmaker = make_sessionmaker(app.state.engine)
            app.state.read_sessionmaker = make_sessionmaker(
                app.state.engine.execution_options(isolation_level="AUTOCOMMIT")
            )
            if self.raw_pool:
                app.state.pg = await make_raw_pool(settings.database_url, max_size=settings.db_raw_pool_size)
        if self.uses_redis:
            app.state.redis = make_redis(settings.redis_url)

    async def close(self, app: FastAPI) -> None:
        await app.state.token_verifier.close()
        if self.uses_redis:
            await app.state.redis.aclose()
        if self.uses_db:
            await app.state.engine.dispose()
            if self.raw_pool:
                await app.state.pg.close()


def settle_heap() -> None:
    """Once a service has started: what start-up loaded lives as long as the process, so it leaves
    the garbage collector's care. Full collections walking it were the slowest requests' extra
    50-150 ms (bench/README.md, bench/loms/README.md). Undone when the service stops."""
    gc.collect()
    gc.freeze()


def create_service_app(
    settings: ServiceSettings,
    *,
    title: str,
    description: str,
    routers: Sequence[APIRouter],
    lifespan: ServiceLifespan | None = None,
    uses_db: bool = True,
    uses_redis: bool = False,
    uses_kafka: bool = False,
    raw_pool: bool = False,
    version: str = "1.0.0",
    openapi_tags: list[dict[str, Any]] | None = None,
    openapi_models: Sequence[type[BaseModel]] = (),
    middleware: Sequence[Callable[[ASGIApp], ASGIApp]] = (),
) -> FastAPI:
    """`openapi_models`: body models of routes that read their request themselves
    (`shopcommon.reading`), which FastAPI cannot see, for the document's components.
    `middleware`: the service's own, first to last, inside the common ones (so their work has the
    request id and is counted)."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_tracing(settings.service_name)
    resources = _Resources(settings, uses_db=uses_db, uses_redis=uses_redis, raw_pool=raw_pool)

    @asynccontextmanager
    async def common_lifespan(app: FastAPI) -> AsyncIterator[None]:
        await resources.open(app)
        try:
            async with lifespan(app) if lifespan is not None else nullcontext():
                settle_heap()
                yield
        finally:
            gc.unfreeze()  # a process that starts services again (tests) frees what this one held
            await resources.close(app)

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=common_lifespan,
        generate_unique_id_function=_operation_id,
        openapi_tags=openapi_tags,
        docs_url="/docs",
        redoc_url="/redoc",
        # FastAPI's own OpenTelemetry spans, metrics and logs stay off: shopcommon.tracing traces.
        telemetry=NO_NATIVE_TELEMETRY,
    )
    app.state.metrics = Metrics(settings.service_name)
    app.state.ready_checks = _ready_checks(uses_db=uses_db, uses_redis=uses_redis, uses_kafka=uses_kafka)
    install_problem_handlers(app)
    _add_middleware(app, settings, own=middleware)
    app.include_router(_ops_router(), include_in_schema=True)
    for router in routers:
        app.include_router(router)

    _serve_document(app, tags=openapi_tags, models=openapi_models, max_body_bytes=settings.max_body_bytes)
    instrument_app(app)
    return app


def _add_middleware(app: FastAPI, settings: ServiceSettings, *, own: Sequence[Callable[[ASGIApp], ASGIApp]]) -> None:
    # The last added runs first: every answer, a 413 too, gets its request id, log line and
    # metrics; the service's own run inside them.
    for middleware in reversed(own):
        app.add_middleware(middleware)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware, metrics=app.state.metrics)


def _serve_document(
    app: FastAPI, *, tags: list[dict[str, Any]] | None, models: Sequence[type[BaseModel]], max_body_bytes: int
) -> None:
    """`app.openapi()` answers `service_document`, built once."""

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = service_document(app, tags=tags, models=models, max_body_bytes=max_body_bytes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _ready_checks(*, uses_db: bool, uses_redis: bool, uses_kafka: bool) -> dict[str, ReadyCheck]:
    checks: dict[str, ReadyCheck] = {}
    if uses_db:
        checks["database"] = _check_db
    if uses_redis:
        checks["redis"] = _check_redis
    if uses_kafka:
        checks["kafka"] = _check_kafka
    return checks


def readiness_failure(exc: BaseException) -> str:
    """What a readiness answer says of a failed check: a word, never the exception's text (which can
    carry hosts, users, driver internals); the details go to the log."""
    seen: BaseException | None = exc
    for _ in range(8):  # the chain of causes, as deep as drivers wrap
        if seen is None:
            break
        if isinstance(seen, TimeoutError):
            return "timeout"
        if isinstance(seen, OSError) or "connection" in type(seen).__name__.lower():
            return "unreachable"
        seen = seen.__cause__ or seen.__context__
    return "failing"


def _ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers", **PUBLIC.doc())
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency answers",
        **PUBLIC.doc(answers={503: {"description": "A dependency is down", "content": {PROBLEM_MEDIA_TYPE: {}}}}),
    )
    async def readyz(request: Request) -> Response:
        app: FastAPI = request.app
        checks: dict[str, ReadyCheck] = app.state.ready_checks

        async def run(name: str, check: ReadyCheck) -> tuple[str, str | None]:
            try:
                await asyncio.wait_for(check(app), READY_TIMEOUT)
                return name, None
            except Exception as exc:  # any failure means "not ready"; report it, never raise
                log.warning("readiness check %s failed: %r", name, exc)
                return name, readiness_failure(exc)

        results = await asyncio.gather(*(run(n, c) for n, c in checks.items()))
        down = {name: err for name, err in results if err}
        if down:
            return problem_response(
                503,
                "Not ready",
                "Dependencies down: " + ", ".join(sorted(down)),
                "not-ready",
                down=down,
            )
        return JSONResponse({"status": "ready", "checks": {name: "ok" for name in checks}})

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        description="The Prometheus text exposition format.",
        response_class=PlainTextResponse,
        **PUBLIC.doc(),
    )
    async def metrics(request: Request) -> Response:
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
