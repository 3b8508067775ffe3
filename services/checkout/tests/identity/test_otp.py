"""Email one-time codes: sent through real SMTP to the mail catcher, single use, 10 minutes,
5 attempts, and the same answer whether or not the address has an account."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import jwt
import pytest

from shopcommon.testing.plugin import Stack

from .conftest import AppFactory, code_in, mail_to, register


@pytest.fixture
async def client(app_client: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    """A checkout per test: each test its own allowance of code requests (5 a minute per IP)."""
    async with app_client() as c:
        yield c


async def request_code(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/api/v1/auth/otp", json={"email": email})


async def test_code_arrives_by_email_and_signs_in(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    user = await register(client)
    r = await request_code(client, user["email"].upper())
    assert r.status_code == 202
    [message] = await mail_to(shop_stack.urls.mail_api_url, user["email"])
    code = code_in(message)  # exactly one six-digit number in subject and text
    verified = await client.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": code})
    assert verified.status_code == 200
    pair = verified.json()
    assert pair["refresh_token"] and jwt.decode(pair["access_token"], options={"verify_signature": False})[
        "sub"
    ] == str(user["id"])


async def test_code_works_once(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    user = await register(client)
    await request_code(client, user["email"])
    code = code_in((await mail_to(shop_stack.urls.mail_api_url, user["email"]))[0])
    body = {"email": user["email"], "code": code}
    assert (await client.post("/api/v1/auth/otp/verify", json=body)).status_code == 200
    assert (await client.post("/api/v1/auth/otp/verify", json=body)).status_code == 401


async def test_unknown_email_gets_the_same_answer_and_no_mail(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    user = await register(client)
    known = await request_code(client, user["email"])
    unknown = await request_code(client, "nobody-here@example.org")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert await mail_to(shop_stack.urls.mail_api_url, "nobody-here@example.org", timeout=0.5) == []
    guess = await client.post("/api/v1/auth/otp/verify", json={"email": "nobody-here@example.org", "code": "123456"})
    assert guess.status_code == 401


async def test_brute_force_stops_at_five_attempts(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    user = await register(client)
    await request_code(client, user["email"])
    code = code_in((await mail_to(shop_stack.urls.mail_api_url, user["email"]))[0])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        r = await client.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": wrong})
        assert r.status_code == 401
    right = await client.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": code})
    assert right.status_code == 401  # the code died with the fifth wrong guess


async def test_the_right_code_on_the_fifth_attempt_still_works(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    user = await register(client)
    await request_code(client, user["email"])
    code = code_in((await mail_to(shop_stack.urls.mail_api_url, user["email"]))[0])
    for _ in range(4):
        await client.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": "000000x"})
    assert (
        await client.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": code})
    ).status_code == 200


async def codes_sent(client: httpx.AsyncClient, email: str, count: int) -> list[str]:
    """The codes of the newest `count` code mails to the address, newest first."""
    messages = await mail_to(client.mail_api, email)  # type: ignore[attr-defined]
    while len(messages) < count:
        messages = await mail_to(client.mail_api, email)  # type: ignore[attr-defined]
    return [code_in(m) for m in messages[:count]]


async def verify(client: httpx.AsyncClient, email: str, code: str) -> int:
    return (await client.post("/api/v1/auth/otp/verify", json={"email": email, "code": code})).status_code


async def test_a_new_code_does_not_void_the_live_one(client: httpx.AsyncClient) -> None:
    """Asking again (the first mail is slow) must not turn the mail already on its way into junk."""
    user = await register(client)
    await request_code(client, user["email"])
    [first] = await codes_sent(client, user["email"], 1)
    await request_code(client, user["email"])
    second, _ = await codes_sent(client, user["email"], 2)
    assert await verify(client, user["email"], first) == 200
    if second != first:
        # Signing in spends the address's other live codes too: they were for this sign-in.
        assert await verify(client, user["email"], second) == 401


async def test_only_the_newest_live_codes_stay_valid(app_client: AppFactory) -> None:
    async with app_client(otp_live_codes=2) as c:
        user = await register(c)
        for n in range(1, 4):
            await request_code(c, user["email"])
            await codes_sent(c, user["email"], n)
        third, second, first = await codes_sent(c, user["email"], 3)
        if first not in (second, third):
            assert await verify(c, user["email"], first) == 401  # retired by the third
        assert await verify(c, user["email"], second) == 200


async def test_a_wrong_guess_counts_against_every_live_code(client: httpx.AsyncClient) -> None:
    """Live codes side by side must not multiply the guesses: each survives five wrong ones in all."""
    user = await register(client)
    for n in (1, 2):
        await request_code(client, user["email"])
        await codes_sent(client, user["email"], n)
    second, first = await codes_sent(client, user["email"], 2)
    wrong = next(f"{i:06d}" for i in range(10) if f"{i:06d}" not in (first, second))
    for _ in range(5):
        assert await verify(client, user["email"], wrong) == 401
    assert await verify(client, user["email"], first) == 401
    assert await verify(client, user["email"], second) == 401


async def test_code_emails_per_address_are_capped_per_day(app_client: AppFactory, shop_stack: Stack) -> None:
    async with app_client(otp_emails_per_day=2) as c:
        user = await register(c)
        answers = [await request_code(c, user["email"]) for _ in range(3)]
        assert {(r.status_code, r.json()["detail"]) for r in answers} == {
            (answers[0].status_code, answers[0].json()["detail"])
        }
        await codes_sent(c, user["email"], 2)
        await asyncio.sleep(0.5)  # the third request's background task has long run
        assert len(await mail_to(shop_stack.urls.mail_api_url, user["email"])) == 2


async def test_an_unconfirmed_address_is_treated_as_unknown(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    """Pre-account takeover: whoever registers someone else's address gets no codes for it, and
    the address's owner gets nothing from that registration but its confirmation mail."""
    user = await register(client, confirm=False)
    known = await request_code(client, user["email"])
    unknown = await request_code(client, "nobody-either@example.org")
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    assert await mail_to(shop_stack.urls.mail_api_url, user["email"], timeout=0.5) == []
    assert len(await mail_to(shop_stack.urls.mail_api_url, user["email"], confirmations=True)) == 1
    assert await verify(client, user["email"], "123456") == 401


