"""Date-times as the document states them: RFC 3339 strings with an offset, nothing else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter, ValidationError

from bookings.api.schemas import Moment

MOMENT: TypeAdapter[datetime] = TypeAdapter(Moment)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2030-05-01T19:00:00+03:00", datetime(2030, 5, 1, 16, tzinfo=UTC)),
        ("2030-05-01T19:00:00Z", datetime(2030, 5, 1, 19, tzinfo=UTC)),
        ("2030-05-01t19:00:00z", datetime(2030, 5, 1, 19, tzinfo=UTC)),  # RFC 3339 allows lower case
        ("2030-05-01T19:00:00-00:00", datetime(2030, 5, 1, 19, tzinfo=UTC)),
        ("2030-05-01T19:00:00.5+05:30", datetime(2030, 5, 1, 13, 30, 0, 500000, tzinfo=UTC)),
        ("2030-05-01T19:00:00.123456789Z", datetime(2030, 5, 1, 19, 0, 0, 123456, tzinfo=UTC)),  # ns cut to us
        ("2028-02-29T00:00:00Z", datetime(2028, 2, 29, tzinfo=UTC)),
        # UTC cannot express these: the earliest and latest moments there are.
        ("0001-01-01T00:00:00+23:59", datetime.min.replace(tzinfo=UTC)),
        ("9999-12-31T23:59:59-23:59", datetime.max.replace(tzinfo=UTC)),
        ("0001-01-01T00:00:00-01:00", datetime(1, 1, 1, 1, tzinfo=UTC)),
    ],
)
def test_an_rfc3339_moment_is_read_in_utc(text: str, utc: datetime) -> None:
    value = MOMENT.validate_python(text)
    assert value == utc and value.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value",
    [
        0.5,  # pydantic's own datetime reads numbers as Unix times
        1900000000,
        "1900000000",
        "0.5",
        True,
        "2030-05-01T19:00:00",  # no offset
        "2030-05-01",
        "2030-05-01 19:00:00Z",
        "2030-05-01T19:00Z",
        "2030-05-01T19:00:60Z",  # leap second: not in the pattern
        "2030-05-01T24:00:00Z",
        "2030-05-01T19:00:00+24:00",
        "2030-05-01T19:00:00+0300",
        "2030-04-31T19:00:00Z",  # the pattern's day, but no such date
        "2027-02-29T19:00:00Z",
        "0000-01-01T00:00:00Z",
        "2030-05-01T19:00:00Z\n",
        "\u0662\u0660\u0663\u0660-05-01T19:00:00Z",  # Arabic-Indic digits: `\d` in Python, not in ECMA-262
        "+2030-05-01T19:00:00Z",
    ],
)
def test_anything_else_is_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        MOMENT.validate_python(value)
