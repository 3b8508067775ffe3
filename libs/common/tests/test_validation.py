"""Body field types read integers and text as the OpenAPI document (JSON Schema) says."""

from __future__ import annotations

from typing import Annotated

import pytest
from pydantic import BaseModel, Field, ValidationError

from shopcommon.validation import MAX_JSON_INT, NO_NUL, Count, Id, Price, Sku


class Body(BaseModel):
    sku: Sku
    count: Count = 1
    price: Price = 0
    order_id: Id = 1
    name: Annotated[str, Field(max_length=20, pattern=NO_NUL)] = "x"


@pytest.mark.parametrize("raw", ['{"sku": 5}', '{"sku": 5.0}', '{"sku": 5e0}'])
def test_an_integer_is_what_json_schema_calls_one(raw: str) -> None:
    assert Body.model_validate_json(raw).sku == 5


@pytest.mark.parametrize(
    "raw", ['{"sku": true}', '{"sku": "5"}', '{"sku": 5.5}', '{"sku": null}', '{"price": false, "sku": 1}']
)
def test_booleans_strings_and_fractions_are_not_integers(raw: str) -> None:
    with pytest.raises(ValidationError):
        Body.model_validate_json(raw)


def test_ids_stop_where_a_json_number_stops_being_exact() -> None:
    assert Body.model_validate_json(f'{{"sku": 1, "order_id": {MAX_JSON_INT}}}').order_id == MAX_JSON_INT
    with pytest.raises(ValidationError):
        Body.model_validate_json(f'{{"sku": 1, "order_id": {MAX_JSON_INT + 1}}}')
    assert Body.model_json_schema()["properties"]["order_id"]["maximum"] == MAX_JSON_INT


def test_nul_is_refused_and_the_document_says_so() -> None:
    with pytest.raises(ValidationError) as caught:
        Body.model_validate_json('{"sku": 1, "name": "a\\u0000b"}')
    assert caught.value.errors()[0]["loc"] == ("name",)
    assert Body.model_json_schema()["properties"]["name"]["pattern"] == NO_NUL
    assert Body.model_validate_json('{"sku": 1, "name": "line\\nbreak"}').name == "line\nbreak"


def test_the_document_states_plain_integer_ranges() -> None:
    sku = Body.model_json_schema()["properties"]["sku"]
    assert (sku["type"], sku["minimum"], sku["maximum"]) == ("integer", 1, 4_294_967_295)
    assert "ge" not in sku and "le" not in sku
