"""HTTP details of identity: bodies that come as JSON or as a form, the caller's address, and
the web session's cookies."""

from __future__ import annotations

import json
import secrets
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError

from checkout.identity.lifespan import Identity
from shopcommon.auth import ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER
from shopcommon.body_limit import body_limit
from shopcommon.problems import Forbidden, ProblemError

T = TypeVar("T")
REFRESH_COOKIE = "refresh_token"
#: The refresh cookie goes to the whole site (SameSite=Strict, HttpOnly): the pages renew a
#: session's access token with it (`checkout.web.renewal`). It went only to `/api/v1/auth` once;
#: logging out clears that path too.
REFRESH_COOKIE_PATH = "/"
LEGACY_REFRESH_COOKIE_PATH = "/api/v1/auth"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
MAX_BODY = 16 * 1024


class UnsupportedMediaType(ProblemError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


async def json_or_form(request: Request, adapter: TypeAdapter[T], *, default_grant: bool = False) -> T:
    """Parse the body as JSON or as an urlencoded form (OAuth2 clients send forms) and validate it."""
    media_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    raw = await request.body()  # at most MAX_BODY: the body-limit middleware refuses more (body_doc)
    data: Any
    if media_type == FORM:
        data = dict(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    elif media_type == "application/json" or media_type.endswith("+json"):
        try:
            data = json.loads(raw) if raw else None
        except (ValueError, RecursionError) as exc:  # RecursionError: nested deeper than Python recurses
            raise ProblemError(
                "The request body is not valid JSON.", title="Malformed JSON", slug="malformed-json"
            ) from exc
    else:
        raise UnsupportedMediaType(f"Send JSON or {FORM}, not {media_type}")
    if default_grant and isinstance(data, dict):
        data.setdefault("grant_type", "password")
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from exc


def body_doc(*models: type[BaseModel], documented: str = JSON) -> dict[str, Any]:
    """`openapi_extra` for a body that `json_or_form` reads (one model, or any of several).

    Both content types are accepted, but the document names one (`documented`) and says the other
    in words: code generators (openapi-python-client) cannot build an operation whose body is a
    union over two content types. The token endpoint documents the form, as OAuth2 sends it."""
    schemas = [m.model_json_schema() for m in models]
    schema = schemas[0] if len(schemas) == 1 else {"oneOf": schemas}
    other = FORM if documented == JSON else JSON
    body = {
        "required": True,
        "description": f"Also accepted as `{other}`, with the same fields.",
        "content": {documented: {"schema": schema}},
    }
    return {"requestBody": body, **body_limit(MAX_BODY)}


def refuse_cross_site(request: Request) -> None:
    """Login CSRF: a form on another site could sign the browser into the attacker's account (and
    the victim would then type their data into it). Browsers say where a request comes from; callers
    that are not browsers send neither header and pass."""
    if request.headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
        raise Forbidden("Signing in from another site is refused", slug="csrf")
    origin = request.headers.get("origin")
    if origin is not None and _netloc(origin) != request.headers.get("host", "").lower():
        raise Forbidden("Signing in from another origin is refused", slug="csrf")


def _netloc(url: str) -> str | None:
    try:
        return urlsplit(url.strip()).netloc.lower()
    except ValueError:  # `http://[`: no origin a browser sends
        return None


def client_ip(request: Request) -> str:
    """The caller's address as the rate limits count it (see `clientaddr`): the one place it is read."""
    identity: Identity = request.app.state.identity
    return identity.proxies.client_address(request)


def set_session_cookies(response: Response, identity: Identity, pair: dict[str, Any]) -> str:
    """Put the pair in HttpOnly cookies and return the CSRF token the page echoes in `X-CSRF-Token`."""
    settings, secure = identity.settings, identity.cookie_secure
    csrf = secrets.token_urlsafe(32)
    set_access_cookie(response, identity, pair["access_token"])
    # Lax, as the access cookie: a link followed from elsewhere (an order's e-mail, say) renews the
    # session and opens the page signed in (Strict left the browser without it on such a link, and
    # the customer was asked to sign in again). Nothing a cross-site request can send uses it to
    # change anything: browsers leave Lax cookies off cross-site POSTs, every form is CSRF-checked,
    # and the API's refresh asks for `X-CSRF-Token`.
    response.set_cookie(
        REFRESH_COOKIE, pair["refresh_token"], max_age=settings.refresh_token_ttl, httponly=True,
        samesite="lax", secure=secure, path=REFRESH_COOKIE_PATH,
    )  # fmt: skip
    # Readable by the page's script on purpose: a cross-site page cannot read it, so cannot echo it.
    response.set_cookie(
        CSRF_COOKIE, csrf, max_age=settings.refresh_token_ttl, httponly=False, samesite="lax", secure=secure, path="/"
    )
    return csrf


def set_access_cookie(response: Response, identity: Identity, token: str) -> None:
    response.set_cookie(
        ACCESS_COOKIE, token, max_age=identity.settings.access_token_ttl, httponly=True,
        samesite="lax", secure=identity.cookie_secure, path="/",
    )  # fmt: skip


def clear_session_cookies(response: Response, identity: Identity) -> None:
    secure = identity.cookie_secure
    response.delete_cookie(ACCESS_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    for path in (REFRESH_COOKIE_PATH, LEGACY_REFRESH_COOKIE_PATH):
        response.delete_cookie(REFRESH_COOKIE, path=path, secure=secure, httponly=True, samesite="lax")
    response.delete_cookie(CSRF_COOKIE, path="/", secure=secure, samesite="lax")


def refresh_cookie(request: Request) -> str | None:
    """The web session's refresh token, after the double-submit CSRF check (a form on another
    site can make the browser send the cookie, but cannot read the CSRF cookie to echo it)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        return None
    sent = request.headers.get(CSRF_HEADER)
    if not sent or not secrets.compare_digest(sent.encode(), request.cookies.get(CSRF_COOKIE, "").encode()):
        raise Forbidden("Missing or wrong CSRF token", slug="csrf")
    return token
