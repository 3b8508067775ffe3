"""How the placer cuts its queue into batches: in arrival order, up to the batch size, and within
a budget of order lines, so a batch goes out in one piece (see `services/order_placer.py`)."""

from __future__ import annotations

import asyncio

from loms.services.order_placer import MAX_BATCH_LINES, OrderPlacer, _Pending


def queued(*lines: int, max_batch: int = 64) -> OrderPlacer:
    placer = OrderPlacer(pool=None, lanes=1, max_batch=max_batch, wake_relay=lambda: None)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        for n in lines:
            placer._queue.append(_Pending(placement=None, lines=n, done=loop.create_future()))  # type: ignore[arg-type, return-value]
    finally:
        loop.close()
    return placer


def sizes(placer: OrderPlacer) -> list[list[int]]:
    cut = []
    while placer._queue:
        cut.append([p.lines for p in placer._next_batch()])
    return cut


def test_orders_go_in_arrival_order_up_to_the_batch_size() -> None:
    assert sizes(queued(*[2] * 10, max_batch=4)) == [[2] * 4, [2] * 4, [2] * 2]


def test_a_batch_keeps_within_its_lines() -> None:
    half = MAX_BATCH_LINES // 2
    assert sizes(queued(half, half, 1, half)) == [[half, half], [1, half]]


def test_an_order_larger_than_the_budget_goes_alone() -> None:
    assert sizes(queued(1, MAX_BATCH_LINES * 3, 1)) == [[1], [MAX_BATCH_LINES * 3], [1]]
