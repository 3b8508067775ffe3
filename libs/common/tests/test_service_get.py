"""`get_as_service`: a GET with the process's `service` token, which a 401 (keys rotated at the
issuer) replaces once."""

import httpx

from shopcommon.service_auth import ServiceTokenProvider, get_as_service

ISSUER = "http://checkout.test"


def client(accepted: set[str]) -> tuple[httpx.AsyncClient, list[str], list[str]]:
    """A checkout that issues t1, t2, ... and accepts only the tokens in `accepted`."""
    issued: list[str] = []
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/auth/token":
            issued.append(f"t{len(issued) + 1}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 300})
        token = request.headers["authorization"].removeprefix("Bearer ")
        seen.append(f"{token} {request.url.params}")
        return httpx.Response(200 if token in accepted else 401, json={})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer)), issued, seen


async def test_a_refused_token_is_replaced_once_and_the_request_sent_again() -> None:
    http, issued, seen = client(accepted={"t2"})
    tokens = ServiceTokenProvider(http, f"{ISSUER}/api/v1/auth/token", "loms", "secret")
    resp = await get_as_service(http, tokens, f"{ISSUER}/api/v1/users", {"role": "worker"})
    assert resp.status_code == 200
    assert issued == ["t1", "t2"] and seen == ["t1 role=worker", "t2 role=worker"]
    assert (await get_as_service(http, tokens, f"{ISSUER}/api/v1/users")).status_code == 200
    assert issued == ["t1", "t2"]  # the new token is kept


async def test_a_second_refusal_is_the_answer() -> None:
    http, issued, seen = client(accepted=set())
    tokens = ServiceTokenProvider(http, f"{ISSUER}/api/v1/auth/token", "loms", "secret")
    assert (await get_as_service(http, tokens, f"{ISSUER}/api/v1/users/7")).status_code == 401
    assert issued == ["t1", "t2"] and len(seen) == 2
