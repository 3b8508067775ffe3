"""Request bodies over the limit are refused with 413 before they are read whole."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
import uvicorn
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, StringConstraints

from shopcommon.app import create_service_app
from shopcommon.body_limit import DEFAULT_MAX_BODY_BYTES, body_limit
from shopcommon.reading import RequestReader, operation_doc
from shopcommon.settings import ServiceSettings

LIMIT = DEFAULT_MAX_BODY_BYTES
BIG_ROUTE_LIMIT = 256 * 1024
PROBLEM = "application/problem+json"


class Note(BaseModel):
    text: Annotated[str, StringConstraints(max_length=1_000_000)]


def make_app(max_body_bytes: int = LIMIT) -> FastAPI:
    router = APIRouter()

    @router.post("/notes")
    async def create_note(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @router.post("/read-by-hand", openapi_extra=operation_doc(Note))
    async def read_by_hand(request: Request) -> dict[str, int]:
        read = RequestReader(request)
        note = await read.json_body(Note)
        read.done()
        assert note is not None
        return {"length": len(note.text)}

    @router.post("/form")
    async def form(request: Request) -> dict[str, int]:  # as checkout reads its OAuth2 forms
        return {"length": len(await request.body())}

    @router.post("/imports", openapi_extra=body_limit(BIG_ROUTE_LIMIT))
    async def imports(note: Note) -> dict[str, int]:
        return {"length": len(note.text)}

    @router.post("/tiny", openapi_extra=body_limit(16))
    async def tiny(request: Request) -> dict[str, int]:
        return {"length": len(await request.body())}

    @router.get("/ping")
    async def ping() -> dict[str, str]:
        return {"pong": "yes"}

    settings = ServiceSettings(log_json=False, max_body_bytes=max_body_bytes)
    return create_service_app(settings, title="t", description="d", routers=[router], uses_db=False)


def note_of_size(size: int) -> bytes:
    """A JSON note whose encoding is exactly `size` bytes."""
    body = json.dumps({"text": ""}).encode()
    return json.dumps({"text": "a" * (size - len(body))}).encode()


# --- the ASGI application, called directly: what it reads, what it answers -------------------------
class Exchange:
    """One request through the ASGI app, recording every `receive` the app makes."""

    def __init__(self, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> None:
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "path": path,
            "raw_path": path.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("t", 80),
            "scheme": "http",
        }
        self.chunks = chunks
        self.received = 0
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if self.received >= len(self.chunks):
            return {"type": "http.disconnect"}
        chunk = self.chunks[self.received]
        self.received += 1
        return {"type": "http.request", "body": chunk, "more_body": self.received < len(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    async def run(self, app: FastAPI) -> None:
        await app(self.scope, self.receive, self.send)

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.sent[0]["headers"])

    @property
    def body(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


def json_headers(length: int | None) -> list[tuple[bytes, bytes]]:
    headers = [(b"host", b"t"), (b"content-type", b"application/json")]
    if length is None:
        return [*headers, (b"transfer-encoding", b"chunked")]
    return [*headers, (b"content-length", str(length).encode())]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return make_app()


@pytest.mark.parametrize("path", ["/notes", "/read-by-hand", "/form"])
async def test_a_content_length_over_the_limit_is_413_before_any_byte_is_read(app: FastAPI, path: str) -> None:
    exchange = Exchange("POST", path, json_headers(LIMIT + 1), [b"{" * 1024] * 100)
    await exchange.run(app)
    assert exchange.status == 413
    assert exchange.received == 0


async def test_a_multi_megabyte_length_is_refused_without_even_routing(app: FastAPI) -> None:
    exchange = Exchange("POST", "/notes", json_headers(50 * 1024 * 1024), [b"x"])
    await exchange.run(app)
    assert exchange.status == 413
    assert exchange.received == 0
    assert "route" not in exchange.scope


@pytest.mark.parametrize("path", ["/notes", "/read-by-hand", "/form"])
async def test_a_chunked_body_is_refused_once_it_passes_the_limit(app: FastAPI, path: str) -> None:
    chunk = b" " * 4096
    exchange = Exchange("POST", path, json_headers(None), [chunk] * 1000)
    await exchange.run(app)
    assert exchange.status == 413
    assert exchange.received == LIMIT // len(chunk) + 1  # the chunk that passed the limit, no further


async def test_the_answer_is_a_problem_that_closes_the_connection(app: FastAPI) -> None:
    for length in (LIMIT + 1, 50 * 1024 * 1024):  # refused after routing / before routing
        exchange = Exchange("POST", "/notes", json_headers(length), [b"x"])
        await exchange.run(app)
        assert exchange.headers[b"content-type"] == PROBLEM.encode()
        assert exchange.headers[b"connection"] == b"close"
        assert exchange.headers[b"x-request-id"]
        body = exchange.body
        assert body["status"] == 413 and body["type"].endswith("/too-large")
        assert body["title"] == "Content too large"
    assert exchange.body["detail"] == (
        f"The request body is larger than any operation of this service accepts ({BIG_ROUTE_LIMIT} bytes at most)."
    )


async def test_a_body_of_exactly_the_limit_is_accepted() -> None:
    async with client_of(make_app()) as client:
        r = await client.post("/notes", content=note_of_size(LIMIT), headers={"content-type": "application/json"})
        assert r.status_code == 200, r.text
        r = await client.post("/notes", content=note_of_size(LIMIT + 1), headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["detail"] == f"The request body is larger than the {LIMIT} bytes this operation accepts."


async def test_a_chunked_body_of_exactly_the_limit_is_accepted(app: FastAPI) -> None:
    body = note_of_size(LIMIT)
    exchange = Exchange("POST", "/notes", json_headers(None), [body[i : i + 1000] for i in range(0, len(body), 1000)])
    await exchange.run(app)
    assert exchange.status == 200
    assert exchange.body == {"length": LIMIT - len(b'{"text": ""}')}


async def test_a_route_may_accept_a_larger_body() -> None:
    async with client_of(make_app()) as client:
        headers = {"content-type": "application/json"}
        r = await client.post("/imports", content=note_of_size(BIG_ROUTE_LIMIT), headers=headers)
        assert r.status_code == 200, r.text
        r = await client.post("/imports", content=note_of_size(BIG_ROUTE_LIMIT + 1), headers=headers)
        assert r.status_code == 413
        assert str(BIG_ROUTE_LIMIT) in r.json()["detail"]
        assert (await client.post("/notes", content=note_of_size(LIMIT + 1), headers=headers)).status_code == 413


async def test_a_route_may_accept_a_smaller_body() -> None:
    async with client_of(make_app()) as client:
        assert (await client.post("/tiny", content=b"x" * 16)).json() == {"length": 16}
        r = await client.post("/tiny", content=b"x" * 17)
        assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


async def test_the_default_limit_is_a_setting() -> None:
    async with client_of(make_app(max_body_bytes=1000)) as client:
        headers = {"content-type": "application/json"}
        assert (await client.post("/notes", content=note_of_size(1000), headers=headers)).status_code == 200
        assert (await client.post("/notes", content=note_of_size(1001), headers=headers)).status_code == 413


async def test_requests_without_a_body_pass(app: FastAPI) -> None:
    exchange = Exchange("GET", "/ping", [(b"host", b"t")], [])
    await exchange.run(app)
    assert exchange.status == 200


def test_every_operation_with_a_body_documents_its_413() -> None:
    paths = make_app().openapi()["paths"]
    for path, limit in [("/notes", LIMIT), ("/read-by-hand", LIMIT), ("/imports", BIG_ROUTE_LIMIT)]:
        answer = paths[path]["post"]["responses"]["413"]
        assert str(limit) in answer["description"]
        assert answer["content"][PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert paths["/imports"]["post"]["x-max-body-bytes"] == BIG_ROUTE_LIMIT
    assert "413" not in paths["/ping"]["get"]["responses"]
    assert "413" not in paths["/form"]["post"]["responses"]  # it declares no body to the document


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="bytes"):
        body_limit(-1)


# --- a real server: the oversized body is never read ----------------------------------------------
def client_of(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
async def server() -> AsyncIterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        make_app(), lifespan="off", log_level="warning", http="httptools", timeout_graceful_shutdown=1
    )
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    while not srv.started:  # noqa: ASYNC110 - uvicorn offers a flag, not an event
        await asyncio.sleep(0.01)
    yield port
    srv.should_exit = True
    await task


async def exchange_raw(port: int, head: bytes, body_parts: list[bytes]) -> tuple[bytes, bool]:
    """Send a request head and as much of the body as the server takes; return its answer and
    whether it closed the connection afterwards."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        try:
            for part in body_parts:
                writer.write(part)
                await writer.drain()
        except ConnectionError:
            pass  # the server answered and closed while the body was still coming
        answer = await asyncio.wait_for(reader.read(65536), 5)
        closed = await asyncio.wait_for(reader.read(1), 5) == b""
        return answer, closed
    finally:
        writer.close()


async def test_a_real_server_answers_a_multi_megabyte_post_at_once_and_closes(server: int) -> None:
    head = b"POST /notes HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
    answer, closed = await exchange_raw(server, head, [b"{"])  # 100 MB announced, one byte sent
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert b"content-type: application/problem+json" in answer.lower()
    assert closed


async def test_a_real_server_refuses_a_chunked_body_past_the_limit(server: int) -> None:
    head = b"POST /read-by-hand HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"
    answer, closed = await exchange_raw(server, head, [chunk] * 9)  # 72 KiB, no final chunk
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert closed
