"""Token pairs: short-lived EdDSA access tokens and opaque refresh tokens that rotate on every use.

A refresh token is 256 random bits; only its SHA-256 is stored (a fast hash is enough for a
value that cannot be guessed). Every token rotated from one login shares a family: presenting a
token that was already used (more than `REUSE_GRACE` ago) means it was copied, so the whole family
is revoked.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity.keys import KeyStore
from checkout.identity.tables import refresh_tokens, users
from shopcommon.db import transaction
from shopcommon.problems import Unauthorized

log = logging.getLogger(__name__)
#: A used refresh token presented again this long after its rotation was copied. Sooner, it is the
#: same client's request sent while the rotation's answer was on its way (an app's two requests
#: refreshing at once, a page's request beside a rotation): refused (401), nothing revoked. A copy
#: gets no new token either way; presented later it ends its family.
REUSE_GRACE = timedelta(seconds=30)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def access_token(store: KeyStore, *, user_id: int, role: str, ttl: int) -> str:
    return store.issue(sub=str(user_id), role=role, ttl=ttl)[0]


async def issue_pair(
    session: AsyncSession,
    store: KeyStore,
    *,
    user_id: int,
    role: str,
    access_ttl: int,
    refresh_ttl: int,
    family_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """A new pair for an active account. The account is locked (shared) first: one deleted or
    deactivated meanwhile (a password's hashing takes a while) is 401, not a foreign-key error."""
    if await lock_account(session, user_id) is None:
        raise Unauthorized("The account no longer exists or has been deactivated", slug="account-inactive")
    refresh = secrets.token_urlsafe(32)
    await session.execute(
        insert(refresh_tokens).values(
            token_hash=token_digest(refresh),
            family_id=family_id or uuid.uuid4(),
            user_id=user_id,
            expires_at=datetime.now(UTC) + timedelta(seconds=refresh_ttl),
        )
    )
    return {
        "access_token": access_token(store, user_id=user_id, role=role, ttl=access_ttl),
        "refresh_token": refresh,
        "token_type": "bearer",
        "expires_in": access_ttl,
    }


async def lock_account(session: AsyncSession, user_id: int, *, active: bool = True) -> Any:
    """The account's role, its row locked against deletion and change (`FOR KEY SHARE`) until the
    transaction ends; None when it is gone (or, with `active`, deactivated). Every write of tokens
    locks their account first, as account changes do (the account, then its tokens): a rotation
    that locked its token first and then the account (its new token's foreign key) deadlocked with
    a password change, a deactivation or a deletion."""
    query = select(users.c.role, users.c.active).where(users.c.id == user_id).with_for_update(key_share=True)
    row = (await session.execute(query)).first()
    return row if row is not None and (row.active or not active) else None


async def rotate(
    sessionmaker: async_sessionmaker[AsyncSession], store: KeyStore, token: str, *, access_ttl: int, refresh_ttl: int
) -> tuple[dict[str, Any], int]:
    """A new pair (and its user id) for a live refresh token, which stops working. Its own transaction: when the
    token turns out to be a reused one, the family's revocation must commit although we answer 401."""
    digest = token_digest(token)
    async with transaction(sessionmaker) as session:
        owner = (
            await session.execute(select(refresh_tokens.c.user_id).where(refresh_tokens.c.token_hash == digest))
        ).scalar_one_or_none()
        account = None if owner is None else await lock_account(session, owner)
        used = (
            None
            if account is None
            else (
                await session.execute(
                    update(refresh_tokens)
                    .where(
                        refresh_tokens.c.token_hash == digest,
                        refresh_tokens.c.used_at.is_(None),
                        refresh_tokens.c.revoked_at.is_(None),
                        refresh_tokens.c.expires_at > func.now(),
                    )
                    .values(used_at=func.now())
                    .returning(refresh_tokens.c.user_id, refresh_tokens.c.family_id)
                )
            ).first()
        )
        if used is not None and account is not None:
            pair = await issue_pair(
                session,
                store,
                user_id=used.user_id,
                role=account.role,
                access_ttl=access_ttl,
                refresh_ttl=refresh_ttl,
                family_id=used.family_id,
            )
            return pair, used.user_id
        family = (
            await session.execute(
                select(refresh_tokens.c.family_id).where(
                    refresh_tokens.c.token_hash == digest, refresh_tokens.c.used_at < func.now() - REUSE_GRACE
                )
            )
        ).scalar_one_or_none()
        if family is not None and await revoke_family(session, family):
            log.warning("refresh token reused: revoked its family %s", family)
    raise Unauthorized("The refresh token is invalid, expired or revoked", slug="invalid-refresh-token")


async def renew_access(
    sessionmaker: async_sessionmaker[AsyncSession], store: KeyStore, token: str, *, access_ttl: int
) -> str | None:
    """A new access token for the web session whose refresh token this is, while that token is live
    and its account active; the refresh token is left as it is. A page fires several requests at
    once (itself, its blocks, its live stream): rotating here would make all but one of them look
    like a stolen token and end the session. Logout and deactivation revoke it as before."""
    query = (
        select(refresh_tokens.c.user_id, users.c.role)
        .join(users, users.c.id == refresh_tokens.c.user_id)
        .where(
            refresh_tokens.c.token_hash == token_digest(token),
            refresh_tokens.c.used_at.is_(None),
            refresh_tokens.c.revoked_at.is_(None),
            refresh_tokens.c.expires_at > func.now(),
            users.c.active,
        )
    )
    async with sessionmaker() as session:
        row = (await session.execute(query)).first()
    if row is None:
        await _end_if_copied(sessionmaker, token_digest(token))
        return None
    return access_token(store, user_id=row.user_id, role=row.role, ttl=access_ttl)


async def _end_if_copied(sessionmaker: async_sessionmaker[AsyncSession], digest: str) -> None:
    """The pages never rotate their cookie's token, so one already used elsewhere means someone else
    holds it and rotated it: the whole family ends, theirs too, as `rotate` does for a reuse."""
    query = select(refresh_tokens.c.family_id, refresh_tokens.c.user_id).where(
        refresh_tokens.c.token_hash == digest,
        refresh_tokens.c.revoked_at.is_(None),
        refresh_tokens.c.used_at < func.now() - REUSE_GRACE,
    )
    async with transaction(sessionmaker) as session:
        found = (await session.execute(query)).first()
        if found is None:
            return
        await lock_account(session, found.user_id, active=False)
        if await revoke_family(session, found.family_id):
            log.warning(
                "refresh token of a web session reused after its rotation: revoked its family %s", found.family_id
            )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> int:
    """Revoke every token of the family; how many. Repeated until nothing is left: a rotation in
    flight makes its statement wait for the token being rotated, and commits the new token outside
    that statement's snapshot (it stayed live, and a thief rotating in a loop kept the family)."""
    revoked = 0
    while True:
        result = await session.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=func.now())
            .returning(refresh_tokens.c.id)
        )
        found = len(result.all())
        if not found:
            return revoked
        revoked += found


async def logout(session: AsyncSession, token: str) -> None:
    """End the session the refresh token belongs to; an unknown token is no error (logging out twice is fine)."""
    query = select(refresh_tokens.c.family_id, refresh_tokens.c.user_id)
    found = (await session.execute(query.where(refresh_tokens.c.token_hash == token_digest(token)))).first()
    if found is not None:
        await lock_account(session, found.user_id, active=False)
        await revoke_family(session, found.family_id)


async def delete_expired(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Expired refresh tokens are useless to everyone, including a thief: drop them."""
    async with transaction(sessionmaker) as session:
        result = await session.execute(
            refresh_tokens.delete()
            .where(refresh_tokens.c.expires_at < func.now() - timedelta(days=1))
            .returning(refresh_tokens.c.id)
        )
        return len(result.all())
