"""`make run`'s workers per service: SHOP_WORKERS when set, else the cores, capped."""

from __future__ import annotations

import os

import pytest

from shopcommon.services import MAX_DEFAULT_WORKERS, default_workers


def test_shop_workers_wins_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.setenv("SHOP_WORKERS", "0")
    assert default_workers() == 1


@pytest.mark.parametrize(("cores", "workers"), [(1, 1), (2, 2), (4, 4), (64, MAX_DEFAULT_WORKERS)])
def test_otherwise_the_cores_capped(monkeypatch: pytest.MonkeyPatch, cores: int, workers: int) -> None:
    monkeypatch.delenv("SHOP_WORKERS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert default_workers() == workers
