"""Registering and changing accounts: who may change what, and the limits around it."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from checkout.identity import login, passwords, users, verification
from checkout.identity.lifespan import Identity
from checkout.identity.ratelimit import Bucket
from checkout.identity.schemas import UserCreate, UserRole, UserUpdate
from checkout.identity.users import UserRow
from shopcommon.auth import Principal, Role, Scope
from shopcommon.problems import Forbidden


async def register(
    session: AsyncSession, identity: Identity, data: UserCreate, *, ip: str, by_staff: bool = False
) -> tuple[UserRow, str | None]:
    """A new customer, and the confirmation token to mail to its address (None when staff made
    the account: it is confirmed already). Public registrations are limited per IP: each costs an
    argon2id hash, a row and a mail. Staff are signed in and accountable, and a manager creating a
    shop's workers in one sitting must not be turned away as a crowd."""
    s = identity.settings
    if not by_staff:
        await identity.limiter.hit(Bucket("register:ip", ip, s.registrations_per_ip))
    user = await users.register(session, data, min_password_length=s.password_min_length, confirmed=by_staff)
    if by_staff:
        return user, None
    token = await verification.issue(session, user_id=user.id, email=user.email, ttl=s.email_verification_ttl)
    return user, token


async def update_user(
    session: AsyncSession, identity: Identity, principal: Principal, user_id: int, data: UserUpdate, *, ip: str
) -> tuple[UserRow, str | None]:
    """The changed account, and the confirmation token to mail when its address changed (a new
    address is unproven, whoever set it, until the account's owner confirms it)."""
    principal.ensure_owner(user_id, "user", scope=Scope.USERS_READ)
    if principal.role == Role.SERVICE:
        raise Forbidden("Services read accounts; they do not change them")
    is_manager = principal.role == Role.MANAGER
    changes = data.model_dump(exclude_unset=True, exclude={"current_password"})
    if not is_manager and ("role" in changes or "categories" in changes):
        raise Forbidden("Only managers change roles and categories")
    current = await users.lock_for_update(session, user_id)
    if changes.get("email") == current.email:
        del changes["email"]
    # The password and the address (where one-time codes go) are the keys to the account: someone
    # holding only a stolen access token must not be able to take it over or lock the owner out.
    if not is_manager and ("password" in changes or "email" in changes):
        await login.confirm_password(identity, current, data.current_password, ip=ip)
    await users.ensure_free(session, username=changes.get("username"), email=changes.get("email"), except_id=user_id)
    values = _column_values(current, changes)
    if "password" in changes:
        username = changes.get("username") or current.username
        users.check_password_strength(
            changes["password"], username=username, min_length=identity.settings.password_min_length
        )
        values["password_hash"] = await passwords.hash_password(changes["password"])
    if not values:
        return await users.get_user(session, user_id), None
    row = await users.update_columns(session, user_id, values)
    if "email" not in values:
        return row, None
    ttl = identity.settings.email_verification_ttl
    return row, await verification.issue(session, user_id=row.id, email=row.email, ttl=ttl)


def _column_values(current: UserRow, changes: dict[str, Any]) -> dict[str, Any]:
    """The columns that change, the password aside; categories only ever belong to workers."""
    values = {k: v for k, v in changes.items() if k != "password"}
    role = UserRole(changes.get("role") or current.role)
    if role != UserRole.WORKER:
        values["categories"] = []
    elif "categories" in changes:
        values["categories"] = sorted(set(changes["categories"]))
    if values.get("role") == current.role:
        del values["role"]
    if values.get("categories") == list(current.categories):
        del values["categories"]
    return values
