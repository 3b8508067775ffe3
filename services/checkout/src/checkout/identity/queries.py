"""Identity's queries (SQLAlchemy Core): accounts, their refresh tokens and address confirmations.
Keyword arguments where they could be confused; the caller owns the transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import any_, case, delete, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity import passwords
from checkout.identity.schemas import UserRole
from checkout.identity.tables import email_verifications, refresh_tokens, users
from shopcommon.db import transaction
from shopcommon.pagination import split_page
from shopcommon.problems import Conflict, NotFound

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
    users.c.active,
)
#: The account holding an address it has proven (at most one: a partial unique index).
PROVEN = users.c.email_verified_at.is_not(None)


@dataclass(frozen=True)
class Account:
    """A users row as identity reads it; `password_hash` only where a password is to be checked."""

    id: int
    username: str
    email: str
    first_name: str
    last_name: str
    role: str
    categories: list[str]
    email_verified_at: datetime | None
    confirmed_at: datetime | None
    active: bool = True
    password_hash: str | None = None


def _account(row: Any) -> Account:
    return Account(**row._mapping)


def _account_or_none(row: Any) -> Account | None:
    return None if row is None else _account(row)


async def get_user(session: AsyncSession, user_id: int) -> Account:
    row = (await session.execute(select(*USER_COLUMNS).where(users.c.id == user_id))).first()
    if row is None:
        raise NotFound("user not found")
    return _account(row)


async def name_parts(session: AsyncSession, user_ids: list[int]) -> dict[int, tuple[str, str, str]]:
    """`{id: (first_name, last_name, username)}` of the accounts among `user_ids`, in one query."""
    query = select(users.c.id, users.c.first_name, users.c.last_name, users.c.username).where(users.c.id.in_(user_ids))
    return {row.id: (row.first_name, row.last_name, row.username) for row in await session.execute(query)}


async def standing_role(session: AsyncSession, user_id: int) -> str | None:
    """The role of an active account; None once it is deactivated or gone."""
    query = select(users.c.role).where(users.c.id == user_id, users.c.active)
    role: str | None = (await session.execute(query)).scalar_one_or_none()
    return role


async def find_for_login(session: AsyncSession, login: str) -> Account | None:
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
    return _account_or_none((await session.execute(query)).first())


async def find_by_email(session: AsyncSession, email: str) -> Account | None:
    """The active account that has proven the address, or None (unproven claims and deactivated
    accounts get no one-time codes, so cannot sign in by one)."""
    query = select(*USER_COLUMNS).where(users.c.email == email.lower(), PROVEN, users.c.active)
    return _account_or_none((await session.execute(query)).first())


async def unproven_claims(session: AsyncSession, email: str, *, limit: int = 3) -> list[Account]:
    """The newest accounts that hold the address without having proven it."""
    query = (
        select(*USER_COLUMNS)
        .where(users.c.email == email.lower(), users.c.email_verified_at.is_(None))
        .order_by(users.c.id.desc())
        .limit(limit)
    )
    return [_account(row) for row in await session.execute(query)]


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
) -> Account:
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
    return _account(row)


async def lock_for_update(session: AsyncSession, user_id: int) -> Account:
    """The account with its password hash, locked until the request's transaction ends."""
    query = select(*USER_COLUMNS, users.c.password_hash).where(users.c.id == user_id).with_for_update()
    row = (await session.execute(query)).first()
    if row is None:
        raise NotFound("user not found")
    return _account(row)


async def update_columns(session: AsyncSession, user_id: int, values: dict[str, Any]) -> Account:
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
    # Sessions end when who-you-are changes; a new address also ends those of whoever had the old
    # one; a deactivated account has none.
    if values.keys() & {"password_hash", "role", "email"} or values.get("active") is False:
        await revoke_all_refresh_tokens(session, user_id)
    return _account(row)


async def delete_user(session: AsyncSession, user_id: int) -> None:
    result = await session.execute(delete(users).where(users.c.id == user_id).returning(users.c.id))
    if result.first() is None:
        raise NotFound("user not found")


async def list_users(
    session: AsyncSession, *, role: UserRole | None, category: str | None, after_id: int, limit: int
) -> tuple[list[Account], int | None]:
    query = select(*USER_COLUMNS).where(users.c.id > after_id).order_by(users.c.id).limit(limit + 1)
    if role is not None:
        query = query.where(users.c.role == role.value)
    if category is not None:
        query = query.where(users.c.categories.contains([category]))
    rows = [_account(row) for row in await session.execute(query)]
    return split_page(rows, limit, lambda account: account.id)


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


async def add_email_verification(session: AsyncSession, *, user_id: int, email: str, token_hash: str, ttl: int) -> None:
    await session.execute(
        email_verifications.insert().values(
            user_id=user_id,
            email=email.lower(),
            token_hash=token_hash,
            expires_at=datetime.now(UTC) + timedelta(seconds=ttl),
        )
    )


async def find_email_verification(session: AsyncSession, token_hash: str) -> Any:
    """`(user_id, email)` of a live confirmation token."""
    query = select(email_verifications.c.user_id, email_verifications.c.email).where(
        email_verifications.c.token_hash == token_hash, email_verifications.c.expires_at > func.now()
    )
    return (await session.execute(query)).first()


async def mark_proven(session: AsyncSession, account: Account) -> Account:
    """The address is proven and the account confirmed; its confirmation tokens go, and so do the
    other unconfirmed registrations of the address (someone else's claim on it). IntegrityError
    when another account proved the address first (the savepoint is rolled back)."""
    async with session.begin_nested():
        row = (
            await session.execute(
                update(users)
                .where(users.c.id == account.id)
                .values(
                    email_verified_at=func.now(),
                    confirmed_at=func.coalesce(users.c.confirmed_at, func.now()),
                    updated_at=func.now(),
                )
                .returning(*USER_COLUMNS)
            )
        ).one()
    await session.execute(delete(email_verifications).where(email_verifications.c.user_id == account.id))
    await session.execute(
        delete(users).where(users.c.email == account.email, users.c.id != account.id, users.c.confirmed_at.is_(None))
    )
    return _account(row)


async def rename_category(session: AsyncSession, old: str, new: str) -> int:
    """Every worker of category `old` works `new` instead (the catalogue renamed it); how many."""
    renamed = func.array_replace(users.c.categories, old, new)
    already = literal(new) == any_(users.c.categories)
    result = await session.execute(
        update(users)
        .where(literal(old) == any_(users.c.categories))
        .values(categories=case((already, func.array_remove(users.c.categories, old)), else_=renamed))
        .returning(users.c.id)
    )
    return len(result.all())
