"""The choice of a worker and the split of an order into tasks, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from loms.domain.tasks import UNKNOWN_CATEGORY, TaskItem, WorkerLoad, choose_worker, split_by_category

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_fewest_open_tasks_win_whatever_the_last_assignment() -> None:
    loads = [WorkerLoad(1, 3, None), WorkerLoad(2, 2, T0), WorkerLoad(3, 4, None)]
    assert choose_worker(loads) == loads[1]


def test_a_tie_goes_to_the_oldest_last_assignment_and_never_assigned_is_oldest() -> None:
    tied = [WorkerLoad(1, 2, T0 + timedelta(seconds=5)), WorkerLoad(2, 2, T0), WorkerLoad(3, 5, None)]
    assert choose_worker(tied).worker_id == 2  # type: ignore[union-attr]
    fresh = [WorkerLoad(4, 2, T0), WorkerLoad(9, 2, None), WorkerLoad(7, 2, None)]
    assert choose_worker(fresh).worker_id == 7  # type: ignore[union-attr]


def test_no_workers_no_choice() -> None:
    assert choose_worker([]) is None


def test_an_order_splits_into_one_task_per_category_with_its_lines_by_sku() -> None:
    categories = {10: "guitars", 11: "drums", 12: "guitars"}
    split = split_by_category([(12, 1), (11, 4), (10, 2), (99, 1)], categories)
    assert split == {
        "guitars": [TaskItem(10, 2), TaskItem(12, 1)],
        "drums": [TaskItem(11, 4)],
        UNKNOWN_CATEGORY: [TaskItem(99, 1)],
    }
