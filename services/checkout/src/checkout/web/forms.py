"""What every shop page shares: who is signed in (the web session's HttpOnly cookie), the form
bodies, the CSRF check of every state-changing form, and rendering a page with its form token."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute

from checkout.web import csrf
from checkout.web.lifespan import get_web
from checkout.web.pages import render_page
from shopcommon.auth import ACCESS_COOKIE, Principal, Role
from shopcommon.body_limit import body_limit
from shopcommon.problems import ProblemError

log = logging.getLogger(__name__)
FORM = "application/x-www-form-urlencoded"
#: The pages' forms hold a few short fields.
MAX_FORM_BYTES = 8192
#: The body limit of every route that takes one of the pages' forms.
LIMITED = body_limit(MAX_FORM_BYTES)
#: The catalogue's forms carry a description of up to 5,000 characters, URL-encoded up to 9 bytes
#: each (`%D0%B0` for a Cyrillic letter): 5,000 Cyrillic ones were refused (413) under 8 KiB.
MAX_TEXT_FORM_BYTES = 64 * 1024
TEXT_LIMITED = body_limit(MAX_TEXT_FORM_BYTES)
#: A form's fields at the most: a worker's form has one a product category, and a shop may have many.
MAX_FORM_FIELDS = 512
#: Where each role starts after signing in.
HOME = {Role.CUSTOMER: "/shop", Role.WORKER: "/tasks", Role.MANAGER: "/manage"}

FORBIDDEN = (
    "We could not verify this request. The form had expired or did not come from this site, so nothing "
    "was changed. Go back, reload the page and try again."
)


async def signed_in(request: Request) -> Principal | None:
    """The person of the web session's cookie; None without one, when it has expired or is not ours,
    or when the account no longer stands as the token says (deactivated, another role)."""
    token = request.cookies.get(ACCESS_COOKIE)
    if not token:
        return None
    try:
        claims = await request.app.state.token_verifier.verify(token)
        role = Role(claims["role"])
    except (ProblemError, KeyError, ValueError):
        return None
    if role == Role.SERVICE:
        return None
    try:
        user_id = int(claims["sub"])
    except (KeyError, TypeError, ValueError):
        return None
    if await get_web(request).standings.role(user_id) != role:  # deactivated, or in another role now
        return None
    return Principal(subject=str(claims["sub"]), role=role, claims=claims, token=token)


def to_login(request: Request) -> RedirectResponse:
    """Back to the landing page to sign in, then on to where the person was going: the page asked
    for, or for a form sent once the session had ended, the page the form was on (its `Referer`,
    which the pages send within the site); never the form's own address, which answers only POST."""
    if request.method in ("GET", "HEAD"):
        target: str | None = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    else:
        target = _page_sent_from(request)
    return RedirectResponse(f"/?next={quote(target, safe='/')}" if target else "/", status_code=303)


def _page_sent_from(request: Request) -> str | None:
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.scheme not in ("http", "https") or referer.netloc != request.url.netloc:
        return None
    return safe_next(referer.path + (f"?{referer.query}" if referer.query else ""))


def safe_next(target: str | None) -> str | None:
    """A path on this site only (`/orders`), never another site (`//evil`, `https://...`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    return target


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form's fields (the last value of each); empty for any other body."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != FORM:
        return {}
    raw = await request.body()  # bounded: the route's body limit (`LIMITED`, `TEXT_LIMITED`) refuses more
    try:
        fields = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        return {}
    return {name: values[-1] for name, values in fields.items()}


def csrf_ok(request: Request, form: dict[str, str]) -> bool:
    return csrf.is_valid(request, form.get(csrf.FIELD), secure=get_web(request).cookie_secure)


async def page(
    request: Request, template: str, status_code: int = 200, *, user: Principal | None, **context: Any
) -> HTMLResponse:
    """A whole page, with the form token in its forms and in the cookie it is checked against."""
    web = get_web(request)
    token = csrf.form_token(request, secure=web.cookie_secure)
    context.setdefault("error", None)
    context.setdefault("notice", None)
    response = render_page(
        web.templates, template, status_code, user=user, csrf_token=token, path=request.url.path, **context
    )
    csrf.set_cookie(response, token, secure=web.cookie_secure)
    return response


async def refused(request: Request, user: Principal | None) -> HTMLResponse:
    """A form without the right token: 403, in words, nothing changed."""
    return await page(request, "notice.html.j2", 403, user=user, title="Not changed",
                      detail=FORBIDDEN)  # fmt: skip


class Answered(Exception):
    """The page's answer is due before its own work (sign in first; a form refused, in words):
    raised by the helpers that check who asks and what they sent, returned by `PageRoute`."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class PageRoute(APIRoute):
    """A shop page's route: an `Answered` raised on the way is its answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handle(request)
            except Answered as exc:
                return exc.response

        return answer


def page_router() -> APIRouter:
    """A router of shop pages: not in the API's document, and an `Answered` is the answer."""
    return APIRouter(include_in_schema=False, route_class=PageRoute)


async def person(request: Request) -> Principal:
    """The signed-in person; else `Answered`: to sign in first, then on to this page."""
    user = await signed_in(request)
    if user is None:
        raise Answered(to_login(request))
    return user


async def checked_form(request: Request) -> dict[str, str]:
    """A form's fields; `Answered` (403, in words) when it lacks the right token."""
    form = await read_form(request)
    if not csrf_ok(request, form):
        raise Answered(await refused(request, await signed_in(request)))
    return form


async def person_form(request: Request) -> tuple[Principal, dict[str, str]]:
    """A signed-in person's form: who sent it and its fields (else `Answered`: 403 in words for a
    form without the right token; to sign in first when nobody is signed in)."""
    form = await checked_form(request)
    return await person(request), form


def problem_words(exc: ProblemError) -> str:
    """A refusal of a use case as a sentence for the page (never the JSON problem)."""
    detail = (exc.detail or exc.title or "Something went wrong").strip()
    return detail if detail.endswith((".", "!", "?")) else detail + "."


_AMOUNT = re.compile(r"(\d{1,10})(?:[.,](\d{1,2}))?")


class BadInput(ValueError):
    """A form value the page cannot take; the message says so in words."""


def parse_amount(text: str | None, label: str) -> int | None:
    """`12.50` (or `12,50`, `12`) in the smallest currency unit (1250); None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    match = _AMOUNT.fullmatch(text)
    if match is None:
        raise BadInput(f"{label} must be an amount like 12.50.")
    value = int(match.group(1)) * 100 + int((match.group(2) or "").ljust(2, "0"))
    if value > 4_294_967_295:
        raise BadInput(f"{label} is too large.")
    return value


def whole_number(text: str) -> int | None:
    """`text` as a whole number when it is one in ASCII digits (19 at most), else None. Not
    `str.isdigit`: it takes `²` and `①`, which `int` then refuses."""
    return int(text) if text.isascii() and text.isdecimal() and len(text) <= 19 else None


def parse_count(text: str | None, label: str, *, high: int = 65_535) -> int | None:
    """A whole number from 1 to `high`; None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    value = whole_number(text)
    if value is None or not 1 <= value <= high:
        raise BadInput(f"{label} must be a whole number from 1 to {high}.")
    return value
