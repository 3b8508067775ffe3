"""A person's browser asking for a page that is not there gets a page saying so, in the shop's
words and layout, rather than the API's problem JSON: an unknown address (404), a malformed one
(`/orders/abc`: no such page either), or the address of a form's button opened as a page (405).
API clients, and anything that does not ask for HTML, keep their `application/problem+json`."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from checkout.web.forms import page, signed_in

#: Addresses that are the API's or files, never pages.
NOT_PAGES = ("/api/", "/static/", "/.well-known/", "/docs", "/openapi", "/redoc")
NOT_FOUND = "We could not find that page. It may have moved, or the address may be mistyped."
A_BUTTON = "That address is a button's, not a page's: open the page it is on and press the button there."


def wants_page(request: Request) -> bool:
    return (
        request.method in ("GET", "HEAD")
        and not request.url.path.startswith(NOT_PAGES)
        and "text/html" in request.headers.get("accept", "")
    )


async def _missing(request: Request, status: int) -> Response:
    return await page(request, "notice.html.j2", status, user=await signed_in(request), title="Not found",
                      detail=A_BUTTON if status == 405 else NOT_FOUND, back="/")  # fmt: skip


async def _answer(answer: Response | Awaitable[Response]) -> Response:
    return await answer if inspect.isawaitable(answer) else answer


def install_missing_pages(app: FastAPI) -> None:
    """Wraps the problem handlers `create_service_app` installed: a page for a browser, else theirs."""
    as_problem = app.exception_handlers[StarletteHTTPException]
    invalid_as_problem = app.exception_handlers[RequestValidationError]

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (404, 405) and wants_page(request):
            return await _missing(request, exc.status_code)
        return await _answer(as_problem(request, exc))

    async def invalid(request: Request, exc: Exception) -> Response:
        if wants_page(request):
            return await _missing(request, 404)
        return await _answer(invalid_as_problem(request, exc))

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
