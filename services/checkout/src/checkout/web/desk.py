"""What the manager's desk pages share: who may open them, a manager's form (its CSRF token
checked first), redirect-after-post with a notice in words, and telling an HTMX swap of one
block from a whole page."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from checkout.web import csrf
from checkout.web.forms import Answered, checked_form, page, signed_in, to_login
from checkout.web.lifespan import get_web
from checkout.web.pages import render_fragment, site_headers
from shopcommon.auth import Principal, Role

NOT_MANAGER = "This page is for the managers' accounts."
NOTICE_MAX = 200


async def manager(request: Request) -> Principal:
    """The signed-in manager; else `Answered`: sign in first, or 403 in words."""
    user = await signed_in(request)
    if user is None:
        raise Answered(sign_in_first(request))
    if user.role != Role.MANAGER:
        raise Answered(await page(request, "notice.html.j2", 403, user=user, title="Manage the shop",
                                  detail=NOT_MANAGER, back="/"))  # fmt: skip
    return user


async def manager_form(request: Request) -> tuple[Principal, dict[str, str]]:
    """A manager's form: who sent it and its fields (else `Answered`: no token, signed out, not a
    manager)."""
    form = await checked_form(request)
    return await manager(request), form


def sign_in_first(request: Request) -> Response:
    """To the landing page; an HTMX swap is told to go there as a whole page, not to swap it in."""
    answer = to_login(request)
    if wants_fragment(request):
        return Response(status_code=204, headers={"HX-Redirect": answer.headers["location"]})
    return answer


def back(request: Request, target: str, notice: str) -> RedirectResponse:
    """After a change: back to the page (`target` may carry a query), which says what was done.
    The notice travels in the address, signed with the browser's own form token, so a link made
    elsewhere cannot put words of its own in the page's banner."""
    notice = notice[:NOTICE_MAX]
    joiner = "&" if "?" in target else "?"
    query = urlencode({"done": notice, "sig": _signature(request, notice)})
    return RedirectResponse(f"{target}{joiner}{query}", status_code=303)


def notice(request: Request) -> str | None:
    """The banner's words, when this browser's change put them in the address."""
    text = request.query_params.get("done", "")[:NOTICE_MAX]
    sig = _signature(request, text)
    if not text or not sig or not hmac.compare_digest(request.query_params.get("sig", "").encode(), sig.encode()):
        return None
    return text


def _signature(request: Request, text: str) -> str:
    key = request.cookies.get(csrf.cookie_name(get_web(request).cookie_secure), "")
    return hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()[:32] if key else ""


def wants_fragment(request: Request) -> bool:
    """An HTMX request for one block (not htmx restoring a whole page from history)."""
    headers = request.headers
    return headers.get("hx-request") == "true" and headers.get("hx-history-restore-request") != "true"


def fragment(request: Request, template: str, block: str, status: int = 200, **context: Any) -> HTMLResponse:
    """One block of a page's template alone (what HTMX swaps in), with the page's form token."""
    web = get_web(request)
    token = csrf.form_token(request, secure=web.cookie_secure)
    context.setdefault("error", None)
    context.setdefault("notice", None)
    html = render_fragment(web.templates, template, block, csrf_token=token, path=request.url.path, alone=True,
                           **context)  # fmt: skip
    response = HTMLResponse(html, status_code=status, headers=site_headers())
    csrf.set_cookie(response, token, secure=web.cookie_secure)
    return response


async def page_or_block(
    request: Request, template: str, block: str, status: int = 200, *, user: Principal | None, **context: Any
) -> HTMLResponse:
    """The whole page; for an HTMX swap, only its `block` (the same markup)."""
    if wants_fragment(request):
        return fragment(request, template, block, status, user=user, **context)
    return await page(request, template, status, user=user, **context)
