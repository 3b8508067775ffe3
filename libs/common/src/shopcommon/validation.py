"""Request field types that mean in the code what they say in the OpenAPI document.

A client (or a fuzzer) reads the document as JSON Schema, so every rule the server applies to a
field's shape must be visible there, and nothing the schema allows may be refused for its shape:

- Integers as JSON Schema counts them: `5.0` is the integer 5, `true` and `"5"` are not integers.
- Integer ranges a JSON number can carry exactly: 2**53 - 1 at most (a double holds every integer up
  to it; beyond, `9223372036854775807` and `9223372036854775808` are the same number).
- Text without NUL (PostgreSQL cannot store it), stated as a `pattern`, and no stripping inside
  validation (a value the schema accepts is never shortened below its `minLength`).
- Partial updates: `shopcommon.patching.PartialUpdate`.

The integer types are for JSON bodies. Path and query parameters arrive as text, so they take
plain `int` with `Path(ge=1, le=MAX_JSON_INT)` / `Query(...)` bounds.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, Strict

#: The largest integer a JSON number (an IEEE double) carries exactly.
MAX_JSON_INT = 2**53 - 1
MAX_UINT32 = 4_294_967_295
MAX_UINT16 = 65_535

#: Text that may hold line breaks and tabs, but no NUL.
NO_NUL = r"^[^\x00]*$"


def _json_integer(value: Any) -> Any:
    """`5.0` → 5; `true`, `"5"` and `5.5` stay as they are and fail the strict check after."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


#: Put last in `Annotated[int, Strict(), Field(ge=..., le=...), JSON_INTEGER]`: an integer as JSON
#: Schema defines one (keep `le` at most `MAX_JSON_INT`).
JSON_INTEGER = BeforeValidator(_json_integer)

Id = Annotated[int, Strict(), Field(ge=1, le=MAX_JSON_INT, description="A positive id (at most 2^53-1)."), JSON_INTEGER]
Sku = Annotated[int, Strict(), Field(ge=1, le=MAX_UINT32, description="uint32, 1..4294967295"), JSON_INTEGER]
Count = Annotated[int, Strict(), Field(ge=1, le=MAX_UINT16, description="uint16, 1..65535"), JSON_INTEGER]
Uint32 = Annotated[int, Strict(), Field(ge=0, le=MAX_UINT32), JSON_INTEGER]
Price = Annotated[int, Strict(), Field(ge=0, le=MAX_UINT32, description="In the smallest currency unit."), JSON_INTEGER]
