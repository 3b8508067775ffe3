"""Proving an address: the confirmation mail, and what an account may do before it.

The threat is pre-account takeover: someone registers the victim's address first, with a
password of their own, and waits for the victim to start using "that" account (sign in by
emailed code, get order mails, save their details in it). The design:

- A registration creates an *unconfirmed* account whose address is unproven, and mails the
  address a confirmation token (256 random bits; stored as its SHA-256; single use; expires in
  a day; bound to the address it was sent to).
- Confirming takes the token **and the account's password** (`POST /api/v1/users/verify-email`).
  The token proves the mailbox, the password proves the registrant. The victim, holding only the
  mailbox, cannot confirm the attacker's account by clicking a link they never asked for; the
  attacker, holding only the password, never sees the token.
- Until confirmed, an account cannot sign in at all: the right password answers 403
  `email-unverified` (a wrong one 401, as ever), one-time codes are never sent to it (a code
  request for its address is the same 202 as for an unknown one) and it gets no mail but
  confirmations. It cannot place orders, so nothing else mails the address either. Password
  sign-in before confirmation is refused, not allowed, because an account that works would also
  work for the attacker, and every mail it caused would land in the victim's mailbox.
- An unproven claim does not hold the address: the owner can register it too (409 only when an
  account has *proven* it). When one account proves the address, every other unconfirmed
  registration of it is deleted. Registrations nobody confirms are deleted after a week.
- Changing a confirmed account's address makes the new one unproven (codes stop until it is
  proven; password sign-in goes on) and mails it a confirmation.
- Staff (a manager's token on `POST /users`), the demo loader and the migration make accounts
  that are confirmed and proven.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity import passwords, queries
from checkout.identity.errors import InvalidVerificationToken
from checkout.identity.queries import Account
from checkout.identity.ratelimit import Bucket
from checkout.identity.usecases import login
from shopcommon.db import transaction
from shopcommon.problems import Conflict, TooManyRequests, Unauthorized

if TYPE_CHECKING:
    from checkout.identity.lifespan import Identity

log = logging.getLogger(__name__)
DAY = 24 * 3600


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue(session: AsyncSession, *, user_id: int, email: str, ttl: int) -> str:
    """A new confirmation token for the address the account holds now (earlier ones stay valid)."""
    token = secrets.token_urlsafe(32)
    await queries.add_email_verification(session, user_id=user_id, email=email, token_hash=token_digest(token), ttl=ttl)
    return token


def confirmation_email(*, token: str, link_template: str, ttl_hours: int) -> tuple[str, str]:
    """Subject and text. Nothing the registrant chose (a username could be a message) goes in."""
    where = (
        f"open this link and enter the account's password:\n\n  {link_template.replace('{token}', token)}\n\n"
        if link_template
        else "enter this confirmation token with the account's password:\n\n"
    )
    text = (
        "Hello,\n\n"
        "An account at Tuneless Treasures was registered with this email address, or an account's\n"
        f"address was changed to it. To confirm that the address is yours, {where}"
        f"Confirmation token: {token}\n\n"
        f"It works once and expires in {ttl_hours} hours. If this was not you, ignore this email:\n"
        "nobody can confirm the address without it, and the account gets no other mail until then.\n\n"
        "Tuneless Treasures\n"
    )
    return "Confirm your email address at Tuneless Treasures", text


async def send(identity: Identity, *, email: str, token: str) -> None:
    """Mail a confirmation; runs after the answer has gone out. One address gets at most
    `verification_emails_per_day` of them, however many accounts claim it or ask again."""
    s = identity.settings
    try:
        try:
            await identity.limiter.hit(
                Bucket("verify-mail:email-day", email, s.verification_emails_per_day, window=DAY)
            )
        except TooManyRequests:
            log.info("confirmation not sent: the address has had its confirmations for the day")
            return
        subject, text = confirmation_email(
            token=token, link_template=s.email_verification_link, ttl_hours=max(1, s.email_verification_ttl // 3600)
        )
        await identity.mailer.send(to=email, subject=subject, text=text)
    except Exception:  # a background task has nobody to answer; log it with its cause
        log.exception("could not send an address confirmation")


async def request_resend(identity: Identity, *, email: str, ip: str) -> None:
    """The limits on asking for another confirmation (the same answer whatever the address)."""
    s = identity.settings
    await identity.limiter.hit(
        Bucket("verify-request:ip", ip, s.verification_requests_per_ip),
        Bucket("verify-request:email", email, s.verification_requests_per_email),
    )


async def resend(sessionmaker: async_sessionmaker[AsyncSession], identity: Identity, *, email: str) -> None:
    """After the 202: a fresh token for each account (newest three) that claims the address without
    having proven it; nothing for an unknown or already proven address."""
    try:
        async with transaction(sessionmaker) as session:
            claims = await queries.unproven_claims(session, email)
            tokens = [
                await issue(session, user_id=row.id, email=row.email, ttl=identity.settings.email_verification_ttl)
                for row in claims
            ]
    except Exception:
        log.exception("could not issue address confirmations")
        return
    for token in tokens:
        await send(identity, email=email, token=token)


async def confirm(session: AsyncSession, identity: Identity, *, token: str, password: str, ip: str) -> Account:
    """Prove the address the token was sent to, for the account whose password this is.

    400 for an unknown, used or expired token or one sent to an address the account no longer
    holds; 401 for a wrong password (a failed sign-in, counted as one); 409 when another account
    proved the address first."""
    s = identity.settings
    async with identity.limiter.counting_failures(Bucket("login:ip", ip, s.login_failures_per_ip)):
        found = await queries.find_email_verification(session, token_digest(token))
        user = await queries.lock_for_update(session, found.user_id) if found is not None else None
        if found is None or user is None or user.email != found.email:
            raise InvalidVerificationToken("The confirmation token is unknown, used or expired")
    async with identity.limiter.counting_failures(
        *login.login_buckets(identity, ip=ip, account=login.account_key(user.id))
    ):
        if not await passwords.verify_password(user.password_hash, password):
            raise Unauthorized("Wrong password for the account being confirmed", slug="invalid-credentials")
    try:
        return await queries.mark_proven(session, user)
    except IntegrityError as exc:  # another account proved this address first
        raise Conflict("Another account has already confirmed that email address", slug="email-taken") from exc
