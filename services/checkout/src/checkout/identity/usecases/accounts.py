"""Account use cases: register, read, list, change, delete; who may do what, and the limits."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from checkout.identity import passwords, queries, rules
from checkout.identity.lifespan import Identity
from checkout.identity.queries import Account
from checkout.identity.ratelimit import Bucket
from checkout.identity.schemas import User, UserCreate, UserRole, UserUpdate, user_out
from checkout.identity.usecases import login, verification
from shopcommon.auth import Principal, Role
from shopcommon.pagination import After, Page, decode_cursor, encode_cursor
from shopcommon.problems import Forbidden, NotFound, Unauthorized

#: An account and the confirmation token to mail to its address (None: nothing to confirm).
Changed = tuple[Account, str | None]


async def register(
    session: AsyncSession, identity: Identity, data: UserCreate, *, ip: str, by_staff: bool = False
) -> Changed:
    """A new customer, unconfirmed unless staff made it (then no token: it is confirmed already).
    Public registrations are limited per IP: each costs an argon2id hash, a row and a mail. Staff
    are signed in and accountable, and a manager creating a shop's workers in one sitting must not
    be turned away as a crowd."""
    s = identity.settings
    if not by_staff:
        rules.ensure_registration_plain(data)
        await identity.limiter.hit(Bucket("register:ip", ip, s.registrations_per_ip))
    rules.check_password_strength(data.password, username=data.username, min_length=s.password_min_length)
    await queries.ensure_free(session, username=data.username, email=data.email)
    values = data.model_dump(exclude={"password", "role", "categories"})
    role = data.role or UserRole.CUSTOMER
    categories = sorted(set(data.categories or ())) if role == UserRole.WORKER else []
    user = await queries.insert_user(
        session, **values, role=role, categories=categories, password=data.password, confirmed=by_staff
    )
    if by_staff:
        return user, None
    token = await verification.issue(session, user_id=user.id, email=user.email, ttl=s.email_verification_ttl)
    return user, token


async def ensure_manager_now(session: AsyncSession, principal: Principal) -> None:
    """A manager's token acts with a manager's powers only while its account is still an active
    manager: an access token outlives a deactivation or a demotion by up to its lifetime, and with
    it the account could otherwise make itself a manager again, or go on managing accounts."""
    if principal.role != Role.MANAGER:
        return
    if principal.user_id is None or await queries.standing_role(session, principal.user_id) != Role.MANAGER:
        raise Forbidden("This account is no longer an active manager; sign in again", slug="not-a-manager-now")


async def read_me(session: AsyncSession, principal: Principal) -> Account:
    if principal.user_id is None:
        raise Forbidden("Only people have an account; service tokens do not")
    try:
        return await queries.get_user(session, principal.user_id)
    except NotFound:
        raise Unauthorized("The account of this token no longer exists") from None


async def read_user(session: AsyncSession, principal: Principal, user_id: int) -> User:
    rules.ensure_may_read(principal, user_id)
    await ensure_manager_now(session, principal)
    # Services mail people (notifications): they need to know whether the address is proven.
    return user_out(await queries.get_user(session, user_id), email_verified=principal.role == Role.SERVICE)


async def list_users(
    session: AsyncSession, principal: Principal, *, role: UserRole | None, category: str | None, cursor: str | None,
    limit: int,
) -> Page[User]:  # fmt: skip
    await ensure_manager_now(session, principal)
    position = decode_cursor(cursor, After)
    after = position.after if position else 0
    rows, next_after = await queries.list_users(session, role=role, category=category, after_id=after, limit=limit)
    service = principal.role == Role.SERVICE
    items = [user_out(row, email_verified=service) for row in rows]
    return Page[User](items=items, next_cursor=encode_cursor(After(after=next_after)) if next_after else None)


async def delete_user(session: AsyncSession, principal: Principal, user_id: int) -> None:
    rules.ensure_may_change(principal, user_id, "delete")
    await ensure_manager_now(session, principal)
    await queries.delete_user(session, user_id)


async def update_user(
    session: AsyncSession, identity: Identity, principal: Principal, user_id: int, data: UserUpdate, *, ip: str
) -> Changed:
    """The changed account, and the confirmation token to mail when its address changed (a new
    address is unproven, whoever set it, until the account's owner confirms it)."""
    rules.ensure_may_change(principal, user_id, "change")
    changes = data.model_dump(exclude_unset=True, exclude={"current_password"})
    rules.ensure_may_set(principal, changes)
    await ensure_manager_now(session, principal)
    current = await queries.lock_for_update(session, user_id)
    if changes.get("email") == current.email:
        del changes["email"]
    if rules.needs_current_password(principal, changes):
        await login.confirm_password(identity, current, data.current_password, ip=ip)
    await queries.ensure_free(session, username=changes.get("username"), email=changes.get("email"), except_id=user_id)
    values = rules.column_values(current, changes)
    if "password" in changes:
        username = changes.get("username") or current.username
        min_length = identity.settings.password_min_length
        rules.check_password_strength(changes["password"], username=username, min_length=min_length)
        values["password_hash"] = await passwords.hash_password(changes["password"])
    if not values:
        return await queries.get_user(session, user_id), None
    row = await queries.update_columns(session, user_id, values)
    if "email" not in values:
        return row, None
    ttl = identity.settings.email_verification_ttl
    return row, await verification.issue(session, user_id=row.id, email=row.email, ttl=ttl)
