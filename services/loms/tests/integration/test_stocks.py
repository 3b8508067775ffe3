"""Stock reads (public) and the managers' administration of warehouses and stock."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from shopcommon.testing.plugin import Stack

from ..conftest import Auth, Database, consume, new_sku


async def test_stock_of_one_sku_is_total_minus_reserved_per_warehouse(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    wh = await db.stock(sku, 10, 2)
    await client.post(
        "/api/v1/orders",
        json={"user_id": 41, "items": [{"sku": sku, "count": 4}]},
        headers={**auth.customer(41), "Prefer": "wait=5"},
    )
    r = await client.get(f"/api/v1/stocks/{sku}")
    assert r.status_code == 200
    assert r.json() == {
        "sku": sku,
        "stocks": [{"warehouse_id": wh[0], "count": 6}, {"warehouse_id": wh[1], "count": 2}],
        "total_available": 8,
    }


async def test_batch_read_answers_every_sku_asked_once_in_order(client: httpx.AsyncClient, db: Database) -> None:
    a, b, none = new_sku(), new_sku(), new_sku()
    await db.stock(a, 1)
    await db.stock(b, 0, 5)
    r = await client.get("/api/v1/stocks", params=[("sku", b), ("sku", none), ("sku", a), ("sku", b)])
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["sku"] for i in items] == [b, none, a]
    assert [i["total_available"] for i in items] == [5, 0, 1]
    assert items[1]["stocks"] == []


async def test_manager_creates_a_warehouse_and_sets_stock(client: httpx.AsyncClient, auth: Auth) -> None:
    sku = new_sku()
    created = await client.post("/api/v1/warehouses", json={"name": f"Depot {sku}"}, headers=auth.manager())
    assert created.status_code == 201
    wh = created.json()["id"]
    r = await client.put(f"/api/v1/warehouses/{wh}/stocks/{sku}", json={"total": 12}, headers=auth.manager())
    assert r.status_code == 200
    assert r.json() == {"sku": sku, "warehouse_id": wh, "total": 12, "reserved": 0, "available": 12}
    r = await client.post(f"/api/v1/warehouses/{wh}/stocks/{sku}/adjust", json={"delta": -2}, headers=auth.manager())
    assert r.json()["total"] == 10
    listed = await client.get(f"/api/v1/warehouses/{wh}/stocks", headers=auth.stock_reader())
    assert (await client.get(f"/api/v1/warehouses/{wh}/stocks", headers=auth.service())).status_code == 403
    assert listed.json()["items"] == [{"sku": sku, "warehouse_id": wh, "total": 10, "reserved": 0, "available": 10}]
    dup = await client.post("/api/v1/warehouses", json={"name": f"Depot {sku}"}, headers=auth.manager())
    assert dup.status_code == 409


async def test_stock_never_drops_below_what_is_reserved(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    (wh,) = await db.stock(sku, 10)
    await client.post(
        "/api/v1/orders",
        json={"user_id": 42, "items": [{"sku": sku, "count": 8}]},
        headers={**auth.customer(42), "Prefer": "wait=5"},
    )
    r = await client.put(f"/api/v1/warehouses/{wh}/stocks/{sku}", json={"total": 7}, headers=auth.manager())
    assert r.status_code == 409
    assert r.json()["reserved"] == 8
    r = await client.post(f"/api/v1/warehouses/{wh}/stocks/{sku}/adjust", json={"delta": -3}, headers=auth.manager())
    assert r.status_code == 409
    assert await db.levels(sku) == {"total": 10, "reserved": 8, "written_off": 0, "available": 2}
    ok = await client.post(f"/api/v1/warehouses/{wh}/stocks/{sku}/adjust", json={"delta": -2}, headers=auth.manager())
    assert ok.json()["available"] == 0


async def test_only_managers_change_stock(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    (wh,) = await db.stock(sku, 10)
    for headers in (auth.customer(43), auth.service()):
        r = await client.put(f"/api/v1/warehouses/{wh}/stocks/{sku}", json={"total": 1}, headers=headers)
        assert r.status_code == 403
        r = await client.post("/api/v1/warehouses", json={"name": "Sneaky"}, headers=headers)
        assert r.status_code == 403
    assert (await client.get("/api/v1/warehouses", headers=auth.customer(43))).status_code == 403
    assert (await client.put(f"/api/v1/warehouses/{wh}/stocks/{sku}", json={"total": 1})).status_code == 401
    assert (await db.levels(sku))["total"] == 10


async def test_unknown_warehouse_is_404(client: httpx.AsyncClient, auth: Auth) -> None:
    r = await client.put(f"/api/v1/warehouses/999999/stocks/{new_sku()}", json={"total": 1}, headers=auth.manager())
    assert r.status_code == 404


async def test_each_change_of_a_total_is_published_once_keyed_by_warehouse_and_sku(
    client: httpx.AsyncClient, auth: Auth, db: Database, shop_stack: Stack, topic: str
) -> None:
    sku = new_sku()
    made = await client.post("/api/v1/warehouses", json={"name": f"Events {sku}"}, headers=auth.manager())
    wh = made.json()["id"]
    url = f"/api/v1/warehouses/{wh}/stocks/{sku}"
    assert (await client.put(url, json={"total": 12}, headers=auth.manager())).status_code == 200
    assert (await client.put(url, json={"total": 12}, headers=auth.manager())).status_code == 200  # no change
    await client.post(
        "/api/v1/orders",
        json={"user_id": 44, "items": [{"sku": sku, "count": 5}]},
        headers={**auth.customer(44), "Prefer": "wait=5"},
    )
    assert (await client.put(url, json={"total": 4}, headers=auth.manager())).status_code == 409  # below reserved
    r = await client.post(f"{url}/adjust", json={"delta": -2}, headers=auth.manager())
    assert r.status_code == 200, r.text

    def stock_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if e.get("type") == "stock.changed" and e["sku"] == sku]

    events = await consume(shop_stack.urls.kafka_bootstrap_servers, topic, lambda evs: len(stock_events(evs)) >= 2)
    await asyncio.sleep(0.5)  # a refused or unchanged total would have been published by now
    events = stock_events(events + await consume(shop_stack.urls.kafka_bootstrap_servers, topic, lambda _: False, 1))
    unique = {e["event_id"]: e for e in events}.values()
    assert [(e["previous_total"], e["total"], e["reserved"]) for e in unique] == [(None, 12, 0), (12, 10, 5)]
    for event in unique:
        assert event.pop("_key") == f"stock:{wh}:{sku}"
        event.pop("_partition")
        assert set(event) == {"event_id", "type", "occurred_at", "warehouse_id", "sku", "total", "reserved",
                              "previous_total"}  # fmt: skip
        assert event["warehouse_id"] == wh


async def test_a_total_set_from_an_older_figure_is_refused(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    """`expected_total`: the total the manager last saw. A sale or another manager's change since
    is 409 `stock-changed`, not overwritten (the stock page sends it with every row's Save)."""
    sku = new_sku()
    made = await client.post("/api/v1/warehouses", json={"name": f"Seen {sku}"}, headers=auth.manager())
    url = f"/api/v1/warehouses/{made.json()['id']}/stocks/{sku}"
    new = await client.put(url, json={"total": 12, "expected_total": 0}, headers=auth.manager())  # a new row: 0
    assert new.status_code == 200, new.text
    stale = await client.put(url, json={"total": 15, "expected_total": 10}, headers=auth.manager())
    assert stale.status_code == 409 and stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["type"].endswith("/stock-changed") and stale.json()["total"] == 12
    assert (await db.levels(sku))["total"] == 12
    fresh = await client.put(url, json={"total": 15, "expected_total": 12}, headers=auth.manager())
    assert fresh.status_code == 200 and fresh.json()["total"] == 15


async def test_first_deliveries_into_a_new_row_at_once_all_count(client: httpx.AsyncClient, auth: Auth) -> None:
    """Receiving into a (warehouse, sku) with no row yet: each adjust locked nothing, and the last
    to write set its own total over the others' (five deliveries of 5 left 5)."""
    sku = new_sku()
    made = await client.post("/api/v1/warehouses", json={"name": f"Dock {sku}"}, headers=auth.manager())
    url = f"/api/v1/warehouses/{made.json()['id']}/stocks/{sku}"
    answers = await asyncio.gather(
        *(client.post(f"{url}/adjust", json={"delta": 5}, headers=auth.manager()) for _ in range(5))
    )
    assert [r.status_code for r in answers] == [200] * 5, [r.text for r in answers]
    assert sorted(r.json()["total"] for r in answers) == [5, 10, 15, 20, 25]


async def test_a_warehouses_stock_comes_in_cursor_pages_in_sku_order(client: httpx.AsyncClient, auth: Auth) -> None:
    """`?limit&cursor` -> `{items, next_cursor}`, as every list (it was `?after` -> `next_after`)."""
    made = await client.post("/api/v1/warehouses", json={"name": f"Pages {new_sku()}"}, headers=auth.manager())
    url = f"/api/v1/warehouses/{made.json()['id']}/stocks"
    skus = sorted(new_sku() for _ in range(3))
    for sku in skus:
        assert (await client.put(f"{url}/{sku}", json={"total": 1}, headers=auth.manager())).status_code == 200
    first = (await client.get(url, params={"limit": 2}, headers=auth.manager())).json()
    assert [r["sku"] for r in first["items"]] == skus[:2] and first["next_cursor"]
    rest = (await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth.manager())).json()
    assert [r["sku"] for r in rest["items"]] == skus[2:] and rest["next_cursor"] is None
    only = (await client.get(url, params=[("sku", skus[2]), ("sku", skus[0])], headers=auth.manager())).json()
    assert [r["sku"] for r in only["items"]] == [skus[0], skus[2]] and only["next_cursor"] is None
    bad = await client.get(url, params={"cursor": "not-a-cursor"}, headers=auth.manager())
    assert bad.status_code == 400 and bad.json()["type"].endswith("/bad-cursor")
