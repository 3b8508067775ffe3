"""The OpenAPI document every service publishes: FastAPI's, made complete and honest (who may
call each operation, body limits, the problems answered for malformed or invalid requests)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from shopcommon.body_limit import LIMIT_KEY
from shopcommon.problems import PROBLEM_MEDIA_TYPE
from shopcommon.reading import model_schemas

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status", "detail"],
}


_REF = "#/components/schemas/{}"
_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _REF.format("Problem")}}}


def service_document(
    app: FastAPI,
    *,
    tags: list[dict[str, Any]] | None,
    models: Sequence[type[BaseModel]],
    max_body_bytes: int,
) -> dict[str, Any]:
    """The app's OpenAPI 3.1 document. `models`: body models of routes that read their request
    themselves (`shopcommon.reading`), which FastAPI cannot see, for the document's components."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        openapi_version="3.1.0",
        description=app.description,
        routes=app.routes,
        tags=tags,
    )
    components = schema.setdefault("components", {})
    schemas = {**model_schemas(models), **components.get("schemas", {})}
    components["schemas"] = {**dict(sorted(schemas.items())), "Problem": PROBLEM_SCHEMA}
    schema["servers"] = [{"url": "/", "description": "this service"}]
    document_roles(schema)
    document_body_limits(schema, max_body_bytes)
    document_malformed_bodies(schema)
    document_validation_problems(schema)
    return schema


def document_roles(schema: dict[str, Any]) -> None:
    """Show `x-roles` where a reader looks (the description) and mark public operations `security: []`."""
    for path_item in schema.get("paths", {}).values():
        for op in path_item.values():
            roles = op.get("x-roles")
            if not roles:
                continue
            if "security" not in op:
                op["security"] = []
            who = "**Who may call:** " + ", ".join(f"`{r}`" for r in roles)
            op["description"] = f"{op['description']}\n\n{who}" if op.get("description") else who


def document_body_limits(schema: dict[str, Any], default: int) -> None:
    """Every operation that takes a body may answer 413 (`shopcommon.body_limit`); say so, with its limit."""
    for op in _operations(schema):
        if "requestBody" not in op:
            continue
        responses: dict[str, Any] = op.setdefault("responses", {})
        if "413" in responses:
            continue
        limit = op.get(LIMIT_KEY, default)
        responses["413"] = {
            "description": f"Content too large: the request body is over {limit} bytes",
            "content": _problem_content(),
        }
        op["responses"] = _in_order(responses)


def document_malformed_bodies(schema: dict[str, Any]) -> None:
    """Every operation that takes a body answers 400 `malformed-json` to one it cannot parse
    (`shopcommon.problems`); say so where an operation does not already."""
    for op in _operations(schema):
        if "requestBody" not in op:
            continue
        responses: dict[str, Any] = op.setdefault("responses", {})
        if "400" in responses:
            continue
        responses["400"] = {
            "description": "Malformed body: not valid JSON (or not readable as its content type)",
            "content": _problem_content(),
        }
        op["responses"] = _in_order(responses)


def document_validation_problems(schema: dict[str, Any]) -> None:
    """FastAPI documents a 422 `application/json` `HTTPValidationError` on every operation with
    parameters or a body that does not state its own 422; the answer is a problem
    (`shopcommon.problems`). Replace it, then drop the components nothing refers to any more."""
    for op in _operations(schema):
        answer = op.get("responses", {}).get("422")
        content = answer.get("content", {}) if isinstance(answer, dict) else {}
        default = content.get("application/json", {}).get("schema", {}).get("$ref")
        if default != _REF.format("HTTPValidationError"):
            continue
        answer["description"] = "Validation failed: the request does not match the schema"
        answer["content"] = {
            **{media: body for media, body in content.items() if media != "application/json"},
            **_problem_content(),
        }
    schemas: dict[str, Any] = schema.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # the first refers to the second
        if name in schemas and not _refers_to(schema, _REF.format(name)):
            del schemas[name]


def _operations(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path_item in schema.get("paths", {}).values():
        for method, op in path_item.items():
            if method in _METHODS and isinstance(op, dict):
                yield op


def _in_order(responses: dict[str, Any]) -> dict[str, Any]:
    return dict(sorted(responses.items(), key=lambda item: (not item[0].isdigit(), item[0])))


def _refers_to(node: Any, ref: str) -> bool:
    """Whether anything in the document holds `{"$ref": ref}`."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("$ref") == ref:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False
