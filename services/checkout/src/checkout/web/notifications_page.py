"""`/notifications`: the signed-in person's notifications (the notifications service's
`GET /api/v1/notifications`, newest first, cursor pages) and web push for this browser.

The page cannot hand the HttpOnly cookie's token to the notifications service, so checkout calls
it on the person's behalf, same-origin, as `/live` does for the stream: the page's script
(`static/notifications.js`) registers the service worker (`/sw.js`, scope `/`), subscribes with the
VAPID key the page carries, and posts the subscription to `/notifications/push`, which checkout
relays to `POST /api/v1/push/subscriptions`; `Turn off notifications` posts to
`/notifications/push/off`, relayed as `DELETE`. Those two calls carry the form token in an
`X-CSRF-Token` header and are answered in words (text/plain) that the script shows on the page.
"Older notifications" swaps in the next page as the `notification_list` block alone (HTMX)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, unquote

import orjson
from fastapi import Request
from fastapi.responses import PlainTextResponse, Response

from checkout.shopping.deps import run_together
from checkout.web import backends, csrf, static
from checkout.web.backends import Refused, Unavailable
from checkout.web.desk import page_or_block, sign_in_first
from checkout.web.forms import Answered, page_router, signed_in
from checkout.web.lifespan import get_web
from shopcommon.auth import Principal
from shopcommon.body_limit import body_limit

log = logging.getLogger(__name__)
router = page_router()
TEMPLATE = "notifications.html.j2"
PAGE_SIZE = 20
#: A browser's subscription is an endpoint URL (at most 2 KiB) and two short keys.
MAX_SUBSCRIPTION_BYTES = 4096
HEADER = "x-csrf-token"
CHANNEL_WORDS = {"email": "E-mail", "push": "Browser notification"}
STATUS_WORDS = {"pending": "being sent", "sent": "sent", "failed": "not delivered"}
ON = "Notifications are on for this browser."
OFF = "Notifications are off for this browser."
FORBIDDEN = "We could not verify this request, so nothing was changed. Reload the page and try again."
#: The endpoint this browser subscribed with, so logging out can end that subscription: left behind,
#: it would show the account's notifications to whoever signs in next on this browser.
PUSH_COOKIE = "push_endpoint"
PUSH_COOKIE_MAX_AGE = 365 * 86_400


def _view(item: dict[str, Any]) -> dict[str, Any]:
    """A notification as the page says it."""
    link = f"/orders/{item['order_id']}" if item.get("order_id") else None
    return {**item, "link": link, "channel_words": CHANNEL_WORDS.get(item["channel"], item["channel"]),
            "status_words": STATUS_WORDS.get(item["status"], item["status"])}  # fmt: skip


async def _vapid_key(request: Request) -> str | None:
    try:
        found = await backends.notifications(request).call("GET", "/api/v1/push/vapid-public-key", token=None)
    except (Refused, Unavailable):
        return None
    key = found.get("public_key") if isinstance(found, dict) else None
    return key if isinstance(key, str) else None


async def _listing(request: Request, user: Principal, cursor: str | None) -> dict[str, Any]:
    params = {"limit": PAGE_SIZE, **({"cursor": cursor[:500]} if cursor else {})}
    found: dict[str, Any] = await backends.notifications(request).call(
        "GET", "/api/v1/notifications", token=user.token, params=params
    )
    return found


@router.get("/notifications")
async def notifications_page(request: Request) -> Response:
    user = await signed_in(request)
    if user is None:
        return sign_in_first(request)
    cursor = request.query_params.get("cursor") or None
    context: dict[str, Any] = {"items": [], "next_cursor": None, "cursor": cursor, "vapid_key": None}
    status, error = 200, None
    try:
        listing, context["vapid_key"] = await run_together(_listing(request, user, cursor), _vapid_key(request))
        context.update(items=[_view(i) for i in listing["items"]], next_cursor=listing.get("next_cursor"))
    except Refused as exc:
        if exc.status == 401:  # the session's token is no longer good there: sign in again
            return sign_in_first(request)
        status, error = exc.status, f"Your notifications could not be shown: {exc.words}"
    except Unavailable:
        status, error = 503, "We could not reach the notifications service. Please try again in a minute."
    return await page_or_block(request, TEMPLATE, "notification_list", status, user=user, title="Notifications",
                               error=error, **context)  # fmt: skip


def _said(status: int, words: str) -> PlainTextResponse:
    return PlainTextResponse(words, status_code=status, headers={"Cache-Control": "no-store"})


async def _subscription_call(request: Request) -> tuple[Principal, dict[str, Any]]:
    """The person and the JSON body of a push call; else `Answered`, in words."""
    user = await signed_in(request)
    if user is None:
        raise Answered(_said(401, "Your session has ended. Sign in again, then turn notifications on."))
    if not csrf.is_valid(request, request.headers.get(HEADER), secure=get_web(request).cookie_secure):
        raise Answered(_said(403, FORBIDDEN))
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("endpoint"), str):
        raise Answered(_said(422, "This browser sent a subscription we cannot read. Nothing was changed."))
    return user, body


@router.post("/notifications/push", openapi_extra=body_limit(MAX_SUBSCRIPTION_BYTES))
async def subscribe(request: Request) -> Response:
    """This browser's push subscription (`PushSubscription.toJSON()`), kept by the notifications service."""
    user, body = await _subscription_call(request)
    wanted = {"endpoint": body["endpoint"], "expirationTime": body.get("expirationTime"), "keys": body.get("keys")}
    try:
        await backends.notifications(request).call("POST", "/api/v1/push/subscriptions", token=user.token, json=wanted)
    except Refused as exc:
        log.info("push subscription refused for user %s: %s", user.user_id, exc.words)
        return _said(exc.status, f"Notifications could not be turned on: {exc.words}")
    except Unavailable as exc:
        return _said(503, exc.words)
    answer = _said(200, ON)
    secure = get_web(request).cookie_secure
    answer.set_cookie(PUSH_COOKIE, quote(body["endpoint"], safe=""), max_age=PUSH_COOKIE_MAX_AGE, path="/",
                      httponly=True, samesite="lax", secure=secure)  # fmt: skip
    return answer


