"""User endpoints: register, read and change your own account; managers manage everyone's;
services read any account (notifications needs the address, fulfilment the workers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from checkout.identity import accounts, users
from checkout.identity.lifespan import Identity, get_identity
from checkout.identity.schemas import Category, User, UserCreate, UserRole, UserUpdate, user_out
from checkout.identity.web import client_ip
from shopcommon.auth import Principal, Role, Scope, require_roles, roles_doc
from shopcommon.db import ReadSessionDep, SessionDep
from shopcommon.pagination import BadCursor, CursorQuery, Page, decode_cursor, encode_cursor
from shopcommon.problems import problem_responses

router = APIRouter(prefix="/api/v1/users", tags=["users"])
IdentityDep = Annotated[Identity, Depends(get_identity)]
PEOPLE = (Role.CUSTOMER, Role.WORKER, Role.MANAGER)
Person = Annotated[Principal, require_roles(*PEOPLE)]
PersonOrService = Annotated[Principal, require_roles(*PEOPLE, Role.SERVICE, scope=Scope.USERS_READ)]
Staff = Annotated[Principal, require_roles(Role.MANAGER, Role.SERVICE, scope=Scope.USERS_READ)]
UserId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ONE_USER: dict[str, Any] = {"response_model": User}


@router.post(
    "", status_code=201, **ONE_USER, responses=problem_responses(409, 422, 429), openapi_extra=roles_doc(),
    summary="Register a customer account (a `role` in the body is refused)",
    description="Limited per IP address (`CHECKOUT_REGISTRATIONS_PER_IP` a minute; 429 with `Retry-After`).",
)  # fmt: skip
async def register_user(
    body: UserCreate, request: Request, session: SessionDep, identity: IdentityDep
) -> dict[str, Any]:
    return user_out(await accounts.register(session, identity, body, ip=client_ip(request)))


@router.get(
    "/me", **ONE_USER, responses=problem_responses(401, 403), openapi_extra=roles_doc(*PEOPLE),
    summary="Your own account",
)  # fmt: skip
async def read_me(principal: Person, session: ReadSessionDep) -> dict[str, Any]:
    return user_out(await users.get_me(session, principal))


@router.get(
    "", response_model=Page[User], responses=problem_responses(400, 401, 403, 422),
    openapi_extra=roles_doc(Role.MANAGER, Role.SERVICE, scope=Scope.USERS_READ),
    summary="Every account in id order; `role` and `category` filter (e.g. the workers of a category)",
    description=(
        "Managers list everyone. `service` callers may list accounts too: LOMS reads the workers of a "
        "product category (`?role=worker&category=...`) to assign fulfilment tasks."
    ),
)  # fmt: skip
async def list_users(
    principal: Staff,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
    role: UserRole | None = None,
    category: Annotated[Category | None, Query()] = None,
) -> dict[str, Any]:
    position = decode_cursor(cursor, "after")
    after = position["after"] if position else 0
    if not isinstance(after, int) or isinstance(after, bool):
        raise BadCursor("The cursor is not one this service issued.")
    rows, next_after = await users.list_users(session, role=role, category=category, after_id=after, limit=limit)
    items = [User.model_validate(user_out(row)) for row in rows]
    return {"items": items, "next_cursor": encode_cursor({"after": next_after}) if next_after else None}


@router.get(
    "/{user_id}", **ONE_USER, responses=problem_responses(401, 403, 404, 422),
    openapi_extra=roles_doc(*PEOPLE, Role.SERVICE, scope=Scope.USERS_READ),
    summary="One account: your own; managers and services any (another's is 404 to everyone else)",
)  # fmt: skip
async def read_user(user_id: UserId, principal: PersonOrService, session: ReadSessionDep) -> dict[str, Any]:
    return user_out(await users.read_user(session, principal, user_id))


@router.patch(
    "/{user_id}", **ONE_USER, responses=problem_responses(401, 403, 404, 409, 422, 429),
    openapi_extra=roles_doc(*PEOPLE),
    summary="Change an account: your own (not its role); managers any, roles and categories included",
    description=(
        "Changing your own `password` or `email` needs `current_password` (403 without it or when wrong); "
        "wrong ones count against the sign-in limits (429). Either change ends the account's sessions."
    ),
)  # fmt: skip
async def update_user(
    user_id: UserId, body: UserUpdate, request: Request, principal: Person, session: SessionDep, identity: IdentityDep
) -> dict[str, Any]:
    return user_out(await accounts.update_user(session, identity, principal, user_id, body, ip=client_ip(request)))


@router.delete(
    "/{user_id}", status_code=204, responses=problem_responses(401, 403, 404, 422), openapi_extra=roles_doc(*PEOPLE),
    summary="Delete an account: your own; managers any",
)  # fmt: skip
async def delete_user(user_id: UserId, principal: Person, session: SessionDep) -> Response:
    await users.delete_user(session, principal, user_id)
    return Response(status_code=204)
