"""Newest-first keyset pages (ids grow with time), as the order and task lists read them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from sqlalchemy import TextClause, text


def newest_first(
    select: str, alias: str, *, equal: Mapping[str, Any], before_id: int | None, limit: int
) -> tuple[TextClause, dict[str, Any]]:
    """`select` (`SELECT ... FROM table alias`) limited to the rows whose columns in `equal` hold the
    values given (a None value filters nothing) and whose id is below `before_id`, newest first."""
    where = ["TRUE"]
    params: dict[str, Any] = {"limit": limit}
    for column, value in {**equal, "before_id": before_id}.items():
        if value is None:
            continue
        where.append(f"{alias}.id < :before_id" if column == "before_id" else f"{alias}.{column} = :{column}")
        params[column] = str(value) if isinstance(value, StrEnum) else value
    return text(f"{select} WHERE {' AND '.join(where)} ORDER BY {alias}.id DESC LIMIT :limit"), params
