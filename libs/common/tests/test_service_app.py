"""What every service gets from `create_service_app` and `shopcommon.problems` on the way in and in
its document: a complete `Allow` on a 405, one problem type for a body that cannot be parsed, and a
document that says what the service answers (400 for malformed bodies, 422 problems, text metrics)."""

from __future__ import annotations

import gc
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Path, Request
from pydantic import BaseModel

import shopcommon.app
from shopcommon.app import create_service_app
from shopcommon.problems import problem_responses
from shopcommon.reading import RequestReader, operation_doc
from shopcommon.settings import ServiceSettings

PROBLEM = "application/problem+json"
TYPES = "https://shop.example/problems/"


class Note(BaseModel):
    text: str


def make_app() -> FastAPI:
    router = APIRouter(prefix="/api")

    @router.get("/notes")
    async def list_notes() -> list[Note]:
        return []

    @router.post("/notes", status_code=201)
    async def create_note(note: Note) -> Note:
        return note

    @router.get("/notes/{note_id}")
    async def get_note(note_id: Annotated[int, Path(ge=1)]) -> Note:
        return Note(text=str(note_id))

    @router.patch("/notes/{note_id}")
    async def update_note(note_id: int, note: Note) -> Note:
        return note

    @router.delete("/notes/{note_id}", status_code=204)
    async def delete_note(note_id: int) -> None:
        return None

    @router.get("/users/me")
    async def me() -> dict[str, str]:
        return {"me": "yes"}

    @router.delete("/users/{user_id:int}", status_code=204)
    async def delete_user(user_id: int) -> None:
        return None

    @router.put("/frozen")
    async def frozen() -> None:  # a handler's own 405 keeps its own Allow
        raise HTTPException(405, headers={"Allow": "GET"})

    @router.post("/stated", responses=problem_responses(400, 422))
    async def stated(note: Note) -> Note:
        return note

    @router.post("/by-hand", openapi_extra=operation_doc(Note))
    async def by_hand(request: Request) -> dict[str, str]:
        read = RequestReader(request)
        note = await read.json_body(Note)
        read.done()
        assert note is not None
        return {"text": note.text}

    @router.get("/search")
    async def search(q: str) -> list[str]:
        return [q]

    settings = ServiceSettings(log_json=False)
    return create_service_app(settings, title="t", description="d", routers=[router], uses_db=False)


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return make_app()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c


def problem(r: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == TYPES + slug and body["status"] == status, body
    return body


# --- 405: Allow names every method the path serves --------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/notes", "GET, POST"),
        ("PUT", "/api/notes", "GET, POST"),
        ("DELETE", "/api/notes", "GET, POST"),
        ("OPTIONS", "/api/notes/7", "GET, PATCH, DELETE"),
        ("POST", "/api/notes/7", "GET, PATCH, DELETE"),
        # `/users/me` is GET only; `{user_id:int}` does not match `me`, so DELETE is not offered there
        ("DELETE", "/api/users/me", "GET"),
        ("OPTIONS", "/api/users/5", "DELETE"),
        # an undocumented route of the framework's: its own methods
        ("POST", "/docs", "GET, HEAD"),
    ],
)
async def test_a_405_allows_every_method_of_every_route_on_the_path(
    client: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    r = await client.request(method, path)
    problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == allow


async def test_a_handlers_own_405_keeps_its_allow(client: httpx.AsyncClient) -> None:
    r = await client.put("/api/frozen")
    problem(r, 405, "method-not-allowed")
    assert r.headers["allow"] == "GET"


async def test_the_allowed_methods_are_not_computed_on_a_served_request(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shopcommon.problems

    def refuse(request: object) -> None:
        raise AssertionError("Allow computed outside a 405")

    monkeypatch.setattr(shopcommon.problems, "allowed_methods", refuse)
    assert (await client.get("/api/notes/3")).status_code == 200
    assert (await client.post("/api/notes", json={"text": "x"})).status_code == 201
    assert (await client.get("/api/no-such")).status_code == 404


# --- bodies that cannot be parsed: one problem type -------------------------------------------------
@pytest.mark.parametrize("path", ["/api/notes", "/api/by-hand"])
@pytest.mark.parametrize("body", [b"\xff\xfe", b"{", b'{"text": "a\xe9"}'])
async def test_an_unreadable_json_body_is_400_malformed_json(client: httpx.AsyncClient, path: str, body: bytes) -> None:
    r = await client.post(path, content=body, headers={"content-type": "application/json"})
    problem(r, 400, "malformed-json")


async def test_fastapis_own_parse_error_is_malformed_json_not_bad_request(client: httpx.AsyncClient) -> None:
    """Bytes that are not UTF-8 fail before the JSON parser: FastAPI's generic 400 "There was an
    error parsing the body", which becomes the same `malformed-json` as any other bad JSON."""
    body = problem(
        await client.post("/api/notes", content=b'{"text": "a\xe9"}', headers={"content-type": "application/json"}),
        400,
        "malformed-json",
    )
    assert body["title"] == "Malformed JSON" and "parsing" not in body["detail"]


async def test_a_well_formed_body_that_fails_validation_stays_422(client: httpx.AsyncClient) -> None:
    problem(await client.post("/api/notes", json={"text": 5}), 422, "validation-error")


# --- the document -------------------------------------------------------------------------------------
def test_every_operation_with_a_body_documents_a_400_problem(app: FastAPI) -> None:
    doc = app.openapi()
    with_body = [
        (path, method, op) for path, item in doc["paths"].items() for method, op in item.items() if "requestBody" in op
    ]
    assert {(p, m) for p, m, _ in with_body} == {
        ("/api/notes", "post"),
        ("/api/notes/{note_id}", "patch"),
        ("/api/stated", "post"),
        ("/api/by-hand", "post"),
    }
    for path, method, op in with_body:
        answer = op["responses"]["400"]
        assert answer["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}, (path, method)
        assert list(op["responses"]) == sorted(op["responses"]), (path, method)
    assert doc["paths"]["/api/stated"]["post"]["responses"]["400"]["description"] == "Bad Request"  # its own
    assert "400" not in doc["paths"]["/api/notes"]["get"]["responses"]
    assert "400" not in doc["paths"]["/api/notes/{note_id}"]["delete"]["responses"]


def test_every_422_is_a_problem_and_the_default_components_are_gone(app: FastAPI) -> None:
    doc = app.openapi()
    answers = [
        op["responses"]["422"]
        for item in doc["paths"].values()
        for op in item.values()
        if "422" in op.get("responses", {})
    ]
    assert len(answers) >= 6
    for answer in answers:
        assert answer["content"] == {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    text = json.dumps(doc)
    assert "HTTPValidationError" not in text and '"ValidationError"' not in text
    assert "application/json" not in json.dumps([a["content"] for a in answers])


def test_a_default_component_that_is_still_referred_to_stays() -> None:
    default = {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}}
    components = {
        "HTTPValidationError": {"properties": {"detail": {"items": {"$ref": "#/components/schemas/ValidationError"}}}},
        "ValidationError": {"type": "object"},
    }
    doc: dict[str, Any] = {
        "paths": {
            "/a": {"post": {"responses": {"422": {"description": "x", "content": json.loads(json.dumps(default))}}}},
            "/b": {"get": {"responses": {"418": {"description": "teapot", "content": default}}}},
        },
        "components": {"schemas": components},
    }
    shopcommon.app.document_validation_problems(doc)
    assert doc["paths"]["/a"]["post"]["responses"]["422"]["content"] == {
        PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert doc["paths"]["/b"]["get"]["responses"]["418"]["content"] == default
    assert set(doc["components"]["schemas"]) == {"HTTPValidationError", "ValidationError"}


def test_metrics_are_documented_as_text(app: FastAPI) -> None:
    answer = app.openapi()["paths"]["/metrics"]["get"]["responses"]["200"]
    assert list(answer["content"]) == ["text/plain"]


async def test_metrics_answer_text(client: httpx.AsyncClient) -> None:
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")


async def test_the_start_up_heap_is_kept_from_the_collector_while_the_service_runs() -> None:
    """Full collections over what start-up loaded were the slowest requests' extra 50-150 ms; a
    process that starts services again (tests) gets it all back when one stops."""
    app = make_app()
    gc.unfreeze()
    async with app.router.lifespan_context(app):
        assert gc.get_freeze_count() > 10_000
    assert gc.get_freeze_count() == 0
