"""`task.status_changed` (CONTRACT.md "Fulfilment"): parsed as the worker's event, e-mailed only
when a task is assigned to a worker, rendered naming the task and the order."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from notifications.domain.delivery import wants_email
from notifications.domain.events import MalformedEvent, TaskStatus, TaskStatusChanged, parse_event
from notifications.email.render import EmailRenderer
from notifications.workers.push_sender import push_payload, pushed_event


def task_event(status: str, worker_id: int | None = 41, previous: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "task.status_changed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "task_id": 77,
        "order_id": 4321,
        "category": "guitars",
        "worker_id": worker_id,
        "status": status,
        "previous_status": previous,
        **extra,
    }


def test_a_task_event_parses_as_the_workers_and_keeps_unknown_fields() -> None:
    event, kept = parse_event(orjson.dumps(task_event("assigned", 41, "unassigned", shelf="B3")))
    assert isinstance(event, TaskStatusChanged)
    assert event.user_id == 41 and event.order_id == 4321 and event.known_status is TaskStatus.ASSIGNED
    assert kept["shelf"] == "B3" and event.stream_document()["shelf"] == "B3"
    waiting, _ = parse_event(orjson.dumps(task_event("unassigned", None)))
    assert waiting.user_id is None


@pytest.mark.parametrize("missing", ["task_id", "order_id", "category", "status"])
def test_a_task_event_without_what_it_is_about_is_malformed(missing: str) -> None:
    document = task_event("assigned")
    del document[missing]
    with pytest.raises(MalformedEvent):
        parse_event(orjson.dumps(document))


def test_only_an_assignment_to_a_worker_is_emailed() -> None:
    emailed = {
        status: wants_email(TaskStatusChanged.model_validate(task_event(status)))
        for status in ("assigned", "in_progress", "done", "later_status")
    }
    assert emailed == {"assigned": True, "in_progress": False, "done": False, "later_status": False}
    assert not wants_email(TaskStatusChanged.model_validate(task_event("unassigned", None)))


def test_the_assignment_email_names_task_order_category_and_status() -> None:
    event = TaskStatusChanged.model_validate(task_event("assigned", 41, "unassigned"))
    rendered = EmailRenderer("http://shop.test").render_task(event, name="Gwen <Fretwell>")
    for part in (rendered.subject, rendered.text):
        assert re.search(r"(?<![\w#])4321(?!\w)", part) and re.search(r"(?<![\w#])77(?!\w)", part), part
        assert "guitars" in part and "assigned" in part
    assert "Status: assigned" in rendered.text and "http://shop.test/tasks" in rendered.text
    assert "Gwen &lt;Fretwell&gt;" in rendered.html and "<td>assigned</td>" in rendered.html
    with pytest.raises(LookupError):
        EmailRenderer("http://shop.test").render_task(TaskStatusChanged.model_validate(task_event("done")))


def test_a_task_push_names_the_task() -> None:
    event = pushed_event(task_event("assigned", 41, "unassigned"))
    assert isinstance(event, TaskStatusChanged)
    body = orjson.loads(push_payload(event))
    assert body["task_id"] == 77 and body["order_id"] == 4321 and body["status"] == "assigned"
    assert "4321" in body["title"]
