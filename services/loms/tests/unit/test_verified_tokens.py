"""Tokens verified once stay verified until they expire; nothing else changes."""

from pathlib import Path

import pytest

from loms.verified_tokens import RememberingVerifier
from shopcommon.auth import TokenVerifier
from shopcommon.problems import Unauthorized
from shopcommon.testing.tokens import TestIssuer


class Counting(TokenVerifier):
    calls = 0

    async def verify(self, token: str) -> dict[str, object]:
        self.calls += 1
        return await super().verify(token)


def verifier(issuer: TestIssuer) -> tuple[RememberingVerifier, Counting]:
    inner = Counting(issuer="shop-checkout", audience="shop", jwks_file=str(issuer.jwks_path))
    return RememberingVerifier(inner, capacity=2), inner


async def test_a_token_is_checked_once(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    remembering, inner = verifier(issuer)
    token = issuer.token("checkout", "service")
    for _ in range(3):
        assert (await remembering.verify(token))["sub"] == "checkout"
    assert inner.calls == 1


async def test_an_expired_token_is_checked_again_and_refused(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    remembering, inner = verifier(issuer)
    token = issuer.token("7", "customer", ttl=-60)
    with pytest.raises(Unauthorized):
        await remembering.verify(token)
    with pytest.raises(Unauthorized):
        await remembering.verify(token)
    assert inner.calls == 2


async def test_bad_tokens_are_never_remembered(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    remembering, _ = verifier(issuer)
    forged = TestIssuer(tmp_path / "other").token("1", "manager")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            await remembering.verify(forged)


async def test_the_memory_is_bounded(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    remembering, inner = verifier(issuer)
    tokens = [issuer.token(str(i), "customer") for i in range(3)]
    for token in tokens:
        await remembering.verify(token)
    await remembering.verify(tokens[0])
    assert inner.calls == 4
