import pytest

from shopcommon.pagination import BadCursor, decode_cursor, encode_cursor


def test_cursor_round_trips() -> None:
    assert decode_cursor(encode_cursor({"after": 12, "at": "2026-01-01"}), "after") == {"after": 12, "at": "2026-01-01"}


def test_no_cursor_means_first_page() -> None:
    assert decode_cursor(None, "after") is None
    assert decode_cursor("", "after") is None


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor({"other": 1}), encode_cursor([1])])  # type: ignore[arg-type]
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadCursor):
        decode_cursor(cursor, "after")
