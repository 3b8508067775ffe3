"""Allocation: greedy by most stock, all lines or none, pure arithmetic."""

from loms.domain.allocation import Allocation, Line, Shortage, StockLevel, allocate


def levels(sku: int, **by_warehouse: int) -> list[StockLevel]:
    return [StockLevel(sku, int(wh[1:]), n) for wh, n in by_warehouse.items()]


def test_one_warehouse_with_enough_takes_the_whole_line() -> None:
    result = allocate([Line(7, 3)], levels(7, w1=2, w2=10, w3=5))
    assert result.ok
    assert result.allocations == (Allocation(7, 2, 3),)


def test_a_line_spreads_over_warehouses_most_stock_first() -> None:
    result = allocate([Line(7, 16)], levels(7, w1=4, w2=10, w3=5))
    assert result.allocations == (Allocation(7, 1, 1), Allocation(7, 2, 10), Allocation(7, 3, 5))


def test_equal_stock_prefers_the_lower_warehouse_id() -> None:
    assert allocate([Line(7, 2)], levels(7, w3=5, w1=5)).allocations == (Allocation(7, 1, 2),)


def test_exactly_all_stock_is_enough() -> None:
    assert allocate([Line(7, 9)], levels(7, w1=4, w2=5)).ok


def test_one_short_line_fails_the_whole_order_and_names_only_it() -> None:
    result = allocate([Line(1, 1), Line(2, 6)], [*levels(1, w1=10), *levels(2, w1=3, w2=2)])
    assert not result.ok
    assert result.allocations == ()
    assert result.shortages == (Shortage(2, 6, 5),)


def test_an_sku_without_stock_rows_is_short_by_everything() -> None:
    assert allocate([Line(9, 1)], []).shortages == (Shortage(9, 1, 0),)


def test_empty_and_negative_levels_are_never_allocated() -> None:
    result = allocate([Line(7, 2)], levels(7, w1=0, w2=-3, w3=2))
    assert result.allocations == (Allocation(7, 3, 2),)


def test_allocations_come_in_lock_order() -> None:
    result = allocate([Line(9, 3), Line(2, 3)], [*levels(9, w2=1, w1=5), *levels(2, w3=2, w1=1)])
    keys = [(a.sku, a.warehouse_id) for a in result.allocations]
    assert keys == sorted(keys)


def test_several_shortages_are_all_reported() -> None:
    result = allocate([Line(1, 5), Line(2, 5)], [*levels(1, w1=1), *levels(2, w1=4)])
    assert result.shortages == (Shortage(1, 5, 1), Shortage(2, 5, 4))
