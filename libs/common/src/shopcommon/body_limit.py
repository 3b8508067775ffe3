"""Request bodies over a limit are refused with 413 before they are read whole.

Every service installs `BodyLimitMiddleware` (through `create_service_app`) with its default limit
(`<PREFIX>_MAX_BODY_BYTES`, 64 KiB). A route that needs another limit says so where it is declared:

    @router.post("/imports", **MANAGERS.doc(422, extra=body_limit(1024 * 1024)))

The limit then also stands in the route's OpenAPI operation (`x-max-body-bytes`), where the
document's 413 answer names it.

How a body is refused:
- a `Content-Length` over every limit declared in the process is answered at once, before
  routing, without calling the application;
- otherwise the route's limit is known once the request has been routed, and the first time the
  application asks for the body (FastAPI's parsing, `shopcommon.reading`, a form) a declared
  length over it is refused before a byte is read; a body without a length (chunked) is counted
  as it arrives and refused as soon as it passes the limit.
Either way the answer is a problem with `Connection: close`, so the server drops the connection
instead of reading the rest of an oversized body to keep it alive.

Pure ASGI and cheap: a request without a body, or with a declared length within the smallest
limit (the server itself delivers no more than the declared length), passes through untouched;
any other gets one counting `receive`.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shopcommon.problems import ProblemHTTPException, problem_response

DEFAULT_MAX_BODY_BYTES: Final = 64 * 1024
#: The operation key (in `openapi_extra`) carrying a route's own limit.
LIMIT_KEY: Final = "x-max-body-bytes"

_CONTENT_LENGTH: Final = b"content-length"
_TRANSFER_ENCODING: Final = b"transfer-encoding"
_BODILESS_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_CLOSE: Final = {"Connection": "close"}
_TITLE: Final = "Content too large"
_SLUG: Final = "too-large"


class _DeclaredLimits:
    """The smallest and largest route limits declared in this process: what the middleware can
    decide before it knows the route."""

    lowest: int | None = None
    highest: int | None = None

    @classmethod
    def add(cls, limit: int) -> None:
        cls.lowest = limit if cls.lowest is None else min(cls.lowest, limit)
        cls.highest = limit if cls.highest is None else max(cls.highest, limit)


def body_limit(max_bytes: int) -> dict[str, Any]:
    """`openapi_extra` for a route whose body may be larger (or must be smaller) than the default."""
    if max_bytes < 0:
        raise ValueError("a body limit is a number of bytes, 0 or more")
    _DeclaredLimits.add(max_bytes)
    return {LIMIT_KEY: max_bytes}


def route_limit(route: Any, default: int) -> int:
    extra = getattr(route, "openapi_extra", None)
    if extra:
        limit = extra.get(LIMIT_KEY)
        if type(limit) is int:
            return limit
    return default


class BodyTooLarge(ProblemHTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, _TITLE, _detail(limit), _SLUG, dict(_CLOSE))


def _detail(limit: int) -> str:
    return f"The request body is larger than the {limit} bytes this operation accepts."


def _ceiling_detail(limit: int) -> str:
    return f"The request body is larger than any operation of this service accepts ({limit} bytes at most)."


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.default = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: bytes | None = None
        chunked = False
        for key, value in scope["headers"]:
            if key == _CONTENT_LENGTH:
                length = value
            elif key == _TRANSFER_ENCODING:
                chunked = True
        if length is None and not chunked and scope["method"] in _BODILESS_METHODS:
            await self.app(scope, receive, send)
            return

        declared: int | None = None
        if length is not None and not chunked:
            try:
                declared = int(length)
            except ValueError:  # the server refuses such a request; count whatever comes
                declared = None
        if declared is not None:
            lowest, highest = _DeclaredLimits.lowest, _DeclaredLimits.highest
            if declared <= self.default and (lowest is None or declared <= lowest):
                await self.app(scope, receive, send)
                return
            if declared > self.default and (highest is None or declared > highest):
                if highest is None or highest <= self.default:
                    detail = _detail(self.default)  # every route's limit is the default or lower
                else:
                    detail = _ceiling_detail(highest)
                response = problem_response(413, _TITLE, detail, _SLUG, dict(_CLOSE))
                await response(scope, receive, send)
                return

        received = 0
        limit = -1

        async def limited_receive() -> Message:
            nonlocal received, limit
            if limit < 0:  # routed by now: the route's limit applies
                limit = route_limit(scope.get("route"), self.default)
                if declared is not None and declared > limit:
                    raise BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)
