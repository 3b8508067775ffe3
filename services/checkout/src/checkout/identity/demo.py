"""Demo accounts, dev mode only: the restaurant seed's logins (password `1`), one worker per
category of the demo catalogue and a second one in two categories (so the fulfilment's balancing
between two workers of a category shows). Loading twice changes nothing; outside dev it creates
nobody."""

from __future__ import annotations

import os
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from checkout.identity.passwords import hash_password
from checkout.identity.tables import users
from shopcommon.db import async_url
from shopcommon.demo_catalogue import CATEGORIES

DEMO_PASSWORD = "1"  # the restaurant seed's; registration would refuse it, the demo loader does not ask
EMAIL_DOMAIN = "shop.example"

#: Names for the workers of the demo categories; any other category gets a generic one.
WORKER_NAMES = {
    "guitars": ("Gwen", "Fretwell"),
    "basses": ("Barry", "Lowe"),
    "keyboards": ("Kira", "Ivory"),
    "drums": ("Dana", "Skinner"),
    "wind": ("Walt", "Reed"),
    "strings": ("Stella", "Bowman"),
    "amplifiers": ("Max", "Volt"),
}


#: The second worker: shares both categories with their one-category workers.
SHARED_WORKER = "worker-guitars-basses"
SHARED_WORKER_CATEGORIES = ("basses", "guitars")


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    first_name: str
    last_name: str
    categories: tuple[str, ...] = ()

    @property
    def email(self) -> str:
        return f"{self.username}@{EMAIL_DOMAIN}"


def demo_users() -> list[DemoUser]:
    people = [
        DemoUser("admin", "manager", "Ada", "Admin"),
        DemoUser("customer", "customer", "Casey", "Customer"),
        DemoUser("josh", "customer", "Josh", "Miller"),
        DemoUser("mike", "customer", "Mike", "Novak"),
    ]
    for category in CATEGORIES:
        first, last = WORKER_NAMES.get(category, (category.title(), "Worker"))
        people.append(DemoUser(f"worker-{category}", "worker", first, last, (category,)))
    shared = tuple(c for c in SHARED_WORKER_CATEGORIES if c in CATEGORIES)
    if shared:
        people.append(DemoUser(SHARED_WORKER, "worker", "Sam", "Both", shared))
    return people


async def load_identity_demo(database_url: str, env: dict[str, str] | None = None) -> int:
    """Create the demo accounts that do not exist yet; returns how many were created."""
    app_env = (env or {}).get("APP_ENV") or os.environ.get("APP_ENV", "prod")  # never demo users by accident
    if app_env != "dev":
        return 0
    engine = create_async_engine(async_url(database_url), poolclass=NullPool)
    created = 0
    try:
        async with engine.begin() as conn:
            existing = set((await conn.execute(select(users.c.username))).scalars())
            for person in demo_users():
                if person.username in existing:
                    continue
                stmt = pg_insert(users).values(
                    username=person.username,
                    email=person.email,
                    first_name=person.first_name,
                    last_name=person.last_name,
                    role=person.role,
                    categories=list(person.categories),
                    password_hash=await hash_password(DEMO_PASSWORD),
                    # Demo addresses count as proven: one-time codes and order mail reach them.
                    email_verified_at=func.now(),
                    confirmed_at=func.now(),
                )
                result = await conn.execute(stmt.on_conflict_do_nothing())
                created += result.rowcount or 0
    finally:
        await engine.dispose()
    return created
