"""The create path under load: a bounded number of orders written at once, and a relay woken by
the requests of its own process rather than by NOTIFY."""

from __future__ import annotations

import asyncio
from collections import Counter

from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, consume, make_settings, new_sku, running_app


async def test_with_one_order_writer_thirty_concurrent_creates_all_reserve(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, auth: Auth, db: Database
) -> None:
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-one-writer", order_writers=1)
    sku = new_sku()
    await db.stock(sku, 100)
    async with running_app(settings) as (_, client):
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/orders",
                    json={"user_id": 3000 + i, "items": [{"sku": sku, "count": 2}]},
                    headers={**auth.service(), "Prefer": "wait=5", "Idempotency-Key": f"one-writer-{sku}-{i}"},
                )
                for i in range(30)
            )
        )
    assert Counter((a.status_code, a.json()["status"]) for a in answers) == {(201, "awaiting payment"): 30}
    assert (await db.levels(sku))["reserved"] == 60


async def test_an_order_reserved_by_its_request_is_published_long_before_the_relay_sweep(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str, auth: Auth, db: Database
) -> None:
    settings = make_settings(shop_stack, loms_db, test_issuer, topic + "-woken", relay_sweep_interval=120)
    sku = new_sku()
    await db.stock(sku, 5)
    async with running_app(settings) as (_, client):

        async def create_and_see_published(user_id: int) -> list[str]:
            r = await client.post(
                "/api/v1/orders",
                json={"user_id": user_id, "items": [{"sku": sku, "count": 1}]},
                headers={**auth.service(), "Prefer": "wait=5"},
            )
            order_id = r.json()["order_id"]
            events = await consume(
                shop_stack.urls.kafka_bootstrap_servers,
                settings.order_events_topic,
                lambda evs: any(e["order_id"] == order_id and e["status"] == "awaiting payment" for e in evs),
                timeout=10,
            )
            return [e["status"] for e in events if e["order_id"] == order_id]

        # The first may ride along with the relay's start-up round; the second needs a wake-up.
        assert await create_and_see_published(3100) == ["new", "awaiting payment"]
        assert await create_and_see_published(3101) == ["new", "awaiting payment"]
