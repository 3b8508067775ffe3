"""Routes that read their request themselves answer and document as FastAPI's own parsing would."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, TypeAdapter

from shopcommon.auth import bearer_credentials
from shopcommon.problems import install_problem_handlers
from shopcommon.reading import HeaderParam, RequestReader, model_schemas, operation_doc


class Line(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: Annotated[int, Strict(), Field(ge=1)]


class Basket(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_id: Annotated[int, Strict(), Field(ge=1)]
    lines: Annotated[list[Line], Field(min_length=1)]


KEY = HeaderParam("Idempotency-Key", TypeAdapter(Annotated[str, StringConstraints(max_length=5)]), "a key")


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/baskets", openapi_extra=operation_doc(Basket, [KEY]))
    async def create(request: Request) -> dict[str, Any]:
        read = RequestReader(request)
        body = await read.json_body(Basket)
        key = read.header(KEY)
        read.done()
        assert body is not None
        return {"basket": body.model_dump(), "key": key}

    return app


@pytest.fixture
async def client() -> Any:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


def fields(r: httpx.Response) -> list[str]:
    assert r.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in r.json()["errors"]]


async def test_a_good_request_is_read(client: httpx.AsyncClient) -> None:
    r = await client.post("/baskets", json={"user_id": 1, "lines": [{"sku": 2}]}, headers={"Idempotency-Key": "k1"})
    assert r.status_code == 200
    assert r.json() == {"basket": {"user_id": 1, "lines": [{"sku": 2}]}, "key": "k1"}


async def test_every_mistake_is_answered_at_once_with_its_place(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/baskets", json={"user_id": "1", "lines": [{"sku": 0}], "x": 1}, headers={"Idempotency-Key": "toolong"}
    )
    assert r.status_code == 422
    assert sorted(fields(r)) == ["Idempotency-Key", "lines.0.sku", "user_id", "x"]


async def test_a_body_that_is_not_json_is_400(client: httpx.AsyncClient) -> None:
    r = await client.post("/baskets", content=b'{"user_id": 1,', headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json()["title"] == "Malformed JSON"


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"", {"content-type": "application/json"}),
        (b'{"user_id": 1, "lines": [{"sku": 2}]}', {}),
        (b'{"user_id": 1, "lines": [{"sku": 2}]}', {"content-type": "text/plain"}),
    ],
    ids=["empty", "no content type", "not json"],
)
async def test_a_missing_or_non_json_body_is_422(
    client: httpx.AsyncClient, content: bytes, headers: dict[str, str]
) -> None:
    r = await client.post("/baskets", content=content, headers=headers)
    assert r.status_code == 422
    assert fields(r) == ["body"]


async def test_a_json_suffix_media_type_is_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/baskets",
        content=b'{"user_id": 1, "lines": [{"sku": 2}]}',
        headers={"content-type": "application/vnd.shop+json; charset=utf-8"},
    )
    assert r.status_code == 200


def test_the_document_names_the_body_headers_and_bearer() -> None:
    doc = make_app().openapi()["paths"]["/baskets"]["post"]
    assert doc["security"] == [{"HTTPBearer": []}]
    assert doc["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Basket"}
    (param,) = doc["parameters"]
    assert param["name"] == "Idempotency-Key" and param["in"] == "header" and param["schema"]["maxLength"] == 5
    schemas = model_schemas([Basket])
    assert set(schemas) == {"Basket", "Line"}
    assert schemas["Basket"]["properties"]["lines"]["items"] == {"$ref": "#/components/schemas/Line"}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer ", "Bearer abc", "bearer abc", "BEARER  abc ", "Basic abc", "Token abc", "abc"],
)
async def test_bearer_credentials_read_as_httpbearer_does(authorization: str | None) -> None:
    seen: dict[str, Any] = {}
    app = FastAPI()

    @app.get("/")
    async def both(request: Request, credentials: Annotated[Any, Depends(HTTPBearer(auto_error=False))]) -> None:
        seen["fastapi"] = credentials
        seen["ours"] = bearer_credentials(request)

    headers = {} if authorization is None else {"Authorization": authorization}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/", headers=headers)).status_code == 200
    assert seen["ours"] == seen["fastapi"]


async def test_a_client_gone_before_its_body_arrived_is_400_not_500() -> None:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "path": "/baskets",
        "raw_path": b"/baskets",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("t", 80),
        "scheme": "http",
    }
    await make_app()(scope, receive, send)
    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 400
