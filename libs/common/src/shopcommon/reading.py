"""Reading a request by hand, for the few hot routes where FastAPI's dependency resolution costs
more than the work itself (LOMS's order creation: a fifth of its CPU per order, see
`bench/loms/README.md`).

Bad input gets the answers FastAPI's own parsing gives: every mistake of the request at once in a
`RequestValidationError` (422; 400 when the body is not JSON at all), located as FastAPI locates
them (`body.items.0.sku`, `header.Idempotency-Key`). The differences: a body that is not JSON is
located at `body` rather than at a byte offset, a body without a JSON content type is refused with
its own message, and the routes check the caller before reading anything, so an anonymous request
is 401 whatever its body. `operation_doc` writes the OpenAPI entry FastAPI would have written for
the same inputs, and `create_service_app(openapi_models=...)` puts the body models into the
document's components.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from shopcommon.auth import BEARER_SECURITY

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

SCHEMA_REF = "#/components/schemas/{model}"
_JSON_TYPES = ("application/json",)


@dataclass(frozen=True)
class HeaderParam(Generic[T]):
    """An optional request header with its rules (validated like a FastAPI `Header`)."""

    name: str
    adapter: TypeAdapter[T]
    description: str

    def doc(self) -> dict[str, Any]:
        schema = {**self.adapter.json_schema(), "title": self.name}
        return {"name": self.name, "in": "header", "required": False, "description": self.description, "schema": schema}


def _located(exc: ValidationError, *where: str | int) -> list[dict[str, Any]]:
    return [{**error, "loc": (*where, *error["loc"])} for error in exc.errors(include_url=False)]


def _is_json(content_type: str | None) -> bool:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in _JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


class RequestReader:
    """Reads the parts of one request, collecting every mistake; `done()` answers them together."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.errors: list[dict[str, Any]] = []

    async def json_body(self, model: type[M]) -> M | None:
        try:
            raw = await self.request.body()
        except ClientDisconnect as exc:
            # As FastAPI answers a body it could not read (nobody is listening any more).
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc
        if not raw:
            self.errors.append({"type": "missing", "loc": ("body",), "msg": "Field required", "input": None})
            return None
        if not _is_json(self.request.headers.get("content-type")):
            self.errors.append(
                {
                    "type": "content_type",
                    "loc": ("body",),
                    "msg": "The body must be JSON (Content-Type: application/json)",
                    "input": None,
                }
            )
            return None
        try:
            # Parsed and validated in one pass by pydantic-core; a body that is not JSON at all is a
            # `json_invalid` error, which the problem handler answers with 400.
            return model.model_validate_json(raw)
        except ValidationError as exc:
            self.errors.extend(_located(exc, "body"))
            return None

    def header(self, param: HeaderParam[T]) -> T | None:
        value = self.request.headers.get(param.name)
        if value is None:
            return None
        try:
            return param.adapter.validate_python(value)
        except ValidationError as exc:
            self.errors.extend(_located(exc, "header", param.name))
            return None

    def done(self) -> None:
        if self.errors:
            raise RequestValidationError(self.errors)


def operation_doc(body: type[BaseModel], headers: Sequence[HeaderParam[Any]] = ()) -> dict[str, Any]:
    """`openapi_extra` for a route that reads its bearer token, `headers` and JSON `body` itself."""
    return {
        "security": BEARER_SECURITY,
        "parameters": [h.doc() for h in headers],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": SCHEMA_REF.format(model=body.__name__)}}},
        },
    }


def model_schemas(models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    """Component schemas for `models` and the models they contain."""
    out: dict[str, Any] = {}
    for model in models:
        schema = model.model_json_schema(ref_template=SCHEMA_REF)
        out.update(schema.pop("$defs", {}))
        out[model.__name__] = schema
    return out
