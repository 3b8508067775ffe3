"""Subscribing a browser to web push and unsubscribing it."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from notifications.api.schemas import PushSubscriptionIn
from notifications.push import valid_subscription_keys
from notifications.repositories import subscriptions
from notifications.repositories.subscriptions import Subscription
from shopcommon.problems import Conflict, NotFound, UnprocessableEntity


def _invalid(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity("The subscription is not usable.", errors=[{"field": field, "message": message}])


def check_endpoint(endpoint: str, *, allow_http: bool) -> None:
    parts = urlsplit(endpoint)
    allowed = ("https", "http") if allow_http else ("https",)
    if parts.scheme not in allowed or not parts.hostname:
        raise _invalid("endpoint", f"must be an absolute {' or '.join(allowed)} URL")


async def subscribe(
    session: AsyncSession, *, user_id: int, body: PushSubscriptionIn, allow_http: bool, max_per_user: int
) -> tuple[Subscription, bool]:
    """The stored subscription and whether it is new."""
    check_endpoint(body.endpoint, allow_http=allow_http)
    if not valid_subscription_keys(body.keys.p256dh, body.keys.auth):
        raise _invalid("keys", "p256dh must be a P-256 public key and auth a 16-byte secret, both base64url")
    existing = await subscriptions.find_by_endpoint(session, body.endpoint)
    if existing is None and await subscriptions.count_for_user(session, user_id) >= max_per_user:
        raise Conflict(f"At most {max_per_user} push subscriptions per user; delete one first")
    stored = await subscriptions.upsert(
        session, user_id=user_id, endpoint=body.endpoint, p256dh=body.keys.p256dh, auth=body.keys.auth
    )
    return stored, existing is None


async def unsubscribe(session: AsyncSession, *, user_id: int, endpoint: str) -> None:
    if not await subscriptions.delete_own(session, user_id=user_id, endpoint=endpoint):
        raise NotFound("No such push subscription")
