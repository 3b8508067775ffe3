"""RFC 9457 problem details for every error a service returns.

Business errors subclass `ProblemError` and carry their own status; the handlers below turn
those, FastAPI's validation errors, unknown routes and anything unexpected into
`application/problem+json` so no client ever sees a bare HTML or text error.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

import asyncpg
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from starlette._utils import get_route_path
from starlette.exceptions import HTTPException as StarletteHTTPException

from shopcommon.db_errors import UNREACHABLE, is_data_error, is_unreachable

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://shop.example/problems/"
log = logging.getLogger(__name__)

#: FastAPI's (and `shopcommon.reading`'s) 400 for a JSON body it could not read at all: bytes that
#: are not UTF-8 text, or a request that ended early. To a client that is malformed JSON too.
UNPARSABLE_BODY = "There was an error parsing the body"
#: The order methods are listed in an `Allow` header; any other method follows, alphabetically.
_METHOD_ORDER = {m: i for i, m in enumerate(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"))}


class ProblemError(Exception):
    status: int = 400
    title: str = "Bad request"
    slug: str = "bad-request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        status: int | None = None,
        title: str | None = None,
        slug: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        if slug is not None:
            self.slug = slug
        self.detail = detail or self.title
        self.headers = headers
        self.extra = extra
        super().__init__(self.detail)


class NotFound(ProblemError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(ProblemError):
    status, title, slug = 409, "Conflict", "conflict"


class Unauthorized(ProblemError):
    status, title, slug = 401, "Unauthorized", "unauthorized"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(ProblemError):
    status, title, slug = 403, "Forbidden", "forbidden"


class UnprocessableEntity(ProblemError):
    status, title, slug = 422, "Unprocessable entity", "validation-error"


class TooManyRequests(ProblemError):
    status, title, slug = 429, "Too many requests", "rate-limited"

    def __init__(self, retry_after: int, detail: str | None = None, **kw: Any) -> None:
        kw["headers"] = {"Retry-After": str(max(1, int(retry_after)))}
        super().__init__(detail or "Rate limit exceeded", retry_after=max(1, int(retry_after)), **kw)


class ServiceUnavailable(ProblemError):
    status, title, slug = 503, "Service unavailable", "unavailable"


class ProblemHTTPException(StarletteHTTPException):
    """A problem raised where only an `HTTPException` passes through, such as from a request's
    `receive` while FastAPI reads the body (it turns anything else into a 400)."""

    def __init__(self, status: int, title: str, detail: str, slug: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(status_code=status, detail=detail, headers=headers)
        self.title = title
        self.slug = slug


def problem_body(status: int, title: str, detail: str, slug: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or _slug_for(status)),
        "title": title,
        "status": status,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


def problem_response(
    status: int, title: str, detail: str, slug: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, title, detail, slug, **extra),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def _slug_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "-")
    except ValueError:
        return "error"


def _field_of(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    return [{"field": _field_of(err.get("loc", ())), "message": str(err.get("msg", ""))} for err in exc.errors()]


async def _problem_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    return problem_response(exc.status, exc.title, exc.detail, exc.slug, exc.headers, **exc.extra)


async def _validation_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem_response(
            400, "Malformed JSON", "The request body is not valid JSON.", "malformed-json", errors=errors
        )
    return problem_response(
        422, "Validation failed", "The request did not pass validation.", "validation-error", errors=errors
    )


async def _http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc, ProblemHTTPException):
        return problem_response(exc.status_code, exc.title, exc.detail, exc.slug, dict(exc.headers or {}))
    status = exc.status_code
    title = _phrase(status)
    detail = exc.detail if isinstance(exc.detail, str) else title
    if status == 404 and detail == "Not Found":
        detail = f"No route {request.method} {request.url.path}"
    headers = dict(exc.headers or {}) or None
    if status == 400 and detail == UNPARSABLE_BODY:
        return problem_response(400, "Malformed JSON", "The request body is not valid JSON.", "malformed-json")
    if status == 405:
        detail = f"Method {request.method} is not allowed on {request.url.path}"
        allowed = allowed_methods(request)
        if allowed:
            headers = {**(headers or {}), "Allow": ", ".join(allowed)}
    return problem_response(status, title, detail, headers=headers)


def allowed_methods(request: Request) -> list[str] | None:
    """Every method some route serves at the request's path, for the `Allow` of a routing 405.

    Starlette answers 405 from the first route whose path matches, with that route's methods only;
    a path served by several routes (GET and POST of a collection) needs them all. Every route
    counts, documented or not, each matched as the router matches it (its full path, converters
    such as `{id:int}` included). Called on the 405 path only. None when some route does serve the
    request's method at this path: then the 405 is that handler's own answer, and its `Allow` stands.
    """
    path = get_route_path(request.scope)
    methods: set[str] = set()
    for route in iter_route_contexts(request.app.routes):
        route_methods = route.methods
        regex = getattr(route, "path_regex", None)
        if not route_methods or regex is None or not regex.match(path):
            continue  # mounts and websockets have no methods of their own to offer
        if request.method in route_methods:
            return None
        methods |= route_methods
    return sorted(methods, key=lambda m: (_METHOD_ORDER.get(m, len(_METHOD_ORDER)), m)) or None


async def _unhandled_handler(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "Internal server error", "An unexpected error occurred; it has been logged.")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


async def _database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot store (a NUL character, a number out of a column's range) is the
    client's input, not a server fault: 422. The database out of reach is 503, to retry shortly.
    The transaction has already been rolled back."""
    if is_unreachable(exc):
        log.warning("database unreachable on %s %s: %s: %s", request.method, request.url.path, type(exc).__name__, exc)
        return problem_response(503, "Database unavailable", "The database cannot be reached; try again shortly.",
                                "database-unavailable", headers={"Retry-After": "1"})  # fmt: skip
    if not is_data_error(exc):
        return await _unhandled_handler(request, exc)
    log.warning("value refused by the database on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem_response(
        422,
        "Value not storable",
        "A value in the request cannot be stored (for example a NUL character or a number out of range).",
        "validation-error",
        errors=[{"field": "body", "message": "value not storable"}],
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ProblemError, _problem_error_handler)
    app.add_exception_handler(sqlalchemy.exc.DBAPIError, _database_error_handler)
    app.add_exception_handler(asyncpg.exceptions.DataError, _database_error_handler)
    for unreachable in (*UNREACHABLE, asyncpg.InterfaceError):
        app.add_exception_handler(unreachable, _database_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_handler)
    app.add_exception_handler(StarletteHTTPException, _http_exception_handler)
    app.add_exception_handler(Exception, _unhandled_handler)


#: OpenAPI fragment for routes to document their problem answers.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        s: {
            "description": _phrase(s),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for s in statuses
    }
