"""User accounts: register, read, change, delete, list. Services flush; the request commits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeAlias

from sqlalchemy import Row, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity import passwords
from checkout.identity.schemas import UserCreate, UserRole
from checkout.identity.tables import email_verifications, refresh_tokens, users
from shopcommon.auth import Principal, Role, Scope
from shopcommon.db import transaction
from shopcommon.problems import Conflict, Forbidden, NotFound, Unauthorized, UnprocessableEntity

#: A users row as selected here (USER_COLUMNS, sometimes with the password hash).
UserRow: TypeAlias = Row[*tuple[Any, ...]]

USER_COLUMNS = (
    users.c.id,
    users.c.username,
    users.c.email,
    users.c.first_name,
    users.c.last_name,
    users.c.role,
    users.c.categories,
    users.c.email_verified_at,
    users.c.confirmed_at,
)
#: The account holding an address it has proven (at most one: a partial unique index).
PROVEN = users.c.email_verified_at.is_not(None)


class WeakPassword(UnprocessableEntity):
    """A password of the documented shape that the policy still refuses: the rules no JSON Schema
    states (distinct characters, common passwords, the username inside, a deployment's longer
    minimum), so a client can tell them from a malformed request."""

    title, slug = "Password too weak", "weak-password"


def check_password_strength(password: str, *, username: str, min_length: int) -> None:
    problem = passwords.password_problems(password, username=username, min_length=min_length)
    if problem:
        raise WeakPassword(f"The password {problem}.", errors=[{"field": "password", "message": f"Password {problem}"}])


async def get_user(session: AsyncSession, user_id: int) -> UserRow:
    row = (await session.execute(select(*USER_COLUMNS).where(users.c.id == user_id))).first()
    if row is None:
        raise NotFound("user not found")
    return row


async def get_me(session: AsyncSession, principal: Principal) -> UserRow:
    if principal.user_id is None:
        raise Forbidden("Only people have an account; service tokens do not")
    row = (await session.execute(select(*USER_COLUMNS).where(users.c.id == principal.user_id))).first()
    if row is None:
        raise Unauthorized("The account of this token no longer exists")
    return row


async def read_user(session: AsyncSession, principal: Principal, user_id: int) -> UserRow:
    principal.ensure_owner(user_id, "user", scope=Scope.USERS_READ)
    return await get_user(session, user_id)


async def find_for_login(session: AsyncSession, login: str) -> UserRow | None:
    """By username (any case) or by email: usernames cannot contain '@', so the two never collide.
    Several accounts may claim one address before any proves it: the one that proved it wins,
    else the newest claim."""
    column = users.c.email if "@" in login else func.lower(users.c.username)
    query = (
        select(*USER_COLUMNS, users.c.password_hash)
        .where(column == login.strip().lower())
        .order_by(users.c.email_verified_at.is_(None), users.c.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).first()


async def find_by_email(session: AsyncSession, email: str) -> UserRow | None:
    """The account that has proven the address, or None (unproven claims get no mail)."""
    return (await session.execute(select(*USER_COLUMNS).where(users.c.email == email.lower(), PROVEN))).first()


async def unproven_claims(session: AsyncSession, email: str, *, limit: int = 3) -> list[UserRow]:
    """The newest accounts that hold the address without having proven it."""
    query = (
        select(*USER_COLUMNS)
        .where(users.c.email == email.lower(), users.c.email_verified_at.is_(None))
        .order_by(users.c.id.desc())
        .limit(limit)
    )
    return list((await session.execute(query)).all())


async def ensure_free(session: AsyncSession, *, username: str | None, email: str | None, except_id: int = 0) -> None:
    clauses = []
    if username is not None:
        clauses.append(func.lower(users.c.username) == username.lower())
    if email is not None:
        # Only a proven address is taken: a claim nobody has proven must not keep its owner out.
        clauses.append((users.c.email == email.lower()) & PROVEN)
    if not clauses:
        return
    rows = (
        await session.execute(select(users.c.username, users.c.email).where(or_(*clauses), users.c.id != except_id))
    ).all()
    for row in rows:
        field = "username" if username is not None and row.username.lower() == username.lower() else "email"
        raise Conflict(f"That {field} is already taken", slug=f"{field}-taken")


async def register(
    session: AsyncSession, data: UserCreate, *, min_password_length: int, confirmed: bool = False
) -> UserRow:
    """A customer account: unconfirmed (its address unproven) unless staff made it."""
    check_password_strength(data.password, username=data.username, min_length=min_password_length)
    await ensure_free(session, username=data.username, email=data.email)
    values = data.model_dump(exclude={"password"})
    return await insert_user(session, **values, role=UserRole.CUSTOMER, password=data.password, confirmed=confirmed)


async def insert_user(
    session: AsyncSession,
    *,
    username: str,
    email: str,
    password: str,
    role: UserRole,
    first_name: str = "",
    last_name: str = "",
    categories: list[str] | None = None,
    confirmed: bool = False,
) -> UserRow:
    """Insert unless the username or a proven email is taken (then 409, even when two requests
    race). `confirmed`: made by staff, so the account and its address count as proven."""
    stmt = (
        pg_insert(users)
        .values(
            username=username,
            email=email.lower(),
            first_name=first_name,
            last_name=last_name,
            role=role.value,
            categories=categories or [],
            password_hash=await passwords.hash_password(password),
            email_verified_at=func.now() if confirmed else None,
            confirmed_at=func.now() if confirmed else None,
        )
        .on_conflict_do_nothing()
        .returning(*USER_COLUMNS)
    )
    row = (await session.execute(stmt)).first()
    if row is None:
        await ensure_free(session, username=username, email=email)
        raise Conflict("That username or email is already taken")
    return row


async def lock_for_update(session: AsyncSession, user_id: int) -> UserRow:
    """The account with its password hash, locked until the request's transaction ends."""
    query = select(*USER_COLUMNS, users.c.password_hash).where(users.c.id == user_id).with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("user not found")
    return row


