"""Newest-first keyset pages (ids grow with time), as the order and task lists read them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


async def newest_first(
    conn: AsyncConnection,
    select: str,
    alias: str,
    from_row: Callable[[Row[Any]], T],
    *,
    equal: Mapping[str, Any],
    before_id: int | None,
    limit: int,
) -> list[T]:
    """The rows of `select` (`SELECT ... FROM table alias`) whose columns in `equal` hold the values
    given (a None value filters nothing) and whose id is below `before_id`, newest first, at most
    `limit`, each made into what `from_row` makes of it."""
    where = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    for column, value in {**equal, "before_id": before_id}.items():
        if value is None:
            continue
        where.append(f"{alias}.id < :before_id" if column == "before_id" else f"{alias}.{column} = :{column}")
        params[column] = str(value) if isinstance(value, StrEnum) else value
    sql = text(f"{select} WHERE {' AND '.join(where)} ORDER BY {alias}.id DESC LIMIT :limit")
    return [from_row(row) for row in (await conn.execute(sql, params)).all()]
