"""How checkout's answer about a user is read. The real checkout answers `email_verified` to
`service` callers (tests/integration/test_email.py); an older one leaves the field out, which
counts as confirmed, so upgrading checkout and notifications in either order stops no mail."""

from typing import Any

import httpx
import pytest

from notifications.domain.delivery import DeliveryError
from notifications.users import UNCONFIRMED, UserDirectory
from shopcommon.service_auth import ServiceTokenProvider

CHECKOUT = "http://checkout.test"


def directory(user: dict[str, Any]) -> UserDirectory:
    """A directory whose checkout answers `user` for every id (and a token to the client)."""
    return answering(httpx.Response(200, json={"id": 7, "username": "nora", "role": "customer", **user}))


def answering(response: httpx.Response) -> UserDirectory:
    """A directory whose users API answers `response` for every id."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/token":
            return httpx.Response(200, json={"access_token": "t", "token_type": "bearer", "expires_in": 300})
        return response

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    tokens = ServiceTokenProvider(http, f"{CHECKOUT}/api/v1/auth/token", "notifications", "secret")
    return UserDirectory(http, tokens, CHECKOUT)


@pytest.mark.parametrize("verified", [{"email_verified": True}, {}], ids=["confirmed", "field-absent"])
async def test_a_confirmed_or_unstated_address_is_the_recipient(verified: dict[str, Any]) -> None:
    found = await directory({"email": "nora@example.test", "first_name": "Nora", **verified}).recipient(7)
    assert (found.email, found.name) == ("nora@example.test", "Nora")


async def test_an_unconfirmed_address_fails_for_good_with_a_neutral_reason() -> None:
    users = directory({"email": "nora@example.test", "email_verified": False})
    with pytest.raises(DeliveryError) as caught:
        await users.recipient(7)
    assert caught.value.permanent and caught.value.reason == UNCONFIRMED
    assert "nora@example.test" not in caught.value.for_log()


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html><body>502 Bad Gateway</body></html>"),
        httpx.Response(200, json={"id": 7, "username": "nora", "role": "customer"}),
        httpx.Response(200, json=["nora@example.test"]),
    ],
    ids=["proxy-error-page", "no-email-field", "not-an-object"],
)
async def test_an_answer_that_is_not_a_user_is_retried_like_checkout_being_down(response: httpx.Response) -> None:
    """A proxy's error page answered 200, or a body without the user's fields, says nothing about
    the user: it failed the e-mail for good ("cannot render the message", "no e-mail address")."""
    with pytest.raises(DeliveryError) as caught:
        await answering(response).recipient(7)
    assert not caught.value.permanent and caught.value.reason == "user directory unavailable"
