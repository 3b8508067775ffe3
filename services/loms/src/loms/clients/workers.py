"""The active workers and their categories, read from checkout's users API
(`GET /api/v1/users?role=worker`, every page) with LOMS's `service` token (scope `users:read`).

Kept in memory for a short time (`ttl`); a miss (a category without a worker, a manager naming a
worker LOMS has not seen) refreshes it at once, at most every `min_refresh` seconds. A worker who
is no longer listed, or is listed with `active: false`, is not active: the fulfilment pass moves
their open tasks. A failed read keeps the last roster (tasks are never moved because checkout
did not answer).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import httpx

from shopcommon.problems import ServiceUnavailable
from shopcommon.service_auth import ServiceTokenProvider, get_as_service


@dataclass(frozen=True)
class Roster:
    """Active worker id -> their categories, as of `fetched_at` (monotonic seconds)."""

    workers: Mapping[int, frozenset[str]] = field(default_factory=dict)
    fetched_at: float = 0.0

    def of_category(self, category: str) -> list[int]:
        return sorted(w for w, cats in self.workers.items() if category in cats)

    def is_active(self, worker_id: int) -> bool:
        return worker_id in self.workers

    def sharing(self, categories: Iterable[str]) -> set[str]:
        """The categories, and every other category a worker of theirs works in: a worker's load
        counts their tasks of all of them, so assigning in one moves the choices of the others."""
        wanted = set(categories)
        return wanted.union(*(cats for cats in self.workers.values() if cats & wanted))


class WorkerDirectory:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: ServiceTokenProvider,
        base_url: str,
        *,
        ttl: float = 5.0,
        min_refresh: float = 1.0,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.ttl = ttl
        self.min_refresh = min_refresh
        self._roster: Roster | None = None
        self._lock = asyncio.Lock()

    @property
    def last(self) -> Roster | None:
        return self._roster

    async def roster(self) -> Roster:
        """The roster, fetched again when older than `ttl`."""
        roster = self._roster
        if roster is not None and time.monotonic() - roster.fetched_at < self.ttl:
            return roster
        return await self._refresh(max_age=self.ttl)

    async def refresh_on_miss(self, *, force: bool = False) -> Roster:
        """A fresh roster unless one was fetched within `min_refresh` seconds; with `force` (a
        person asked, e.g. a manager naming a worker) read at once whatever the last read."""
        return await self._refresh(max_age=0.0 if force else self.min_refresh)

    async def _refresh(self, max_age: float) -> Roster:
        async with self._lock:
            roster = self._roster
            if roster is not None and time.monotonic() - roster.fetched_at < max_age:
                return roster  # another caller refreshed it meanwhile
            began = time.monotonic()  # a roster is as fresh as the moment its read began
            self._roster = roster = Roster(await self._fetch_all(), began)
            return roster

    async def _fetch_all(self) -> dict[int, frozenset[str]]:
        workers: dict[int, frozenset[str]] = {}
        cursor: str | None = None
        while True:
            params = {"role": "worker", "limit": "200"}
            if cursor:
                params["cursor"] = cursor
            resp = await self._get(params)
            if resp.status_code != 200:
                raise ServiceUnavailable(f"checkout answered {resp.status_code} to the workers list")
            body = resp.json()
            for user in body.get("items", []):
                if user.get("role") != "worker" or user.get("active", True) is False:
                    continue
                workers[int(user["id"])] = frozenset(str(c) for c in user.get("categories") or ())
            cursor = body.get("next_cursor")
            if not cursor:
                return workers

    async def _get(self, params: dict[str, str]) -> httpx.Response:
        try:
            return await get_as_service(self.http, self.tokens, f"{self.base_url}/api/v1/users", params)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"checkout unreachable: {exc}") from exc
