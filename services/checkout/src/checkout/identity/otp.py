"""Email one-time codes (seed 000): six digits, valid 10 minutes, 5 attempts, used once.

Codes live in Redis under an HMAC of the address and are stored as an HMAC of address and
code, keyed by a server secret: a copy of Redis reveals neither who asked nor the codes
(a bare hash of a six-digit code falls to a million guesses). Asking for a code answers the same
whether or not the address has an account; the lookup and the mail happen after the answer.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity import users
from checkout.identity.mailer import Mailer
from shopcommon.problems import ServiceUnavailable

log = logging.getLogger(__name__)

CODE_DIGITS = 6

# KEYS[1]: the code's hash. ARGV: the candidate's digest, the attempts allowed.
# 1 = right code (now spent); 0 = wrong or no code. The attempt that uses up the allowance
# deletes the code, so guess number six meets no code at all, right or wrong.
CONSUME_LUA = """
local stored = redis.call('HGET', KEYS[1], 'digest')
if not stored then return 0 end
local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
if stored == ARGV[1] and attempts <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 1
end
if attempts >= tonumber(ARGV[2]) then redis.call('DEL', KEYS[1]) end
return 0
"""


class OneTimeCodes:
    def __init__(self, redis: Redis, *, secret: str, ttl: int, max_attempts: int, prefix: str = "") -> None:
        self.redis = redis
        self.prefix = prefix
        self._secret = secret.encode()
        self.ttl = ttl
        self.max_attempts = max_attempts
        self._consume = redis.register_script(CONSUME_LUA)

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _key(self, email: str) -> str:
        return f"{self.prefix}otp:" + self._mac("key:" + email.lower())[:40]

    def _digest(self, email: str, code: str) -> str:
        return self._mac(f"code:{email.lower()}:{code}")

    async def issue(self, email: str) -> str:
        """A fresh code for the address; it replaces any earlier one (and its attempt count)."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        key = self._key(email)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"digest": self._digest(email, code), "attempts": 0})
            pipe.expire(key, self.ttl)
            await pipe.execute()
        return code

    async def consume(self, email: str, code: str) -> bool:
        try:
            result = await self._consume(keys=[self._key(email)], args=[self._digest(email, code), self.max_attempts])
        except RedisError as exc:
            raise ServiceUnavailable("One-time codes are unavailable; try again shortly.") from exc
        return int(result) == 1


def code_email(*, code: str, ttl_minutes: int) -> tuple[str, str]:
    """Subject and text. The code is the only six-digit number in them (clients pick it out), so
    nothing the user chose, like a name with digits, goes into the message."""
    subject = "Your Tuneless Treasures sign-in code"
    text = (
        "Hello,\n\n"
        f"Your sign-in code is {code}\n\n"
        f"It works once and expires in {ttl_minutes} minutes. If you did not ask for it, ignore this email:\n"
        "nobody can sign in without the code.\n\n"
        "Tuneless Treasures\n"
    )
    return subject, text


async def send_code(
    *, sessionmaker: async_sessionmaker[AsyncSession], codes: OneTimeCodes, mailer: Mailer, email: str
) -> None:
    """Runs after the 202 has gone out: an unknown address gets no mail and leaves no trace."""
    try:
        async with sessionmaker() as session:
            user = await users.find_by_email(session, email)
        if user is None:
            return
        code = await codes.issue(email)
        subject, text = code_email(code=code, ttl_minutes=max(1, codes.ttl // 60))
        await mailer.send(to=user.email, subject=subject, text=text)
    except Exception:  # a background task has nobody to answer; log it with its cause
        log.exception("could not send a one-time code")
