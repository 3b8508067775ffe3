"""createOrder: two paths, chosen by `Prefer: wait`.

- With it, the order is placed: recorded together with its outcome (`awaiting payment`, or
  `failed` with the shortages) in one statement, batched with the orders that arrive meanwhile
  (`services/order_placer.py`); the answer is the outcome. An order no batch has taken when
  the wait runs out goes the other way, and the answer is `new`.
- Without it, the order is recorded `new` in one statement and the answer is `new`; the intake
  worker reserves it (`services/reserve.py`), woken by the commit.

Either way the domain builds everything written up front (`domain/outcome.py`): the order, its
events and the answer stored with its Idempotency-Key; the statement picks the outcome under its
locks and adds the shortages.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

import orjson

from loms.config import Settings
from loms.db import Db
from loms.domain import events
from loms.domain.errors import OrderNotFound, UnpaidLimitReached
from loms.domain.items import OrderItem
from loms.domain.order import Order
from loms.domain.outcome import ReservationOutcomes, new_order, reservation_outcomes
from loms.repositories import idempotency as keys
from loms.repositories import orders
from loms.repositories.placement import Placement
from loms.services.clock import utcnow
from loms.services.idempotency import Answer, IdempotencyRequest, stored_answer
from loms.services.order_placer import NotBegun, OrderPlacer
from shopcommon.auth import Principal, Scope
from shopcommon.problems import Forbidden

log = logging.getLogger(__name__)

CREATED = 201


@dataclass(frozen=True)
class CreateRequest:
    user_id: int
    items: Sequence[OrderItem]
    #: Seconds the caller waits for the reservation outcome (`Prefer: wait`), None to answer at once.
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


async def create_order(
    db: Db, placer: OrderPlacer, settings: Settings, caller: Principal, request: CreateRequest
) -> Answer:
    authorize(caller, request)
    order = new_order(await db.order_ids.next(), request.user_id, request.items, utcnow())
    if request.wait is not None:
        return await place(db, placer, settings, request, order)
    return await record(db, settings, request, order)


async def place(db: Db, placer: OrderPlacer, settings: Settings, request: CreateRequest, order: Order) -> Answer:
    """The order recorded with its outcome, batched with the orders that arrive meanwhile: the
    answer, stored with the key in the same transaction."""
    outcomes = reservation_outcomes(order, order.created_at, settings.payment_timeout)
    try:
        placed = await placer.place(placement_of(outcomes, settings, request), request.wait)
    except NotBegun as exc:
        log.warning("order %s not placed (Prefer: wait=%s; %s); recorded for the intake worker", order.id, request.wait,
                    exc or "not begun within the wait")  # fmt: skip
        return await record(db, settings, request, order)
    if placed.refused is not None:
        raise UnpaidLimitReached(request.user_id, placed.refused)
    if not placed.placed:
        # Otherwise only a stored key stops a placement.
        assert request.idempotency is not None
        return await answer_duplicate(db, settings, request.idempotency)
    return answer_for(outcomes.settled(placed.shortages))


def placement_of(outcomes: ReservationOutcomes, settings: Settings, request: CreateRequest) -> Placement:
    order, idem = outcomes.new, request.idempotency
    return Placement(
        order_id=order.id,
        user_id=order.user_id,
        items=order.items,
        total_price=order.total_price,
        now=order.created_at,
        deadline=outcomes.deadline,
        topic=settings.order_events_topic,
        request_id=request.request_id,
        new_event=recorded_event(order),
        reserved_event=outcomes.reserved_event,
        failed_event=outcomes.failed_event,
        key=(idem.scope, idem.key, idem.request_hash) if idem else None,
        key_status=CREATED if idem else None,
        reserved_answer=answer_for(outcomes.reserved).body.decode() if idem else None,
        failed_answer=answer_for(outcomes.failed).body.decode() if idem else None,
    )


def recorded_event(order: Order) -> dict[str, object]:
    return events.recorded(
        order_id=order.id,
        user_id=order.user_id,
        items=order.items,
        total_price=order.total_price,
        occurred_at=order.created_at,
    )


async def record(db: Db, settings: Settings, request: CreateRequest, order: Order) -> Answer:
    """The order recorded `new` with its event and its key's answer, in one statement on a writer;
    the intake worker reserves it."""
    idem = request.idempotency
    answer = answer_for(order)
    stored = None
    if idem is not None:
        stored = orders.StoredAnswer(idem.scope, idem.key, idem.request_hash, answer.status, answer.body.decode())
    # This process's intake and relay are woken directly; without them here, the commit notifies.
    wake_intake, wake_relay = db.intake.waker(), db.relays.waker()
    local = wake_intake is not None and wake_relay is not None
    async with db.writers.acquire() as conn:
        try:
            await orders.record_new(
                conn,
                order,
                event=recorded_event(order),
                topic=settings.order_events_topic,
                request_id=request.request_id,
                limits=settings.unpaid_limits,
                answer=stored,
                notify=not local,
            )
            duplicate = False
        except orders.KeyTaken:
            duplicate = True
        except orders.Refused as refused:
            # A repeat of a create that was recorded is answered as one, whatever the user holds now.
            if idem is None or not await keys.stored(conn, scope=idem.scope, key=idem.key):
                raise UnpaidLimitReached(request.user_id, refused.refusal) from None
            duplicate = True
    # The writer is back in its pool: what follows borrows other connections, never while holding one.
    if duplicate:
        assert idem is not None
        return await answer_duplicate(db, settings, idem)
    if wake_intake is not None and wake_relay is not None:
        wake_intake()
        wake_relay()
    return answer


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
        answer = answer_for(order)
        await keys.finish(conn, scope=idem.scope, key=idem.key, status=answer.status, body=answer.body.decode())
    return replace(answer, replayed=True)
