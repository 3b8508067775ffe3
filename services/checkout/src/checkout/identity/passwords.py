"""Password hashing (argon2id) and the rules a new password must pass.

Hashing costs tens of milliseconds of CPU and 64 MiB on purpose, so it runs in a worker thread
and never blocks the event loop, and only a few run at once (`limit_concurrency`): a burst of
sign-ins or registrations then queues instead of taking every core, the memory and the default
thread pool that other blocking calls share. Unknown usernames are checked against a dummy hash
so a failed login takes the same time whether or not the account exists.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = _hasher.hash("not a real password: equalises the time of unknown-user logins")

#: The passwords every credential-stuffing list starts with.
COMMON_PASSWORDS = frozenset(
    {
        "password",
        "password1",
        "12345678",
        "123456789",
        "1234567890",
        "qwertyui",
        "qwerty123",
        "11111111",
        "00000000",
        "iloveyou",
        "letmein1",
        "abc12345",
        "passw0rd",
        "admin123",
        "welcome1",
    }
)


_concurrency = 4
_slots: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None


def limit_concurrency(count: int) -> None:
    """How many hashes and verifications this process runs at once."""
    global _concurrency, _slots
    _concurrency, _slots = max(1, count), None


def _semaphore() -> asyncio.Semaphore:
    # One per event loop: a semaphore belongs to the loop it first waited on.
    global _slots
    loop = asyncio.get_running_loop()
    if _slots is None or _slots[0] is not loop:
        _slots = (loop, asyncio.Semaphore(_concurrency))
    return _slots[1]


async def hash_password(password: str) -> str:
    async with _semaphore():
        return await asyncio.to_thread(_hasher.hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches; a missing hash still costs one verification."""
    async with _semaphore():
        return await asyncio.to_thread(_verify, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


def password_problems(password: str, *, username: str = "", min_length: int = 8) -> str | None:
    """Why a password is too weak to accept, or None."""
    if len(password) < min_length:
        return f"must be at least {min_length} characters long"
    if len(set(password)) < 4:
        return "must use at least 4 different characters"
    if password.lower() in COMMON_PASSWORDS:
        return "is one of the most common passwords"
    if username and username.lower() in password.lower():
        return "must not contain the username"
    return None
