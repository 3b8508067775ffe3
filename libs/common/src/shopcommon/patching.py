"""Bodies of partial updates (PATCH): a field left out keeps its value, and `null` is refused.

Shared because every service with a PATCH route has the same trap: fields typed `X | None = None`
so they may be left out would also accept an explicit `null`, which then reaches a `NOT NULL`
column (a 500) or silently means "no change". A `PartialUpdate` answers `null` with a 422 naming
the field, and its OpenAPI schema does not offer `null` either, so a client (or a fuzzer) reading
the document never sends one. The fields stay typed `X | None` for the code that reads them: `None`
there means "left out".
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

NULL_REFUSED = "may be left out, but not null"


def _offer_no_null(schema: dict[str, Any]) -> None:
    for prop in schema.get("properties", {}).values():
        options = prop.get("anyOf")
        if options is not None:
            kept = [option for option in options if option.get("type") != "null"]
            del prop["anyOf"]
            if len(kept) == 1:  # the field's own title and description stay over the type's
                prop.update({**kept[0], **prop})
            else:
                prop["anyOf"] = kept
        if "default" in prop and prop["default"] is None:
            del prop["default"]


class PartialUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_offer_no_null)

    @field_validator("*", mode="before")
    @classmethod
    def _refuse_null(cls, value: Any) -> Any:
        if value is None:
            raise PydanticCustomError("null_refused", NULL_REFUSED)
        return value
