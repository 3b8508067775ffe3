"""A worker of two categories is one person: passes assigning in either category, in two LOMS
replicas at once, choose from the same counts of that worker's open tasks."""

from __future__ import annotations

import asyncio

from loms.config import Settings
from loms.domain.tasks import split_by_category
from loms.repositories import tasks as repo
from loms.services.clock import utcnow
from loms.services.fulfilment import Assigner, _queued
from shopcommon.statuses import TaskStatus

from ..conftest import Database, running_app
from .conftest import Catalogue, Checkout, Orders, seen_by_loms


async def test_a_pass_in_one_category_waits_for_another_assigning_to_a_worker_of_both(
    settings: Settings, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    """Each pass locked only its own category: one replica gave the worker of both a task in the
    first while another, reading that worker's load before the commit, gave them the second too,
    and the worker of the second category alone got nothing."""
    first, first_skus = await catalogue.category(db)
    second, second_skus = await catalogue.category(db)
    both = await checkout.make_worker(first, second)  # the lower id: ties go to them
    only_second = await checkout.make_worker(second)
    async with running_app(settings.model_copy(update={"fulfilment_enabled": False})) as (app, _):
        fulfilment = app.state.fulfilment

        await seen_by_loms(app, second, both, only_second)
        roster = await fulfilment.directory.roster()
        await fulfilment.run_pass()  # anything queued before this test
        [of_first] = await orders.paid([[(first_skus[0], 1)]])
        [of_second] = await orders.paid([[(second_skus[0], 1)]])
        async with fulfilment.engine.begin() as conn:
            await repo.remember_categories(conn, {first_skus[0]: first, second_skus[0]: second})
        async with fulfilment.engine.begin() as conn:  # another replica's pass, in the first category
            claimed, _, categories = await _queued(conn, 1, claim=True)
            [(order_id, lines)] = claimed
            assert order_id == of_first
            rows = [(order_id, c, items) for c, items in split_by_category(lines, categories).items()]
            new = await repo.insert_unassigned(conn, rows, utcnow())
            await repo.lock_categories(conn, [first])  # what that pass needs at the least
            await Assigner(conn, roster).place_all(new, fulfilment.topic, new=True)
            await repo.dequeue(conn, [order_id])
            second_pass = asyncio.create_task(fulfilment.run_pass())
            await asyncio.sleep(0.5)  # it reads the loads now, unless it waits for this transaction
        await second_pass
    rows = await db.fetch("SELECT order_id, worker_id, status FROM tasks WHERE order_id = ANY($1)",
                          [of_first, of_second])  # fmt: skip
    assigned = {r["order_id"]: (r["worker_id"], r["status"]) for r in rows}
    assert assigned == {of_first: (both, TaskStatus.ASSIGNED), of_second: (only_second, TaskStatus.ASSIGNED)}
