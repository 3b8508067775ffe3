"""Verified tokens are remembered briefly: the same answers as checking every time, for at most
`cache_ttl` seconds and never past the token's own `exp`, a bounded number of them, failures never."""

import asyncio
import json
import time
from pathlib import Path

import pytest

from shopcommon.auth import TokenVerifier
from shopcommon.problems import Unauthorized
from shopcommon.testing.tokens import AUDIENCE, ISSUER, TestIssuer


def _verifier(issuer: TestIssuer, *, cache_ttl: float, cache_size: int = 2048) -> TokenVerifier:
    # keys_ttl=0: every verification that misses the cache reads the JWKS file again, so withdrawing
    # a key there shows exactly which answers came from the cache.
    return TokenVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        jwks_file=str(issuer.jwks_path),
        refetch_interval=0,
        keys_ttl=0,
        cache_ttl=cache_ttl,
        cache_size=cache_size,
    )


def _withdraw_key(issuer: TestIssuer, tmp_path: Path) -> TestIssuer:
    replacement = TestIssuer(tmp_path / "replacement")
    issuer.jwks_path.write_text(json.dumps(replacement.jwks))
    return replacement


async def test_a_verified_token_is_remembered_until_the_cache_ttl(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    verifier = _verifier(issuer, cache_ttl=0.5)
    token = issuer.token(7, "customer")
    first = await verifier.verify(token)
    _withdraw_key(issuer, tmp_path)
    assert await verifier.verify(token) == first  # from memory: the withdrawn key was not needed
    await asyncio.sleep(0.6)
    with pytest.raises(Unauthorized):  # checked again: the key is gone
        await verifier.verify(token)


async def test_without_a_cache_every_verification_checks(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    verifier = _verifier(issuer, cache_ttl=0)
    token = issuer.token(7, "customer")
    await verifier.verify(token)
    _withdraw_key(issuer, tmp_path)
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
    assert len(verifier.verified) == 0


async def test_a_remembered_token_still_expires_at_its_exp(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    verifier = TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks_file=str(issuer.jwks_path), leeway=0, cache_ttl=60)
    token = issuer.token(7, "customer", ttl=1)
    assert (await verifier.verify(token))["sub"] == "7"
    await asyncio.sleep(max(0.0, int(time.time()) + 1.05 - time.time()) + 1.0)  # past `exp` (whole seconds)
    with pytest.raises(Unauthorized, match="expired"):
        await verifier.verify(token)


async def test_memory_is_bounded_and_the_least_recently_used_go_first(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    verifier = _verifier(issuer, cache_ttl=60, cache_size=2)
    a, b, c = (issuer.token(n, "customer") for n in (1, 2, 3))
    await verifier.verify(a)
    await verifier.verify(b)
    await verifier.verify(a)  # a is used again: b is now the oldest
    await verifier.verify(c)
    assert len(verifier.verified) == 2
    _withdraw_key(issuer, tmp_path)
    assert (await verifier.verify(a))["sub"] == "1"
    assert (await verifier.verify(c))["sub"] == "3"
    with pytest.raises(Unauthorized):
        await verifier.verify(b)


async def test_a_refused_token_is_not_remembered(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    verifier = _verifier(issuer, cache_ttl=60)
    newcomer = TestIssuer(tmp_path / "newcomer")
    token = newcomer.token(9, "customer")
    with pytest.raises(Unauthorized):
        await verifier.verify(token)
    issuer.jwks_path.write_text(json.dumps({"keys": issuer.jwks["keys"] + newcomer.jwks["keys"]}))
    assert (await verifier.verify(token))["sub"] == "9"


async def test_a_forged_token_is_refused_even_when_its_claims_are_remembered(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    verifier = _verifier(issuer, cache_ttl=60)
    token = issuer.token(7, "customer")
    await verifier.verify(token)
    head, payload, signature = token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    with pytest.raises(Unauthorized):  # the key is the token's exact text, signature included
        await verifier.verify(forged)


async def test_callers_get_copies_of_the_remembered_claims(tmp_path: Path) -> None:
    issuer = TestIssuer(tmp_path)
    verifier = _verifier(issuer, cache_ttl=60)
    token = issuer.token(7, "customer")
    (await verifier.verify(token))["role"] = "manager"
    claims = await verifier.verify(token)
    claims["role"] = "manager"
    assert (await verifier.verify(token))["role"] == "customer"
