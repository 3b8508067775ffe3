"""Who a task's worker is, in words: the names of accounts by id, read from identity's own tables
(checkout holds them) for showing only; nobody is changed here and nothing else of the account is
shown. A customer's order page names the worker preparing each part of it; the desk offers a
task to the workers of its category."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import Request

from checkout.identity import queries
from checkout.identity.schemas import UserRole
from checkout.identity.usecases import accounts
from shopcommon.auth import Principal


def display_name(first: str, last: str, username: str) -> str:
    full = f"{first} {last}".strip()
    return full or username


async def names(request: Request, ids: Iterable[int | None]) -> dict[int, str]:
    """`{id: "Wanda Worker"}` for the accounts that exist among `ids` (at most 200: a page of the desk)."""
    wanted = [i for i in dict.fromkeys(ids) if i is not None][:200]
    if not wanted:
        return {}
    async with request.app.state.read_sessionmaker() as session:
        parts = await queries.name_parts(session, wanted)
    return {user_id: display_name(*parts[user_id]) for user_id in wanted if user_id in parts}


async def workers(request: Request, manager: Principal) -> list[dict[str, Any]]:
    """The workers' accounts (at most 200), as the manager may list them: whom a task can be assigned to."""
    async with request.app.state.read_sessionmaker() as session:
        listing = await accounts.list_users(session, manager, role=UserRole.WORKER, category=None, cursor=None,
                                            limit=200)  # fmt: skip
    return [w.model_dump() for w in listing.items]
