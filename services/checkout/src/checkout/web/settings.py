from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

from shopcommon.settings import shared


class WebSettings(BaseSettings):
    """The web pages' settings, read with the CHECKOUT_ prefix (the bookings URL without it)."""

    bookings_url: str = shared("SHOP_BOOKINGS_URL", "http://127.0.0.1:9004")
    #: Longest wait for one answer of the bookings service, seconds; beyond it the page says to try again.
    bookings_timeout: Annotated[float, Field(gt=0, le=60)] = 5.0
    #: The notifications service, whose live stream the pages follow through checkout's `/live`.
    notifications_url: str = shared("SHOP_NOTIFICATIONS_URL", "http://127.0.0.1:9002")
    #: Live pages (`/live`) one checkout process relays at once: each holds a connection to
    #: notifications for as long as it is open (notifications serves 1000 streams a process). One
    #: more waits a few seconds for a place, then is told to come back (503, `Retry-After`).
    live_streams_max: Annotated[int, Field(ge=1, le=100_000)] = 1000
    #: The zone booking times are shown in, an IANA name (`Europe/Moscow`: the restaurant's); empty
    #: shows them in UTC, as the bookings service sends them. Same meaning as notifications' setting.
    booking_time_zone: str = ""
    #: How often an open page asks again for what sends no events (the catalogue, the shop's stock
    #: figures), seconds; checkout answers "unchanged" (204) without a body when nothing moved.
    #: 0 turns it off: such pages then change on a reload only.
    page_refresh_seconds: Annotated[float, Field(ge=0, le=3600)] = 10.0
    #: How long a process trusts what it last read of an account (active, role), seconds: the pages
    #: of an account deactivated or given another role stop working within this (`web/standing.py`).
    standing_seconds: Annotated[float, Field(ge=0, le=60)] = 5.0

    @field_validator("booking_time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        name = name.strip()
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"not a time zone this system knows: {name!r}") from exc
        return name
