"""Password hashing is bounded: argon2id takes 64 MiB and tens of milliseconds of CPU per call, so
a burst of sign-ins or registrations queues instead of exhausting memory and the thread pool."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import pytest
from argon2 import PasswordHasher

from checkout.identity import passwords

from .conftest import AppFactory, confirmation_token


class PeakCounter:
    """Wraps the hasher to record how many hashes or verifications ran at once."""

    def __init__(self, hasher: PasswordHasher) -> None:
        self.hasher, self.running, self.peak, self._lock = hasher, 0, 0, threading.Lock()

    def _counted(self, method: str, *args: Any) -> Any:
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            return getattr(self.hasher, method)(*args)
        finally:
            with self._lock:
                self.running -= 1

    def hash(self, password: str) -> str:
        return str(self._counted("hash", password))

    def verify(self, password_hash: str, password: str) -> bool:
        return bool(self._counted("verify", password_hash, password))

    def check_needs_rehash(self, password_hash: str) -> bool:
        return self.hasher.check_needs_rehash(password_hash)


async def test_hashing_runs_at_most_the_configured_number_at_once(
    app_client: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = PeakCounter(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counter)
    async with app_client(password_hash_concurrency=2) as c:
        bodies = [{"username": f"burst{uuid.uuid4().hex[:8]}", "password": "correct horse battery"} for _ in range(6)]
        created = await asyncio.gather(
            *(c.post("/api/v1/users", json={**b, "email": f"{b['username']}@example.org"}) for b in bodies)
        )
        # Registrations are confirmed before they sign in (the confirmation checks the password too).
        tokens = [await confirmation_token(c, f"{b['username']}@example.org") for b in bodies]
        confirmed = await asyncio.gather(
            *(
                c.post("/api/v1/users/verify-email", json={"token": t, "password": b["password"]})
                for t, b in zip(tokens, bodies, strict=True)
            )
        )
        assert [r.status_code for r in confirmed] == [200] * 6
        signed_in = await asyncio.gather(*(c.post("/api/v1/auth/token", json=b) for b in bodies))
    assert [r.status_code for r in created + signed_in] == [201] * 6 + [200] * 6
    assert counter.peak == 2
