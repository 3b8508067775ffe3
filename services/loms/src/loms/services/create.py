"""createOrder: record the order, and reserve it.

With `Prefer: wait=N` the order is placed: recorded together with its outcome in one statement,
batched with the orders that arrive meanwhile (`services/placing.py`), and the answer is the
outcome. Without it, the order, its lines, its `new` event and its idempotency key are one
autocommit statement and the answer is `new`; the request then reserves the order in the
background (the fast path). Orders the fast path never settled (a crash, or the fast path turned
off) are the intake worker's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

import asyncpg
import orjson

from loms.config import Settings
from loms.db import Db
from loms.domain import events
from loms.domain.errors import OrderNotFound, UnpaidLimitReached
from loms.domain.items import OrderItem, total_price
from loms.domain.order import Order
from loms.domain.statuses import OrderStatus
from loms.domain.transitions import is_settled
from loms.repositories import idempotency as keys
from loms.repositories import orders
from loms.repositories.idempotency import Finish
from loms.repositories.placement import Placement
from loms.services.clock import utcnow
from loms.services.idempotency import Answer, IdempotencyRequest, stored_answer
from loms.services.reserve import reserve_if_new
from shopcommon.auth import Principal, Scope
from shopcommon.problems import Forbidden

Spawn = Callable[[Coroutine[Any, Any, Any]], None]
CREATED = 201


@dataclass(frozen=True)
class CreateRequest:
    user_id: int
    items: Sequence[OrderItem]
    #: Seconds to wait for the reservation outcome (`Prefer: wait`), None to answer at once.
    wait: float | None = None
    idempotency: IdempotencyRequest | None = None
    request_id: str | None = None


def authorize(caller: Principal, request: CreateRequest) -> None:
    caller.ensure_scope(Scope.ORDERS_WRITE)
    if not caller.can_act_for(request.user_id, Scope.ORDERS_WRITE):
        raise Forbidden("A customer may create orders only for themself.")
    if not caller.acts_for_anyone(Scope.ORDERS_WRITE) and any(i.price is not None for i in request.items):
        raise Forbidden("Only service and manager callers may set item prices.")


def answer_for(order: Order) -> Answer:
    return Answer(CREATED, orjson.dumps(order.as_wire()))


async def create_order(db: Db, settings: Settings, caller: Principal, request: CreateRequest, spawn: Spawn) -> Answer:
    authorize(caller, request)
    if request.wait is not None and settings.inline_reservation and db.placer is not None:
        return await place(db, settings, request)
    # A bounded number of orders are written at once, each on one writer connection for both of
    # its statements; the rest queue for a connection in arrival order (see `Db.writers`).
    async with db.writers.acquire() as conn:
        outcome = await record_and_reserve(conn, settings, request, db, spawn)
    # The writer is back in its pool: what follows borrows other connections, never while holding one.
    if isinstance(outcome, Answer):
        return outcome
    if outcome is None:
        assert request.idempotency is not None
        return await answer_duplicate(db, settings, request.idempotency)
    if request.wait is None:
        return await finished(db, request.idempotency, answer_for(outcome))
    # Someone else holds the order (an intake worker): wait for its outcome outside the queue.
    current = await wait_until_settled(db, outcome.id, request.wait) or outcome
    return await finished(db, request.idempotency, answer_for(current))


async def place(db: Db, settings: Settings, request: CreateRequest) -> Answer:
    """The order recorded with its outcome in one statement, batched with the orders that arrive
    meanwhile (`services/placing.py`): the answer, stored with the key in the same transaction."""
    assert db.placer is not None
    items = tuple(request.items)
    now = utcnow()
    total = total_price(items)
    deadline = now + timedelta(seconds=settings.payment_timeout)
    idem = request.idempotency
    built: dict[str, Any] = {}

    def build(order_id: int) -> Placement:
        order = Order(order_id, request.user_id, OrderStatus.NEW, items, total, now, now)
        reserved = replace(order, status=OrderStatus.AWAITING_PAYMENT, payment_deadline=deadline)
        built["order"] = order
        built["answer"] = answer = answer_for(reserved)
        return Placement(
            order_id=order_id,
            user_id=request.user_id,
            items=items,
            total_price=total,
            now=now,
            deadline=deadline,
            topic=settings.order_events_topic,
            request_id=request.request_id,
            new_event=events.recorded(
                order_id=order_id, user_id=request.user_id, items=items, total_price=total, occurred_at=now
            ),
            reserved_event=order.change_event(OrderStatus.AWAITING_PAYMENT, now, payment_deadline=deadline),
            key=(idem.scope, idem.key, idem.request_hash) if idem else None,
            key_status=CREATED if idem else None,
            reserved_answer=answer.body.decode() if idem else None,
        )

    _, placed = await db.placer.place(build, len(items))
    if placed.refused is not None:
        raise UnpaidLimitReached(request.user_id, placed.refused)
    if not placed.placed:
        # Otherwise only a stored key stops a placement.
        assert idem is not None
        return await answer_duplicate(db, settings, idem)
    if placed.shortages is None:
        return built["answer"]
    order: Order = built["order"]
    return answer_for(replace(order, status=OrderStatus.FAILED, shortages=placed.shortages))


async def record_and_reserve(
    conn: asyncpg.Connection, settings: Settings, request: CreateRequest, db: Db, spawn: Spawn
) -> Answer | Order | None:
    """The order recorded as `new` on the writer `conn` and, with `Prefer: wait`, reserved on it:
    the answer (stored with the outcome); the order, still to be answered (no `Prefer: wait`, or
    somebody else holds it); None when the Idempotency-Key was taken and nothing was written."""
    items = tuple(request.items)
    now = utcnow()
    total = total_price(items)
    # The statement puts the order's id in.
    event = events.recorded(order_id=0, user_id=request.user_id, items=items, total_price=total, occurred_at=now)
    idem = request.idempotency
    try:
        order_id = await orders.insert_new(
            conn,
            user_id=request.user_id,
            items=items,
            total_price=total,
            now=now,
            event=event,
            topic=settings.order_events_topic,
            request_id=request.request_id,
            limits=settings.unpaid_limits,
            idempotency=idem.params() if idem else None,
            # The reservation right after notifies for both events; an intake worker needs the wake-up.
            notify=not settings.inline_reservation,
        )
    except orders.KeyTaken:
        return None
    except orders.Refused as refused:
        # A repeat of a create that was recorded is answered as one, whatever the user holds now.
        if idem is not None and await keys.stored(conn, scope=idem.scope, key=idem.key):
            return None
        raise UnpaidLimitReached(request.user_id, refused.refusal) from None
    order = Order(order_id, request.user_id, OrderStatus.NEW, items, total, now, now)
    if request.wait is None:
        if settings.inline_reservation:
            spawn(reserve_in_background(db, settings, order, request.request_id))
        return order
    return await reserve_inline(conn, db, settings, order, request)


async def reserve_in_background(db: Db, settings: Settings, order: Order, request_id: str | None) -> None:
    async with db.writers.acquire() as conn:
        await reserve_if_new(conn, order, settings=settings, request_id=request_id, wake_relay=db.relays.waker())


async def reserve_inline(
    conn: asyncpg.Connection, db: Db, settings: Settings, order: Order, request: CreateRequest
) -> Answer | Order:
    idem = request.idempotency

    built: dict[OrderStatus, Answer] = {}

    def stored_answer_for(settled: Order) -> Finish:
        assert idem is not None
        built[settled.status] = answer = answer_for(settled)
        return Finish(idem.scope, idem.key, CREATED, answer.body.decode())

    settled = None
    if settings.inline_reservation:
        settled = await reserve_if_new(
            conn,
            order,
            settings=settings,
            request_id=request.request_id,
            answer_for=stored_answer_for if idem else None,
            wake_relay=db.relays.waker(),
        )
    if settled is None:
        return order
    # The reserved order's answer was built already, to be stored; a failed one (its shortages
    # known only now) is built here.
    return built.get(settled.status) or answer_for(settled)


async def finished(db: Db, idem: IdempotencyRequest | None, answer: Answer) -> Answer:
    if idem is not None:
        async with db.autocommit.connect() as conn:
            await keys.finish(conn, scope=idem.scope, key=idem.key, status=answer.status, body=answer.body.decode())
    return answer


async def wait_until_settled(db: Db, order_id: int, timeout: float) -> Order | None:
    """Poll with short, growing sleeps (bounded by `timeout`) until the order leaves `new`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    pause = 0.005
    while True:
        async with db.autocommit.connect() as conn:
            status = await orders.status_of(conn, order_id)
            if status is None or is_settled(status) or loop.time() >= deadline:
                return await orders.get(conn, order_id)
        await asyncio.sleep(min(pause, max(0.0, deadline - loop.time())))
        pause = min(pause * 2, 0.1)


async def answer_duplicate(db: Db, settings: Settings, idem: IdempotencyRequest) -> Answer:
    """A create whose key is taken: replay, refuse (422/409), or recover from a dead first request."""
    async with db.autocommit.connect() as conn:
        stored = await keys.get(conn, scope=idem.scope, key=idem.key, stale_after=settings.idempotency_stale_after)
        replay = stored_answer(stored, idem)
        if replay is not None:
            return replay
        assert stored is not None and stored.resource_id is not None
        order = await orders.get(conn, stored.resource_id)
        if order is None:
            raise OrderNotFound(stored.resource_id)
    return replace(await finished(db, idem, answer_for(order)), replayed=True)
