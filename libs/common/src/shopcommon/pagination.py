"""Cursor pages: `?limit&cursor` -> `{items, next_cursor}`; cursors are opaque keyset positions.

A cursor is a `Position` (a small model naming the keys a list resumes after) as base64url JSON.
`decode_cursor` checks the position the way a request body is checked, so a cursor a client made
up or edited (a key missing, a string for an id, `true`, a number past a bigint) is a 400
`bad-cursor`, never a page from the start and never a 500.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, ConfigDict, Field

from shopcommon.problems import ProblemError

T = TypeVar("T")
K = TypeVar("K")

LimitQuery = Annotated[int, Query(ge=1, le=200, description="Page size (1..200).")]
CursorQuery = Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")]

#: A row id (or other bigint key) as a cursor carries it: a JSON integer, 0 to 2**63 - 1.
CursorId = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class BadCursor(ProblemError):
    status, title, slug = 400, "Bad cursor", "bad-cursor"


class Position(BaseModel):
    """Where a page ends; a list declares its own subclass when `After` or `Before` do not fit."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class After(Position):
    """Ascending keyset: the next page starts after this key."""

    after: CursorId


class Before(Position):
    """Newest first: the next page holds the ids below this one."""

    before: CursorId


P = TypeVar("P", bound=Position)


def encode_cursor(position: Position) -> str:
    return base64.urlsafe_b64encode(position.model_dump_json().encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, position: type[P]) -> P | None:
    """The position `cursor` holds; None for no cursor (the first page); `BadCursor` for any other."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return position.model_validate_json(raw)
    except (binascii.Error, ValueError) as exc:  # pydantic's ValidationError is a ValueError
        raise BadCursor("The cursor is not one this service issued.") from exc


def split_page(found: Sequence[T], limit: int, key: Callable[[T], K]) -> tuple[list[T], K | None]:
    """A page from rows read `limit + 1` at a time (the extra row only tells that another page
    follows): the first `limit`, and `key` of the last of them when more follow, else None."""
    page = list(found[:limit])
    return page, (key(page[-1]) if len(found) > limit and page else None)


async def newest_first(
    fetch: Callable[[int | None, int], Awaitable[Sequence[T]]],
    cursor: str | None,
    limit: int,
    id_of: Callable[[T], int],
) -> tuple[list[T], str | None]:
    """One page of a list kept newest first and paged by id: `fetch(before_id, n)` reads up to `n`
    rows with ids below `before_id` (None: from the newest); the page and the next page's cursor."""
    position = decode_cursor(cursor, Before)
    found, last = split_page(await fetch(position.before if position else None, limit + 1), limit, id_of)
    return found, None if last is None else encode_cursor(Before(before=last))
