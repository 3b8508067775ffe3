"""Spreading an order over warehouses: pure arithmetic on locked stock rows.

Greedy by most stock: each line takes from the warehouse with the most units still available,
then the next, so big warehouses drain first and an order touches as few warehouses as it can.
All lines or none: one short line fails the whole order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Line:
    sku: int
    count: int


@dataclass(frozen=True)
class StockLevel:
    sku: int
    warehouse_id: int
    available: int


@dataclass(frozen=True)
class Allocation:
    sku: int
    warehouse_id: int
    count: int


@dataclass(frozen=True)
class Shortage:
    sku: int
    requested: int
    available: int

    def as_dict(self) -> dict[str, int]:
        return {"sku": self.sku, "requested": self.requested, "available": self.available}


@dataclass(frozen=True)
class AllocationResult:
    allocations: tuple[Allocation, ...] = ()
    shortages: tuple[Shortage, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.shortages


def allocate(lines: Sequence[Line], levels: Iterable[StockLevel]) -> AllocationResult:
    by_sku: dict[int, list[StockLevel]] = defaultdict(list)
    for level in levels:
        if level.available > 0:
            by_sku[level.sku].append(level)
    allocations: list[Allocation] = []
    shortages: list[Shortage] = []
    for line in sorted(lines, key=lambda x: x.sku):
        candidates = sorted(by_sku.get(line.sku, ()), key=lambda s: (-s.available, s.warehouse_id))
        available = sum(s.available for s in candidates)
        if available < line.count:
            shortages.append(Shortage(line.sku, line.count, available))
            continue
        remaining = line.count
        for level in candidates:
            take = min(remaining, level.available)
            allocations.append(Allocation(line.sku, level.warehouse_id, take))
            remaining -= take
            if remaining == 0:
                break
    if shortages:
        return AllocationResult(shortages=tuple(shortages))
    allocations.sort(key=lambda a: (a.sku, a.warehouse_id))
    return AllocationResult(allocations=tuple(allocations))
