"""Whether the account behind a page's access token still stands as the token says: active, and
in the role the token names. The token alone stays good until it expires (up to
`CHECKOUT_ACCESS_TOKEN_TTL`), so a manager deactivated or made a customer kept the desk's powers
that long; the pages now ask the account, remembering each answer a few seconds per process."""

from __future__ import annotations

import time

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity import queries

#: Accounts remembered at once; beyond it the memory starts again (a burst of distinct visitors).
MAX_REMEMBERED = 10_000


class Standings:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, remember_seconds: float) -> None:
        self._sessionmaker = sessionmaker
        self._remember = remember_seconds
        self._seen: dict[int, tuple[float, str | None]] = {}

    async def role(self, user_id: int) -> str | None:
        """The account's role while it is active; None once deactivated or deleted."""
        now = time.monotonic()
        seen = self._seen.get(user_id)
        if seen is not None and now - seen[0] < self._remember:
            return seen[1]
        async with self._sessionmaker() as session:
            role = await queries.standing_role(session, user_id)
        if len(self._seen) >= MAX_REMEMBERED:
            self._seen.clear()
        self._seen[user_id] = (now, role)
        return role
