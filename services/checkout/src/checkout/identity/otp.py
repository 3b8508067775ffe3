"""Email one-time codes (seed 000): six digits, valid 10 minutes, 5 attempts, used once; up to
three live at once per address, at most ten code emails per address a day; only to proven addresses.

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
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from checkout.identity import queries
from checkout.identity.ratelimit import Bucket
from shopcommon.problems import ServiceUnavailable, TooManyRequests

if TYPE_CHECKING:
    from checkout.identity.lifespan import Identity

log = logging.getLogger(__name__)

CODE_DIGITS = 6

# Codes of one address live in one hash: field = the code's digest, value = "<expires ms>:<wrong
# guesses>". Several codes may be live at once (asking again does not void the code already on
# its way); the oldest is retired when a new one would exceed the allowed number.

# KEYS[1]: the address's codes. ARGV: the new code's digest, its lifetime (ms), the live codes allowed.
ISSUE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local expires = tonumber(string.match(all[i + 1], '^(%d+):'))
  if expires <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then
    table.insert(live, {all[i], expires})
  end
end
table.sort(live, function(a, b) return a[2] < b[2] end)
for i = 1, #live - tonumber(ARGV[3]) + 1 do redis.call('HDEL', KEYS[1], live[i][1]) end
redis.call('HSET', KEYS[1], ARGV[1], (now + tonumber(ARGV[2])) .. ':0')
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return 1
"""

# KEYS[1]: the address's codes. ARGV: the candidate's digest, the wrong guesses a code survives.
# 1 = a live code matched: it is spent, and so are its siblings (the sign-in they were for has
# happened). 0 = no live code matched: the guess counts against every live code, and a code
# that has met its last allowed guess is deleted, so guess number six meets no code at all.
CONSUME_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[2])
local all = redis.call('HGETALL', KEYS[1])
local live = {}
for i = 1, #all, 2 do
  local expires, attempts = string.match(all[i + 1], '^(%d+):(%d+)$')
  if tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] == ARGV[1] then
    redis.call('DEL', KEYS[1])
    return 1
  else
    table.insert(live, {all[i], expires, tonumber(attempts) + 1})
  end
end
for _, code in ipairs(live) do
  if code[3] >= max then
    redis.call('HDEL', KEYS[1], code[1])
  else
    redis.call('HSET', KEYS[1], code[1], code[2] .. ':' .. code[3])
  end
end
return 0
"""


class OneTimeCodes:
    def __init__(
        self, redis: Redis, *, secret: str, ttl: int, max_attempts: int, live_codes: int = 3, prefix: str = ""
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self._secret = secret.encode()
        self.ttl = ttl
        self.max_attempts = max_attempts
        self.live_codes = max(1, live_codes)
        self._issue = redis.register_script(ISSUE_LUA)
        self._consume = redis.register_script(CONSUME_LUA)

    def _mac(self, message: str) -> str:
        return hmac.new(self._secret, message.encode(), hashlib.sha256).hexdigest()

    def _key(self, email: str) -> str:
        return f"{self.prefix}otp:" + self._mac("key:" + email.lower())[:40]

    def _digest(self, email: str, code: str) -> str:
        return self._mac(f"code:{email.lower()}:{code}")

    async def issue(self, email: str) -> str:
        """A fresh code for the address. Codes issued before it stay valid (until they expire, are
        used, or `live_codes` newer ones have been issued): a mail that arrives late still works."""
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        await self._issue(keys=[self._key(email)], args=[self._digest(email, code), self.ttl * 1000, self.live_codes])
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


async def send_code(*, sessionmaker: async_sessionmaker[AsyncSession], identity: Identity, email: str) -> None:
    """Runs after the 202 has gone out. An unknown address, and one no account has proven, gets
    no mail and leaves no trace; a proven one gets at most `otp_emails_per_day` codes a day,
    whoever asks for them (asking beyond that is answered the same and sends nothing)."""
    s = identity.settings
    try:
        async with sessionmaker() as session:
            user = await queries.find_by_email(session, email)
        if user is None:
            return
        try:
            await identity.limiter.hit(
                Bucket("otp-mail:email-day", email, s.otp_emails_per_day, window=s.otp_failure_window)
            )
        except TooManyRequests:
            log.info("one-time code not sent: the address has had its codes for the day")
            return
        codes = identity.codes
        code = await codes.issue(email)
        subject, text = code_email(code=code, ttl_minutes=max(1, codes.ttl // 60))
        await identity.mailer.send(to=user.email, subject=subject, text=text)
    except Exception:  # a background task has nobody to answer; log it with its cause
        log.exception("could not send a one-time code")
