"""Customers' web-push subscriptions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from notifications.models import push_subscriptions as subs


@dataclass(frozen=True)
class Subscription:
    id: int
    user_id: int
    endpoint: str
    p256dh: str
    auth: str
    created_at: datetime


async def count_for_user(session: AsyncSession, user_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(subs.c.user_id == user_id)) or 0)


async def find_by_endpoint(session: AsyncSession, endpoint: str) -> Subscription | None:
    row = (await session.execute(select(subs).where(subs.c.endpoint == endpoint))).first()
    return Subscription(**row._mapping) if row else None


async def upsert(session: AsyncSession, *, user_id: int, endpoint: str, p256dh: str, auth: str) -> Subscription:
    """The browser's endpoint is unique; subscribing it again (even as another user) takes it over."""
    stmt = insert(subs).values(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth)
    upsert_stmt = stmt.on_conflict_do_update(
        index_elements=["endpoint"],
        set_={"user_id": stmt.excluded.user_id, "p256dh": stmt.excluded.p256dh, "auth": stmt.excluded.auth},
    ).returning(*subs.c)
    row = (await session.execute(upsert_stmt)).one()
    return Subscription(**row._mapping)


async def delete_own(session: AsyncSession, *, user_id: int, endpoint: str) -> bool:
    result = await session.execute(
        delete(subs).where(subs.c.endpoint == endpoint, subs.c.user_id == user_id).returning(subs.c.id)
    )
    return result.first() is not None


async def get(session: AsyncSession, subscription_id: int) -> Subscription | None:
    row = (await session.execute(select(subs).where(subs.c.id == subscription_id))).first()
    return Subscription(**row._mapping) if row else None


async def delete_by_id(session: AsyncSession, subscription_id: int) -> None:
    await session.execute(delete(subs).where(subs.c.id == subscription_id))
