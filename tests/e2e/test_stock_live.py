"""A manager's open stock page follows the stock through real processes: another manager receives
units (LOMS publishes `stock.changed`), a customer reserves every unit of a scarce sku and pays
for them (the order's events); each time checkout's `/live` relay, on the notifications stream's
managers' channel, sends the row of `/manage/stock` again as LOMS now holds it."""

from __future__ import annotations

import asyncio
import html
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shopcommon.pagination import After, encode_cursor

from .conftest import System, bearer, new_customer, stock_levels

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
LIVE = re.compile(r'sse-connect="(/live\?[^"]+)"')
CELLS = re.compile(r'<td class="num">(\d+)</td><td class="num">(\d+)</td><td class="num">(\d+)</td>')

DEMO_PASSWORD = "1"

pytestmark = pytest.mark.timeout(180)


async def signed_in(client: httpx.AsyncClient, username: str) -> None:
    landing = await client.get("/")
    token = CSRF_FIELD.search(landing.text)
    assert token, landing.text[:500]
    r = await client.post(
        "/login", data={"csrf_token": token.group(1), "username": username, "password": DEMO_PASSWORD}
    )
    assert r.status_code == 303, r.text


async def frames(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str, str]]:
    """(event, data) of each SSE event; heartbeats left out."""
    name, data = "", list[str]()
    async for line in lines:
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data.append(line.removeprefix("data: "))
        elif line == "" and name:
            yield name, "\n".join(data)
            name, data = "", []


async def scarce_sku(client: httpx.AsyncClient) -> int:
    """A sku with a few units in all (the demo data has some), to reserve every one of them."""
    page = (await client.get("/api/v1/products", params={"in_stock": "true", "limit": 200})).json()
    return next(p["sku"] for p in page["items"] if 2 <= p["quantity_in_stock"] <= 20)


async def test_a_managers_stock_page_follows_receipts_reservations_and_payments(system: System) -> None:
    staff = await bearer(system, "admin", DEMO_PASSWORD)
    customer = await new_customer(system, staff)
    async with system.client("checkout") as shop, system.client("loms") as loms:
        sku = await scarce_sku(shop)
        levels = await stock_levels(system, [sku])
        warehouse = min(w for (_, w), (total, reserved) in levels.items() if total > reserved)
        await signed_in(shop, "admin")
        cursor = encode_cursor(After(after=sku - 1))  # the page of stock rows that starts at this sku
        page = await shop.get("/manage/stock", params={"warehouse": warehouse, "cursor": cursor})
        assert page.status_code == 200
        assert f'sse-swap="stock-{warehouse}-{sku}"' in page.text
        live = LIVE.search(page.text)
        assert live, "the stock table follows no stream"
        url = html.unescape(live.group(1))
        assert f"stock={warehouse}" in url and str(sku) in url

        async with shop.stream("GET", url) as stream:
            assert stream.status_code == 200
            seen = frames(stream.aiter_lines())

            async def row_when(changed: Any) -> tuple[int, int, int]:
                """The row's cells in the first frame for it after `changed()`."""
                await changed()
                async with asyncio.timeout(40):
                    async for name, data in seen:
                        if name == f"stock-{warehouse}-{sku}":
                            cells = CELLS.search(data)
                            assert cells, data
                            assert f'value="{cells.group(1)}"' in data  # the count field holds the new total
                            return int(cells.group(1)), int(cells.group(2)), int(cells.group(3))
                raise AssertionError("the stream ended")

            async def receive() -> None:
                r = await loms.post(
                    f"/api/v1/warehouses/{warehouse}/stocks/{sku}/adjust",
                    json={"delta": 3},
                    headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
                )
                assert r.status_code == 200, r.text

            total, reserved = levels[(sku, warehouse)]
            assert await row_when(receive) == (total + 3, reserved, total + 3 - reserved)

            everything = sum(t - r for t, r in (await stock_levels(system, [sku])).values())
            order: dict[str, Any] = {}

            async def reserve() -> None:
                r = await shop.post(
                    "/api/v1/orders",
                    json={"items": [{"sku": sku, "count": everything}]},
                    headers={**customer["headers"], "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
                )
                assert r.status_code == 201 and r.json()["status"] == "awaiting payment", r.text
                order.update(r.json())

            # Every unit is reserved now, in this warehouse too.
            assert await row_when(reserve) == (total + 3, total + 3, 0)

            async def pay() -> None:
                r = await shop.post(f"/api/v1/orders/{order['order_id']}/pay", headers=customer["headers"])
                assert r.status_code == 200, r.text

            # Paid: the units leave the warehouse.
            assert await row_when(pay) == (reserved, reserved, 0)