async def update_columns(session: AsyncSession, user_id: int, values: dict[str, Any]) -> UserRow:
    values = {**values, "updated_at": func.now()}
    if "email" in values:
        # A new address is unproven until its owner follows the link sent to it; links sent to
        # the old one prove nothing now.
        values["email_verified_at"] = None
        await session.execute(delete(email_verifications).where(email_verifications.c.user_id == user_id))
    stmt = update(users).where(users.c.id == user_id).values(**values).returning(*USER_COLUMNS)
    try:
        row = (await session.execute(stmt)).one()
    except IntegrityError as exc:  # another request took the name or address since it was checked
        raise Conflict("That username or email is already taken") from exc
    # Sessions end when who-you-are changes; a new address also ends those of whoever had the old one.
    if values.keys() & {"password_hash", "role", "email"}:
        await revoke_all_refresh_tokens(session, user_id)
    return row


async def delete_user(session: AsyncSession, principal: Principal, user_id: int) -> None:
    principal.ensure_owner(user_id, "user", scope=Scope.USERS_READ)
    if principal.role == Role.SERVICE:
        raise Forbidden("Services read accounts; they do not delete them")
    result = await session.execute(delete(users).where(users.c.id == user_id).returning(users.c.id))
    if result.first() is None:
        raise NotFound("user not found")


async def list_users(
    session: AsyncSession, *, role: UserRole | None, category: str | None, after_id: int, limit: int
) -> tuple[list[UserRow], int | None]:
    query = select(*USER_COLUMNS).where(users.c.id > after_id).order_by(users.c.id).limit(limit + 1)
    if role is not None:
        query = query.where(users.c.role == role.value)
    if category is not None:
        query = query.where(users.c.categories.contains([category]))
    rows = list((await session.execute(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


async def revoke_all_refresh_tokens(session: AsyncSession, user_id: int) -> None:
    await session.execute(
        update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=func.now())
    )


async def rehash_if_needed(session: AsyncSession, user_id: int, password_hash: str, password: str) -> None:
    """Upgrade an old hash to the current argon2 parameters while the password is at hand."""
    if passwords.needs_rehash(password_hash):
        new_hash = await passwords.hash_password(password)
        await session.execute(update(users).where(users.c.id == user_id).values(password_hash=new_hash))


async def delete_unconfirmed(sessionmaker: async_sessionmaker[AsyncSession], older_than: int) -> int:
    """Registrations nobody confirmed in time: they free their usernames (their addresses were
    never held). Expired confirmation tokens go too."""
    async with transaction(sessionmaker) as session:
        await session.execute(delete(email_verifications).where(email_verifications.c.expires_at < func.now()))
        result = await session.execute(
            delete(users)
            .where(users.c.confirmed_at.is_(None), users.c.created_at < func.now() - timedelta(seconds=older_than))
            .returning(users.c.id)
        )
        return len(result.all())