@router.post("/notifications/push/off", openapi_extra=body_limit(MAX_SUBSCRIPTION_BYTES))
async def unsubscribe(request: Request) -> Response:
    """Forget this browser's subscription (one never kept, or already gone, is off all the same)."""
    user, body = await _subscription_call(request)
    notifications = backends.notifications(request)
    try:
        await notifications.call("DELETE", "/api/v1/push/subscriptions", token=user.token,
                                 json={"endpoint": body["endpoint"]})  # fmt: skip
    except Refused as exc:
        if exc.status != 404:
            return _said(exc.status, f"Notifications could not be turned off: {exc.words}")
    except Unavailable as exc:
        return _said(503, exc.words)
    answer = _said(200, OFF)
    forget_push_cookie(request, answer)
    return answer


def pushed_to(request: Request) -> str | None:
    """The endpoint this browser subscribed with, if it did."""
    endpoint = unquote(request.cookies.get(PUSH_COOKIE, ""))
    return endpoint if endpoint.startswith("https://") else None


def forget_push_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(PUSH_COOKIE, path="/", httponly=True, samesite="lax", secure=get_web(request).cookie_secure)


async def end_push(request: Request, user: Principal, endpoint: str) -> None:
    """Logging out: the notifications service forgets this browser's subscription (best effort; a
    failure is logged, the person is logged out all the same)."""
    try:
        await backends.notifications(request).call("DELETE", "/api/v1/push/subscriptions", token=user.token,
                                                   json={"endpoint": endpoint})  # fmt: skip
    except Refused as exc:
        if exc.status != 404:
            log.warning("push subscription of user %s not ended at logout: %s", user.user_id, exc.words)
    except Unavailable as exc:
        log.warning("push subscription of user %s not ended at logout: %s", user.user_id, exc.words)


@router.get("/sw.js")
async def service_worker() -> Response:
    """The service worker, at the root so that its scope is the whole site (`/`)."""
    return Response(
        static.file_body("sw.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Service-Worker-Allowed": "/", "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )
