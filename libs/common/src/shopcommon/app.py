"""The common shape of every service: lifespan with its resources, problem errors,
health, readiness, metrics and a clean OpenAPI document."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from sqlalchemy import text

from shopcommon.auth import TokenVerifier
from shopcommon.body_limit import LIMIT_KEY, BodyLimitMiddleware
from shopcommon.db import make_engine, make_raw_pool, make_sessionmaker
from shopcommon.kafka import kafka_ready
from shopcommon.logging import configure_logging
from shopcommon.observability import Metrics, RequestContextMiddleware
from shopcommon.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers, problem_response
from shopcommon.reading import model_schemas
from shopcommon.redis import make_redis
from shopcommon.settings import ServiceSettings

log = logging.getLogger(__name__)
ReadyCheck = Callable[[FastAPI], Awaitable[None]]
READY_TIMEOUT = 3.0
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


_REF = "#/components/schemas/{}"
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF.format("Problem")}}}


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
    # The last added runs first: every answer, a 413 too, gets its request id, log line and metrics.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
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
        document_body_limits(schema, settings.max_body_bytes)
        document_malformed_bodies(schema)
        document_validation_problems(schema)
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


def document_body_limits(schema: dict[str, Any], default: int) -> None:
    """Every operation that takes a body may answer 413 (`shopcommon.body_limit`); say so, with its limit."""
    for path_item in schema.get("paths", {}).values():
        for op in path_item.values():
            if not isinstance(op, dict) or "requestBody" not in op:
                continue
            responses: dict[str, Any] = op.setdefault("responses", {})
            if "413" in responses:
                continue
            limit = op.get(LIMIT_KEY, default)
            responses["413"] = {
                "description": f"Content too large: the request body is over {limit} bytes",
                "content": _problem_content(),
            }
            op["responses"] = _in_order(responses)


def document_malformed_bodies(schema: dict[str, Any]) -> None:
    """Every operation that takes a body answers 400 `malformed-json` to one it cannot parse
    (`shopcommon.problems`); say so where an operation does not already."""
    for op in _operations(schema):
        if "requestBody" not in op:
            continue
        responses: dict[str, Any] = op.setdefault("responses", {})
        if "400" in responses:
            continue
        responses["400"] = {
            "description": "Malformed body: not valid JSON (or not readable as its content type)",
            "content": _problem_content(),
        }
        op["responses"] = _in_order(responses)


def document_validation_problems(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 `application/json` `HTTPValidationError` on every operation with
    parameters or a body that does not state its own 422; the answer is a problem
    (`shopcommon.problems`). Replace it, then drop the components nothing refers to any more."""
    for op in _operations(schema):
        answer = op.get("responses", {}).get("422")
        content = answer.get("content", {}) if isinstance(answer, dict) else {}
        default = content.get("application/json", {}).get("schema", {}).get("$ref")
        if default != _REF.format("HTTPValidationError"):
            continue
        answer["description"] = "Validation failed: the request does not match the schema"
        answer["content"] = {
            **{media: body for media, body in content.items() if media != "application/json"},
            **_problem_content(),
        }
    schemas: dict[str, Any] = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
        if name in schemas and not _refers_to(schema, _REF.format(name)):
            del schemas[name]


def _operations(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path_item in schema.get("paths", {}).values():
        for method, op in path_item.items():
            if method in _METHODS and isinstance(op, dict):
                yield op


def _in_order(responses: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(responses.items(), key=lambda item: (not item[0].isdigit(), item[0])))


def _refers_to(node: Any, ref: str) -> bool:
    """Whether anything in the document holds `{"$ref": ref}`."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("$ref") == ref:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


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
        openapi_extra={"x-roles": ["public"]},
    )
    async def metrics(request: Request) -> Response:
        registry = request.app.state.metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return router
