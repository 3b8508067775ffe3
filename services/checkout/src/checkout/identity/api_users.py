"""User endpoints: register, read and change your own account; managers manage everyone's;
services read any account (notifications needs the address, fulfilment the workers)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request, Response

from checkout.identity import rules
from checkout.identity.deps import IdentityDep
from checkout.identity.lifespan import Identity
from checkout.identity.queries import Account
from checkout.identity.schemas import (
    Accepted,
    Category,
    ResendVerification,
    User,
    UserCreate,
    UserRole,
    UserUpdate,
    VerifyEmail,
    user_out,
)
from checkout.identity.usecases import accounts, verification
from checkout.identity.web import client_ip
from shopcommon.access import PUBLIC, access
from shopcommon.auth import Principal, Role, Scope, bearer_credentials, principal_of, require_roles
from shopcommon.db import ReadSessionDep, SessionDep
from shopcommon.pagination import CursorQuery, Page
from shopcommon.validation import MAX_JSON_INT

router = APIRouter(prefix="/api/v1/users", tags=["users"])
PEOPLE = (Role.CUSTOMER, Role.WORKER, Role.MANAGER)
Person = Annotated[Principal, require_roles(*PEOPLE)]
PEOPLE_ONLY = access(*PEOPLE)
PersonOrService = Annotated[Principal, require_roles(*PEOPLE, Role.SERVICE, scope=Scope.USERS_READ)]
Staff = Annotated[Principal, require_roles(Role.MANAGER, Role.SERVICE, scope=Scope.USERS_READ)]
UserId = Annotated[int, Path(ge=1, le=MAX_JSON_INT)]
#: Only digits reach the routes of one account: `/me`, `/verify-email` and any other word under
#: /users are not ids, so a method those paths lack is a 405 there, not a 422 about `user_id`. The
#: document keeps the plain template (`/api/v1/users/{user_id}`).
ONE_ACCOUNT = "/{user_id:int}"
ONE_USER: dict[str, Any] = {"response_model": User}
#: OpenAPI links from a new account to the operations on it (its `id` is their `user_id`), so a
#: client or a stateful fuzzer follows the real id rather than guessing a field.
ACCOUNT_LINKS = {
    name: {"operationId": operation, "parameters": {"user_id": "$response.body#/id"}}
    for name, operation in (("ReadUser", "read_user"), ("UpdateUser", "update_user"), ("DeleteUser", "delete_user"))
}


def _mail_confirmation(background: BackgroundTasks, identity: Identity, row: Account, token: str | None) -> User:
    """The account as answered, its confirmation mailed after the answer (when there is one)."""
    if token is not None:
        background.add_task(verification.send, identity, email=row.email, token=token)
    return user_out(row)


async def _signed_in(request: Request) -> Principal | None:
    """Who a registration comes from when it carries a bearer token (a bad token is 401, not an
    anonymous registration)."""
    if bearer_credentials(request) is None:
        return None
    return await principal_of(request)


@router.post(
    "", status_code=201, **ONE_USER,
    **PUBLIC.doc(401, 403, 409, 422, 429, answers={201: {"description": "The new account", "links": ACCOUNT_LINKS}}),
    summary="Register a customer account; managers create any (workers with `role` and `categories`)",
    description=(
        "The account starts unconfirmed: a confirmation token is mailed to `email`, and until the account "
        "confirms it (`POST /api/v1/users/verify-email` with the token and the password) it cannot sign in "
        "(403 `email-unverified`), gets no one-time codes and no other mail. An address is taken (409) only "
        "once an account has confirmed it. With a manager's bearer token the account is created confirmed "
        "and nothing is mailed; only then may the body name a `role` and a worker's `categories` (422 from "
        "anonymous callers, 403 from other signed-in people). Limited per IP address (`CHECKOUT_REGISTRATIONS_PER_IP` a minute; 429 with "
        "`Retry-After`)."
    ),
)  # fmt: skip
async def register_user(
    body: UserCreate, request: Request, background: BackgroundTasks, session: SessionDep, identity: IdentityDep
) -> User:
    caller = await _signed_in(request)
    rules.ensure_may_create(caller, body)
    by_staff = caller is not None and caller.role == Role.MANAGER
    if caller is not None:
        await accounts.ensure_manager_now(session, caller)
    row, token = await accounts.register(session, identity, body, ip=client_ip(request), by_staff=by_staff)
    return _mail_confirmation(background, identity, row, token)


@router.post(
    "/verify-email", **ONE_USER, **PUBLIC.doc(400, 401, 409, 422, 429),
    summary="Confirm an account's email address with the emailed token and the account's password",
    description=(
        "The token (from the confirmation mail) proves the mailbox; the password proves the account's "
        "owner, so a link clicked by someone who did not register confirms nothing. Tokens work once and "
        "expire after `CHECKOUT_EMAIL_VERIFICATION_TTL` seconds (a day). 400 `invalid-verification-token` "
        "for an unknown, used or expired token or one sent to an address the account no longer holds; 401 "
        "for a wrong password (counted as a failed sign-in); 409 `email-taken` when another account "
        "confirmed the address first. Confirming deletes every other unconfirmed registration of the "
        "address."
    ),
)  # fmt: skip
async def verify_email(body: VerifyEmail, request: Request, session: SessionDep, identity: IdentityDep) -> User:
    row = await verification.confirm(session, identity, token=body.token, password=body.password, ip=client_ip(request))
    return user_out(row)


@router.post(
    "/verify-email/resend", status_code=202, response_model=Accepted, **PUBLIC.doc(422, 429),
    summary="Mail a new confirmation token; the same answer whatever the address",
    description=(
        "A new token goes to the address for each account (the newest three) that holds it unconfirmed; "
        "nothing for an unknown or confirmed address. Earlier tokens stay valid. Limited per IP and per "
        "address (`CHECKOUT_VERIFICATION_REQUESTS_PER_IP`, `..._PER_EMAIL`, 5 a minute); one address gets "
        "at most `CHECKOUT_VERIFICATION_EMAILS_PER_DAY` (5) confirmation mails a day."
    ),
)  # fmt: skip
async def resend_verification(
    body: ResendVerification, request: Request, background: BackgroundTasks, identity: IdentityDep
) -> Accepted:
    await verification.request_resend(identity, email=body.email, ip=client_ip(request))
    background.add_task(verification.resend, request.app.state.sessionmaker, identity, email=body.email)
    return Accepted(detail="If an account is waiting to confirm that address, a confirmation is on its way.")


@router.get(
    "/me", **ONE_USER, **PEOPLE_ONLY.doc(),
    summary="Your own account",
)  # fmt: skip
async def read_me(principal: Person, session: ReadSessionDep) -> User:
    return user_out(await accounts.read_me(session, principal))


@router.get(
    "", response_model=Page[User], **access(Role.MANAGER, Role.SERVICE, scope=Scope.USERS_READ).doc(400, 422),
    summary="Every account in id order; `role` and `category` filter (e.g. the workers of a category)",
    description=(
        "Managers list everyone. `service` callers may list accounts too: LOMS reads the workers of a "
        "product category (`?role=worker&category=...`, each with `active`) to assign fulfilment tasks."
    ),
)  # fmt: skip
async def list_users(
    principal: Staff,
    session: ReadSessionDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: CursorQuery = None,
    role: UserRole | None = None,
    category: Annotated[Category | None, Query()] = None,
) -> Page[User]:
    return await accounts.list_users(session, principal, role=role, category=category, cursor=cursor, limit=limit)


@router.get(
    ONE_ACCOUNT, **ONE_USER, **access(*PEOPLE, Role.SERVICE, scope=Scope.USERS_READ).doc(404, 422),
    summary="One account: your own; managers and services any (another's is 404 to everyone else)",
)  # fmt: skip
async def read_user(user_id: UserId, principal: PersonOrService, session: ReadSessionDep) -> User:
    return await accounts.read_user(session, principal, user_id)


@router.patch(
    ONE_ACCOUNT, **ONE_USER, **PEOPLE_ONLY.doc(404, 409, 422, 429),
    summary="Change an account: your own (not its role); managers any, roles and categories included",
    description=(
        "Only managers set `role`, `categories` and `active` (403 from anyone else). `active: false` "
        "deactivates the account: its sessions end (its refresh tokens at once, its web pages within "
        "seconds; an access token an API client already holds works until it expires, "
        "`CHECKOUT_ACCESS_TOKEN_TTL`), and it cannot sign in by password, code or refresh "
        "token until made active again; LOMS moves a deactivated worker's open tasks to others. What a manager's token does here is checked against the account as it is now: one deactivated or no longer a manager is 403 `not-a-manager-now`. Changing your own `password` or `email` needs `current_password` (403 without it or when wrong); "
        "wrong ones count against the sign-in limits (429). Either change ends the account's sessions. "
        "A new `email` is unconfirmed until the account confirms it (a token is mailed to it; "
        "`POST /api/v1/users/verify-email`): no one-time codes or other mail go to it until then."
    ),
)  # fmt: skip
async def update_user(
    user_id: UserId,
    body: UserUpdate,
    request: Request,
    background: BackgroundTasks,
    principal: Person,
    session: SessionDep,
    identity: IdentityDep,
) -> User:
    row, token = await accounts.update_user(session, identity, principal, user_id, body, ip=client_ip(request))
    return _mail_confirmation(background, identity, row, token)


@router.delete(
    ONE_ACCOUNT, status_code=204, **PEOPLE_ONLY.doc(404, 422),
    summary="Delete an account: your own; managers any",
)  # fmt: skip
async def delete_user(user_id: UserId, principal: Person, session: SessionDep) -> Response:
    await accounts.delete_user(session, principal, user_id)
    return Response(status_code=204)
