import base64
from datetime import UTC, datetime

import pytest
from pydantic import AwareDatetime

from shopcommon.pagination import (
    After,
    BadCursor,
    Before,
    CursorId,
    Position,
    decode_cursor,
    encode_cursor,
    newest_first,
    split_page,
)
from shopcommon.testing.cursors import forged_cursor


class ByStart(Position):
    s: AwareDatetime
    i: CursorId


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor(After(after=12)), After) == After(after=12)
    moment = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert decode_cursor(encode_cursor(ByStart(s=moment, i=2**63 - 1)), ByStart) == ByStart(s=moment, i=2**63 - 1)


def test_cursors_issued_before_positions_were_models_still_read() -> None:
    """The JSON is the same as when positions were dicts, so a page open across an upgrade goes on."""
    assert base64.urlsafe_b64decode(encode_cursor(Before(before=41)) + "==") == b'{"before":41}'
    assert decode_cursor(forged_cursor({"s": "2026-12-07T09:30:00+00:00", "i": 3}), ByStart) == ByStart(
        s=datetime(2026, 12, 7, 9, 30, tzinfo=UTC), i=3
    )


def test_no_cursor_means_first_page() -> None:
    assert decode_cursor(None, After) is None
    assert decode_cursor("", After) is None


@pytest.mark.parametrize(
    "cursor",
    [
        "%%%",
        "bm90IGpzb24",
        forged_cursor({"other": 1}),
        forged_cursor([1]),
        forged_cursor({"after": "1 OR 1=1"}),
        forged_cursor({"after": "7"}),
        forged_cursor({"after": True}),
        forged_cursor({"after": 1.5}),
        forged_cursor({"after": -1}),
        forged_cursor({"after": 2**63}),
        forged_cursor({"after": None}),
        forged_cursor({"after": 1, "at": 2}),
    ],
)
def test_made_up_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor, After)


@pytest.mark.parametrize(
    "position", [{"s": 5, "i": 1}, {"s": "tomorrow", "i": 1}, {"s": "2026-12-07T09:30:00", "i": 1}, {"s": "x"}]
)
def test_a_composite_position_is_checked_field_by_field(position: object) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(forged_cursor(position), ByStart)


def test_split_page_keeps_limit_rows_and_names_the_last_when_more_follow() -> None:
    rows = [{"id": 9}, {"id": 7}, {"id": 4}]
    assert split_page(rows, 2, lambda row: row["id"]) == ([{"id": 9}, {"id": 7}], 7)


def test_split_page_on_the_last_page_has_no_next_key() -> None:
    assert split_page([3, 2], 2, lambda n: n) == ([3, 2], None)
    assert split_page([3], 2, lambda n: n) == ([3], None)
    assert split_page([], 2, lambda n: n) == ([], None)


async def test_newest_first_walks_every_id_once_then_stops() -> None:
    ids = [9, 7, 6, 3, 1]
    asked: list[tuple[int | None, int]] = []

    async def fetch(before: int | None, n: int) -> list[int]:
        asked.append((before, n))
        return [i for i in ids if before is None or i < before][:n]

    seen, cursor = await newest_first(fetch, None, 2, lambda i: i)
    pages = [seen]
    while cursor is not None:
        page, cursor = await newest_first(fetch, cursor, 2, lambda i: i)
        pages.append(page)
    assert pages == [[9, 7], [6, 3], [1]]
    assert asked == [(None, 3), (7, 3), (3, 3)]


async def test_newest_first_refuses_a_cursor_of_another_shape() -> None:
    async def fetch(before: int | None, n: int) -> list[int]:
        raise AssertionError("nothing is read for a bad cursor")

    with pytest.raises(BadCursor):
        await newest_first(fetch, encode_cursor(After(after=3)), 2, lambda i: i)
