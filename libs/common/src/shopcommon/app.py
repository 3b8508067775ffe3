"""The common shape of every service: lifespan with its resources, problem errors,
health, readiness, metrics and a clean OpenAPI document."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from shopcommon.auth import TokenVerifier
from shopcommon.db import make_engine, make_raw_pool, make_sessionmaker
from shopcommon.kafka import kafka_ready
from shopcommon.logging import configure_logging
from shopcommon.observability import Metrics, RequestContextMiddleware
from shopcommon.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, problem_response
from shopcommon.reading import model_schemas
from shopcommon.redis import make_redis
from shopcommon.settings import ServiceSettings

ReadyCheck = Callable[[FastAPI], Awaitable[None]]
ServiceLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}


async def _check_db(app: FastAPI) -> None:
    async with app.state.engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def _check_redis(app: FastAPI) -> None:
    await app.state.redis.ping()


async def _check_kafka(app: FastAPI) -> None:
    await kafka_ready(app.state.settings.kafka_bootstrap_servers)


def _operation_id(route: APIRoute) -> str:
    return route.name


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
) -> FastAPI:
    """`openapi_models`: body models of routes that read their request themselves
    (`shopcommon.reading`), which FastAPI cannot see, for the document's components."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    checks: dict[str, ReadyCheck] = {}
    if uses_db:
        checks["database"] = _check_db
    if uses_redis:
        checks["redis"] = _check_redis
    if uses_kafka:
        checks["kafka"] = _check_kafka

    @asynccontextmanager
    async def common_lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.token_verifier = TokenVerifier(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            jwks_url=settings.jwt_jwks_url,
            jwks_file=settings.jwt_jwks_file,
            public_key_pem=settings.jwt_public_key,
        )
        if uses_db:
            app.state.engine = make_engine(
                settings.database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
            )
            app.state.sessionmaker = make_sessionmaker(app.state.engine)
            app.state.read_sessionmaker = make_sessionmaker(
                app.state.engine.execution_options(isolation_level="AUTOCOMMIT")
            )
            if raw_pool:
                app.state.pg = await make_raw_pool(settings.database_url, max_size=settings.db_raw_pool_size)
        if uses_redis:
            app.state.redis = make_redis(settings.redis_url)
        try:
            if lifespan is not None:
                async with lifespan(app):
                    yield
            else:
                yield
        finally:
            await app.state.token_verifier.close()
            if uses_redis:
                await app.state.redis.aclose()
            if uses_db:
                await app.state.engine.dispose()
                if raw_pool:
                    await app.state.pg.close()

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=common_lifespan,
        generate_unique_id_function=_operation_id,
        openapi_tags=openapi_tags,
        docs_url="/docs",
        redoc_url="/redoc",
    )
    metrics = Metrics(settings.service_name)
    app.state.metrics = metrics
    app.state.ready_checks = checks
    install_problem_handlers(app)
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.include_router(_ops_router(), include_in_schema=True)
    for router in routers:
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version="3.1.0",
            description=app.description,
            routes=app.routes,
            tags=openapi_tags,
        )
        components = schema.setdefault("components", {})
        schemas = {**model_schemas(openapi_models), **components.get("schemas", {})}
        components["schemas"] = {**dict(sorted(schemas.items())), "Problem": PROBLEM_SCHEMA}
        schema["servers"] = [{"url": "/", "description": "this service"}]
        document_roles(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def document_roles(schema: dict[str, Any]) -> None:
    """Show `x-roles` where a reader looks (the description) and mark public operations `security: []`."""
    for path_item in schema.get("paths", {}).values():
        for op in path_item.values():
            roles = op.get("x-roles")
            if not roles:
                continue
            if "security" not in op:
                op["security"] = []
            who = "**Who may call:** " + ", ".join(f"`{r}`" for r in roles)
            op["description"] = f"{op['description']}\n\n{who}" if op.get("description") else who


def _ops_router() -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers", openapi_extra={"x-roles": ["public"]})
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: every dependency answers",
        responses={503: {"description": "A dependency is down", "content": {PROBLEM_MEDIA_TYPE: {}}}},
        openapi_extra={"x-roles": ["public"]},
    )
    async def readyz(request: Request) -> Response:
        app: FastAPI = request.app
        checks: dict[str, ReadyCheck] = app.state.ready_checks

        async def run(name: str, check: ReadyCheck) -> tuple[str, str | None]:
            try:
                await asyncio.wait_for(check(app), 3.0)
                return name, None
            except Exception as exc:  # any failure means "not ready"; report it, never raise
                return name, f"{type(exc).__name__}: {exc}"[:200]

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

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=True, openapi_extra={"x-roles": ["public"]})
    async def metrics(request: Request) -> Response:
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
