"""What shopping's routes take from the request: the per-process `Shopping` (built in `lifespan`),
the signed-in user, the scoped `Idempotency-Key`."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request

from checkout.shopping.lifespan import Shopping
from shopcommon.auth import CurrentPrincipal, Principal, Scope
from shopcommon.problems import Forbidden


def get_shopping(request: Request) -> Shopping:
    """The container, for code that holds the request (the web pages call it directly)."""
    shopping: Shopping = request.app.state.shopping
    return shopping


async def _shopping_dependency(request: Request) -> Shopping:
    # `async`: FastAPI runs a plain-function dependency on its thread pool, a thread hand-off per
    # request for what is an attribute read (bench/checkout/README.md).
    return get_shopping(request)


ShoppingDep = Annotated[Shopping, Depends(_shopping_dependency)]


def own_user_id(principal: Principal) -> int:
    """The caller's own user id: carts and orders belong to people, not to services."""
    if principal.user_id is None:
        raise Forbidden("This endpoint acts for the signed-in user; a service must name the user")
    return principal.user_id


async def _current_user_id(principal: CurrentPrincipal) -> int:
    return own_user_id(principal)


#: The signed-in person's id, checked before the body is read (a service caller is 403, not 422).
CurrentUserId = Annotated[int, Depends(_current_user_id)]


def user_caller(user_id: int) -> str:
    """Who a lookup quota charges for a request acting for this user (whoever sends it)."""
    return f"user:{user_id}"


def address_caller(address: str) -> str:
    """Who a lookup quota charges for an anonymous request: its client's address."""
    return f"ip:{address}"


def user_acting_for(principal: Principal, user_id: int) -> int:
    """`user_id`, if the caller may act for them: managers and services for anyone, others for themself."""
    principal.ensure_scope(Scope.ORDERS_WRITE)
    if not principal.can_act_for(user_id, Scope.ORDERS_WRITE):
        raise Forbidden("You may only act for yourself")
    return user_id


#: LOMS's rule for keys (printable ASCII, no spaces), so a key checkout takes LOMS takes too.
IdempotencyKey = Annotated[
    str | None, Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
]


@dataclass(frozen=True)
class ClientKey:
    """A client's `Idempotency-Key` with what CONTRACT.md scopes it to: the caller and the route."""

    key: str
    #: `<role>:<subject>` of the token that sent it (a manager acting for a user is not that user).
    caller: str
    #: `<method> <path template>`.
    route: str

    def scoped(self) -> str:
        """The key as checkout sends it to LOMS (where checkout is the one caller of every order it
        places) and remembers answers under: two callers or two routes never share one."""
        scope = orjson.dumps([self.caller, self.route, self.key])
        return "client:" + hashlib.sha256(scope).hexdigest()[:40]


async def _client_key(
    request: Request, principal: CurrentPrincipal, idempotency_key: IdempotencyKey = None
) -> ClientKey | None:
    if idempotency_key is None:
        return None
    route = getattr(request.scope.get("route"), "path", None) or request.url.path
    return ClientKey(idempotency_key, f"{principal.role}:{principal.subject}", f"{request.method} {route}")


#: The request's `Idempotency-Key`, scoped to its caller and route (None without one).
ScopedIdempotencyKey = Annotated[ClientKey | None, Depends(_client_key)]


async def run_together(*calls: Awaitable[Any]) -> list[Any]:
    """Await several calls at once; the first failure is raised as itself (not as a group)."""
    tasks: list[asyncio.Task[Any]] = []
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(_awaited(call)) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]


async def _awaited(call: Awaitable[Any]) -> Any:
    return await call


__all__ = [
    "ClientKey",
    "CurrentUserId",
    "IdempotencyKey",
    "ScopedIdempotencyKey",
    "Shopping",
    "ShoppingDep",
    "address_caller",
    "get_shopping",
    "own_user_id",
    "run_together",
    "user_acting_for",
    "user_caller",
]
