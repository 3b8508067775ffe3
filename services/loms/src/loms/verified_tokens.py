"""Remembering tokens already verified. Checkout calls LOMS with one cached service token for
minutes at a time; checking its Ed25519 signature on every request was a visible share of the CPU
of an order (bench/loms/README.md). A token's claims cannot change, so a verified token stays
verified until it expires."""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from shopcommon.auth import TokenVerifier


class RememberingVerifier:
    """Wraps the app's `TokenVerifier`: same answers, the signature checked once per token."""

    def __init__(self, inner: TokenVerifier, capacity: int = 4096) -> None:
        self.inner = inner
        self.capacity = capacity
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()

    async def verify(self, token: str) -> dict[str, Any]:
        claims = self._verified.get(token)
        if claims is not None and float(claims["exp"]) > time.time():
            self._verified.move_to_end(token)
            return claims
        self._verified.pop(token, None)
        claims = await self.inner.verify(token)  # raises for anything not acceptable
        self._verified[token] = claims
        if len(self._verified) > self.capacity:
            self._verified.popitem(last=False)
        return claims

    async def close(self) -> None:
        await self.inner.close()
