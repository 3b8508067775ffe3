"""A worker's board (`/tasks`) through real processes: all the work still to do is on it, however
many tasks the worker has finished since (once, the board was the newest 50 of any status, and an
old task still to do fell off it behind fifty done ones)."""

from __future__ import annotations

import re
import uuid

import pytest

from .conftest import System, bearer, new_customer
from .test_bookings_flow import CSRF_FIELD
from .test_fulfilment_flow import DEMO_PASSWORD, eventually, order_of, paid_order, sku_of

pytestmark = pytest.mark.timeout(240)
TASK_CARD = re.compile(r'data-task-id="(\d+)"')
DONE_SINCE = 51


async def test_an_old_task_still_to_do_stays_on_the_board_behind_many_done(system: System) -> None:
    admin = await bearer(system, "admin", DEMO_PASSWORD)
    customer = await new_customer(system, admin)
    name, password = "wk" + uuid.uuid4().hex[:10], "correct-horse-1"
    async with system.client("checkout") as api:
        made = await api.post("/api/v1/users", headers=admin,
                              json={"username": name, "email": f"{name}@workers.test", "password": password,
                                    "role": "worker", "categories": ["wind"]})  # fmt: skip
        assert made.status_code == 201, made.text
        worker_id = made.json()["id"]
        mine = await bearer(system, name, password)
        sku = await sku_of(system, "wind", at_least=DONE_SINCE + 10)

        task_ids = []
        for _ in range(DONE_SINCE + 1):
            order_id = await paid_order(system, customer, [sku])
            order = await eventually(lambda: order_of(system, customer["headers"], order_id),  # noqa: B023
                                     lambda o: len(o["tasks"]) == 1)  # fmt: skip
            task_ids.append(order["tasks"][0]["task_id"])
        for task_id in task_ids:
            moved = await api.post(f"/api/v1/tasks/{task_id}/assign", json={"worker_id": worker_id}, headers=admin)
            assert moved.status_code == 200, moved.text
        oldest, *later = task_ids
        for task_id in later:  # the worker finishes every task but the oldest
            for step in ("start", "done"):
                r = await api.post(f"/api/v1/tasks/{task_id}/{step}", headers=mine)
                assert r.status_code == 200, r.text

    async with system.client("checkout") as web:
        landing = await web.get("/")
        token = CSRF_FIELD.search(landing.text)
        assert token
        signed = await web.post("/login", data={"csrf_token": token.group(1), "username": name, "password": password})
        assert signed.status_code == 303, signed.text
        board = await web.get("/tasks")
    assert board.status_code == 200, board.text[:500]
    shown = [int(i) for i in TASK_CARD.findall(board.text)]
    assert shown[0] == oldest, shown[:5]  # the work still to do comes first
    card = board.text.split(f'data-task-id="{oldest}"', 1)[1].split("</article>", 1)[0]
    assert "Start</button>" in card
    assert later[-1] in shown and len(set(shown) & set(later)) <= 20  # the newest of what is done
    # Start and Done pressed twice (a double click) show the board with the task moved, not an error.
    async with system.client("checkout") as web:
        landing = await web.get("/")
        signed = await web.post("/login", data={"csrf_token": CSRF_FIELD.search(landing.text).group(1),  # type: ignore[union-attr]
                                                "username": name, "password": password})  # fmt: skip
        assert signed.status_code == 303, signed.text
        form = {"csrf_token": CSRF_FIELD.search((await web.get("/tasks")).text).group(1)}  # type: ignore[union-attr]
        for step in ("start", "start", "done", "done"):
            pressed = await web.post(f"/tasks/{oldest}/{step}", data=form)
            assert pressed.status_code == 303, (step, pressed.text[:500])
        pressed = await web.post(f"/tasks/{oldest}/start", data=form)  # a task done cannot start again
        assert pressed.status_code == 409, pressed.text[:500]
