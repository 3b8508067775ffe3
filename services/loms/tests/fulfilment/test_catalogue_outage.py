"""A catalogue outage while paid orders queue for their tasks: only the orders of skus whose
category LOMS has never read wait; the rest of fulfilment goes on."""

from __future__ import annotations

from loms.clients.catalogue import CatalogueClient
from loms.config import Settings
from shopcommon.devstack.servers import free_port

from ..conftest import Database, new_sku, running_app
from .conftest import Catalogue, Checkout, Orders, seen_by_loms


async def tasks(db: Database, order_id: int) -> list[tuple[str, int | None]]:
    rows = await db.fetch("SELECT status, worker_id FROM tasks WHERE order_id = $1 ORDER BY id", order_id)
    return [(r["status"], r["worker_id"]) for r in rows]


async def test_a_catalogue_outage_holds_back_only_the_orders_of_skus_never_seen(
    settings: Settings, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    """One order with a new sku, while product-stub was down, ended every pass before it made a
    task: no paid order got its tasks, waiting tasks were not assigned, until product-stub returned."""
    category, skus = await catalogue.category(db)
    worker = await checkout.make_worker(category)
    async with running_app(settings.model_copy(update={"fulfilment_enabled": False})) as (app, _):
        fulfilment = app.state.fulfilment

        await seen_by_loms(app, category, worker)
        [first] = await orders.paid([[(skus[0], 1)]])
        await fulfilment.run_pass()  # the catalogue answers: skus[0]'s category is remembered
        assert await tasks(db, first) == [("assigned", worker)]

        up = fulfilment.catalogue
        fulfilment.catalogue = CatalogueClient(up.http, f"http://127.0.0.1:{free_port()}")  # nothing answers
        unknown = new_sku()
        await db.stock(unknown, 10)
        never_seen, known = await orders.paid([[(unknown, 1)], [(skus[0], 2)]])
        await fulfilment.run_pass()
        assert await tasks(db, known) == [("assigned", worker)]
        assert await tasks(db, never_seen) == []

        fulfilment.catalogue = up
        await fulfilment.run_pass()
        assert [status for status, _ in await tasks(db, never_seen)] == ["unassigned"]  # nobody's category


async def test_a_whole_batch_of_orders_waiting_for_the_catalogue_holds_back_none_behind_it(
    settings: Settings, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    """The oldest paid orders, as many as a batch takes, all of skus never seen: every pass claimed
    them, found none ready and stopped, so the orders behind them got no tasks either."""
    category, skus = await catalogue.category(db)
    worker = await checkout.make_worker(category)
    async with running_app(settings.model_copy(update={"fulfilment_enabled": False})) as (app, _):
        fulfilment = app.state.fulfilment

        await seen_by_loms(app, category, worker)
        [first] = await orders.paid([[(skus[1], 1)]])
        await fulfilment.run_pass()  # skus[1]'s category is remembered
        assert await tasks(db, first) == [("assigned", worker)]

        up = fulfilment.catalogue
        fulfilment.catalogue = CatalogueClient(up.http, f"http://127.0.0.1:{free_port()}")  # nothing answers
        fulfilment.batch_size = 2
        unknown = new_sku()
        await db.stock(unknown, 10)
        waiting = await orders.paid([[(unknown, 1)], [(unknown, 1)]])
        [behind] = await orders.paid([[(skus[1], 1)]])
        await fulfilment.run_pass()
        assert await tasks(db, behind) == [("assigned", worker)]
        assert [await tasks(db, order_id) for order_id in waiting] == [[], []]
        fulfilment.catalogue = up
        await fulfilment.run_pass()
        assert [[status for status, _ in await tasks(db, order_id)] for order_id in waiting] == [["unassigned"]] * 2
