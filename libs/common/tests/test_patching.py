"""A partial update refuses null for any field and does not offer it in its schema."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import pytest
from pydantic import Field, ValidationError

from shopcommon.patching import NULL_REFUSED, PartialUpdate

Price = Annotated[int, Field(ge=0, description="In cents.")]


class Colour(StrEnum):
    RED = "red"


class ItemUpdate(PartialUpdate):
    name: Annotated[str, Field(min_length=1)] | None = None
    price: Price | None = Field(default=None, description="The new price.")
    colour: Colour | None = None
    tags: list[str] | None = None


def test_a_field_left_out_is_not_set() -> None:
    update = ItemUpdate.model_validate({"price": 5})
    assert update.model_dump(exclude_unset=True) == {"price": 5}


def test_null_is_refused_for_each_field_by_name() -> None:
    with pytest.raises(ValidationError) as caught:
        ItemUpdate.model_validate({"name": None, "price": None, "colour": None, "tags": None})
    assert [(e["loc"], e["msg"]) for e in caught.value.errors()] == [
        (("name",), NULL_REFUSED),
        (("price",), NULL_REFUSED),
        (("colour",), NULL_REFUSED),
        (("tags",), NULL_REFUSED),
    ]


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError):
        ItemUpdate.model_validate({"nickname": "x"})


def test_the_schema_offers_no_null() -> None:
    props = ItemUpdate.model_json_schema()["properties"]
    assert props["name"] == {"minLength": 1, "title": "Name", "type": "string"}
    assert props["price"] == {"description": "The new price.", "minimum": 0, "title": "Price", "type": "integer"}
    assert props["colour"] == {"$ref": "#/$defs/Colour"}
    assert props["tags"] == {"items": {"type": "string"}, "title": "Tags", "type": "array"}
