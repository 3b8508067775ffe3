"""Subscribing a browser to web push and unsubscribing it."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.push import on_p256, valid_subscription_keys
from notifications.push_guard import (
    NOT_PUBLIC,
    DestinationGuard,
    EndpointRefused,
    UnresolvableHost,
    parse_push_endpoint,
)
from notifications.repositories import subscriptions
from notifications.repositories.subscriptions import Subscription
from shopcommon.problems import Conflict, NotFound, ServiceUnavailable, UnprocessableEntity

log = logging.getLogger(__name__)


class PushEndpointRefused(UnprocessableEntity):
    """An endpoint of the documented shape that this service will not push to: where its host
    resolves, or a part of the URL no schema can rule out (user info, an IPv6 literal, a host
    that is not a host name, ...). Its own type, so a client (and the fuzzer) can tell it from a
    request of the wrong shape."""

    title, slug = "Push endpoint refused", "push-endpoint-refused"


class PushKeyRefused(UnprocessableEntity):
    """A `p256dh` of the documented shape that is not a point of the P-256 curve: nothing could be
    encrypted for it (no schema can say "on the curve"). Its own type, as `PushEndpointRefused`."""

    title, slug = "Push key refused", "push-key-refused"


def _invalid(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity("The subscription is not usable.", errors=[{"field": field, "message": message}])


def _refused(message: str) -> PushEndpointRefused:
    return PushEndpointRefused(
        "This service does not push to that endpoint.", errors=[{"field": "endpoint", "message": message}]
    )


async def check_endpoint(endpoint: str, *, guard: DestinationGuard, resolve_timeout: float) -> None:
    """An https URL whose host resolves, now, to public addresses only (each send checks again)."""
    try:
        parsed = parse_push_endpoint(endpoint)
        async with asyncio.timeout(resolve_timeout):
            await guard.check(parsed)
    except UnresolvableHost as exc:
        # Said as a refused address is: which internal names exist is not for the client to learn.
        log.info("push endpoint host does not resolve: %s", exc)
        raise _refused(NOT_PUBLIC) from exc
    except EndpointRefused as exc:
        raise _refused(str(exc)) from exc
    except TimeoutError as exc:
        raise ServiceUnavailable(
            "Could not resolve the endpoint's host in time; try again", headers={"Retry-After": "5"}
        ) from exc


async def subscribe(
    session: AsyncSession,
    *,
    user_id: int,
    endpoint: str,
    p256dh: str,
    auth: str,
    guard: DestinationGuard,
    resolve_timeout: float,
    max_per_user: int,
) -> tuple[Subscription, bool]:
    """The stored subscription and whether it is new."""
    if not valid_subscription_keys(p256dh, auth):
        raise _invalid("keys", "p256dh must be a P-256 public key and auth a 16-byte secret, both base64url")
    if not on_p256(p256dh):
        raise PushKeyRefused(
            "Nothing can be encrypted for this key.",
            errors=[{"field": "keys.p256dh", "message": "not a point of the P-256 curve"}],
        )
    await check_endpoint(endpoint, guard=guard, resolve_timeout=resolve_timeout)
    existing = await subscriptions.find_by_endpoint(session, endpoint)
    if existing is None and await subscriptions.count_for_user(session, user_id) >= max_per_user:
        raise Conflict(f"At most {max_per_user} push subscriptions per user; delete one first")
    stored = await subscriptions.upsert(session, user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    return stored, existing is None


async def unsubscribe(session: AsyncSession, *, user_id: int, endpoint: str) -> None:
    if not await subscriptions.delete_own(session, user_id=user_id, endpoint=endpoint):
        raise NotFound("No such push subscription")