async def test_codes_expire(app_client: AppFactory, shop_stack: Stack) -> None:
    async with app_client(otp_ttl=1) as c:
        user = await register(c)
        await request_code(c, user["email"])
        code = code_in((await mail_to(shop_stack.urls.mail_api_url, user["email"]))[0])
        await asyncio.sleep(1.5)
        assert (await c.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": code})).status_code == 401


async def test_malformed_otp_requests_are_422(client: httpx.AsyncClient) -> None:
    assert (await client.post("/api/v1/auth/otp", json={"email": "not-an-address"})).status_code == 422
    assert (await client.post("/api/v1/auth/otp/verify", json={"email": "a@example.org"})).status_code == 422


async def test_the_code_is_the_only_six_digit_number_even_for_a_digit_username(
    client: httpx.AsyncClient, shop_stack: Stack
) -> None:
    user = await register(client, username="fan123456", first_name="Agent 654321")
    await request_code(client, user["email"])
    [message] = await mail_to(shop_stack.urls.mail_api_url, user["email"])
    assert code_in(message) not in {"123456", "654321"}


async def test_failures_carry_over_to_new_codes_until_the_daily_cap(app_client: AppFactory, shop_stack: Stack) -> None:
    """Asking for a new code starts a new five-attempt count, but not a new daily allowance."""
    async with app_client(otp_failures_per_email=3) as c:
        user = await register(c)
        for _ in range(3):
            await request_code(c, user["email"])
            wrong = await c.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": "0000000"})
            assert wrong.status_code == 401
        await request_code(c, user["email"])
        messages = await mail_to(shop_stack.urls.mail_api_url, user["email"])
        while len(messages) < 4:
            messages = await mail_to(shop_stack.urls.mail_api_url, user["email"])
        right = await c.post("/api/v1/auth/otp/verify", json={"email": user["email"], "code": code_in(messages[0])})
        assert right.status_code == 429
        assert int(right.headers["Retry-After"]) > 3600  # a day's window, not a minute's
