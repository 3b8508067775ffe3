"""CSRF protection of the pages' forms: the double-submit pattern.

The page that shows a form puts a random token in an HttpOnly, SameSite=Lax cookie and the same
token in a hidden field; a POST is taken only when the field equals the cookie (compared in
constant time). A page on another site can make the browser send the form, but it cannot read the
token to put in the field, and with SameSite=Lax the browser does not even send the cookie along.
Outside dev the cookie is `Secure` and carries the `__Host-` prefix, so no subdomain or plain-http
page can plant a cookie of its own choosing.
"""

from __future__ import annotations

import re
import secrets

from fastapi import Request, Response

FIELD = "csrf_token"
#: A day: a page left open overnight still submits; a stale one gets the 403 page, which says what to do.
MAX_AGE = 86_400
_WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{43}")


def cookie_name(secure: bool) -> str:
    # `__Host-` cookies must be Secure, path=/ and carry no Domain; browsers refuse them over http.
    return "__Host-form_csrf" if secure else "form_csrf"


def form_token(request: Request, *, secure: bool) -> str:
    """The token for a form being shown: the browser's current one when it has one (several open
    pages keep working), else a new one."""
    current = request.cookies.get(cookie_name(secure), "")
    return current if _WELL_FORMED.fullmatch(current) else secrets.token_urlsafe(32)


def set_cookie(response: Response, token: str, *, secure: bool) -> None:
    response.set_cookie(
        cookie_name(secure), token, max_age=MAX_AGE, path="/", httponly=True, samesite="lax", secure=secure
    )


def is_valid(request: Request, sent: str | None, *, secure: bool) -> bool:
    """Whether the form's token equals the cookie's (both present)."""
    expected = request.cookies.get(cookie_name(secure), "")
    if not sent or not expected:
        return False
    return secrets.compare_digest(sent.encode(), expected.encode())
