"""Signing in (password, client credentials, refresh, one-time code) and confirming a password,
each behind its rate limits.

Failed attempts count per client address (IPv6: per /64; see `clientaddr`) and per account *and*
client address, never per account alone: whoever hammers an account from their addresses spends
their own allowances, and the owner's right password from an address that has not been failing
still works. Guessing from many addresses at once is what the per-address limits, the password
rules and (for codes) the few guesses each code survives are for.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity import passwords, queries, tokens
from checkout.identity.lifespan import Identity
from checkout.identity.queries import Account
from checkout.identity.ratelimit import Bucket
from checkout.identity.schemas import ClientCredentialsGrant, PasswordGrant, RefreshTokenGrant
from shopcommon.auth import CLIENT_SCOPES, Role
from shopcommon.problems import Forbidden, Unauthorized


async def issue_pair(session: AsyncSession, identity: Identity, user: Account) -> dict[str, Any]:
    s = identity.settings
    return await tokens.issue_pair(
        session,
        identity.keys,
        user_id=user.id,
        role=user.role,
        access_ttl=s.access_token_ttl,
        refresh_ttl=s.refresh_token_ttl,
    )


def login_buckets(identity: Identity, *, ip: str, account: str) -> tuple[Bucket, Bucket]:
    """The failure allowances of password checks: the caller's address, and the account it aims
    at from that address."""
    s = identity.settings
    return (
        Bucket("login:ip", ip, s.login_failures_per_ip),
        Bucket("login:account-ip", f"{account}|{ip}", s.login_failures_per_account),
    )


def account_key(user_id: int) -> str:
    return f"user:{user_id}"


async def password_login(session: AsyncSession, identity: Identity, *, login: str, password: str, ip: str) -> Account:
    """The user whose password this is, or 401; failed tries count against the address and the
    account from that address. The right password of a registration nobody has confirmed yet is
    403 `email-unverified` (see `verification`)."""
    user = await queries.find_for_login(session, login)
    # Keyed by the account itself when it exists, so its username and its email share one allowance.
    account = account_key(user.id) if user is not None else f"login:{login.strip().lower()}"
    async with identity.limiter.counting_failures(*login_buckets(identity, ip=ip, account=account)):
        if user is None or not await passwords.verify_password(user.password_hash, password):
            raise Unauthorized("Wrong username or password", slug="invalid-credentials")
    if user.confirmed_at is None:
        raise Forbidden(
            "Confirm your email address first: use the token we emailed (POST /api/v1/users/verify-email), "
            "or ask for another (POST /api/v1/users/verify-email/resend)",
            slug="email-unverified",
        )
    if not user.active:
        raise Forbidden("This account has been deactivated; ask a manager", slug="account-deactivated")
    await queries.rehash_if_needed(session, user.id, user.password_hash or "", password)
    return user


async def confirm_password(identity: Identity, user: Account, candidate: str | None, *, ip: str) -> None:
    """403 unless `candidate` is the user's password. Wrong guesses spend the same allowances as
    wrong sign-ins, so a stolen access token is no way around the login limits."""
    if candidate is None:
        raise Forbidden("This change needs your current password in `current_password`", slug="password-required")
    async with identity.limiter.counting_failures(*login_buckets(identity, ip=ip, account=account_key(user.id))):
        if not await passwords.verify_password(user.password_hash, candidate):
            raise Forbidden("The current password is wrong", slug="wrong-password")


def client_credentials(identity: Identity, grant: ClientCredentialsGrant) -> dict[str, Any]:
    ttl = identity.settings.service_token_ttl
    if not identity.clients.authenticate(grant.client_id, grant.client_secret):
        raise Unauthorized("Unknown client or wrong secret", slug="invalid-client")
    scopes = " ".join(sorted(CLIENT_SCOPES.get(grant.client_id, ())))
    token, _ = identity.keys.issue(sub=grant.client_id, role=Role.SERVICE.value, ttl=ttl, scope=scopes)
    return {"access_token": token, "token_type": "bearer", "expires_in": ttl}


async def grant_tokens(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    identity: Identity,
    grant: PasswordGrant | ClientCredentialsGrant | RefreshTokenGrant,
    *,
    ip: str,
) -> dict[str, Any]:
    """`POST /auth/token`: whichever grant the body names."""
    if isinstance(grant, PasswordGrant):
        user = await password_login(session, identity, login=grant.username, password=grant.password, ip=ip)
        return await issue_pair(session, identity, user)
    if isinstance(grant, ClientCredentialsGrant):
        async with identity.limiter.counting_failures(Bucket("login:ip", ip, identity.settings.login_failures_per_ip)):
            return client_credentials(identity, grant)
    pair, _ = await refresh(sessionmaker, identity, grant.refresh_token)
    return pair


async def refresh(
    sessionmaker: async_sessionmaker[AsyncSession], identity: Identity, token: str
) -> tuple[dict[str, Any], int]:
    """The new pair and whose it is."""
    s = identity.settings
    return await tokens.rotate(
        sessionmaker, identity.keys, token, access_ttl=s.access_token_ttl, refresh_ttl=s.refresh_token_ttl
    )


async def otp_login(session: AsyncSession, identity: Identity, *, email: str, code: str, ip: str) -> dict[str, Any]:
    s = identity.settings
    buckets = (
        Bucket("otp-verify:ip", ip, s.otp_verify_failures_per_ip),
        Bucket("otp-verify:account-ip", f"{email}|{ip}", s.otp_verify_failures_per_account),
        # A reissued code restarts its own attempt count, not this one. Per address too: what
        # bounds guessing from everywhere is each code's five guesses and the codes sent a day.
        Bucket("otp-verify:email-day", f"{email}|{ip}", s.otp_failures_per_email, window=s.otp_failure_window),
    )
    async with identity.limiter.counting_failures(*buckets):
        user = (
            await queries.find_by_email(session, email) if await identity.codes.consume(email, code.strip()) else None
        )
        if user is None:
            raise Unauthorized("Wrong or expired code", slug="invalid-code")
    return await issue_pair(session, identity, user)


async def request_code(identity: Identity, *, email: str, ip: str) -> None:
    s = identity.settings
    await identity.limiter.hit(
        Bucket("otp-request:ip", ip, s.otp_requests_per_ip),
        Bucket("otp-request:email", email, s.otp_requests_per_email),
    )
