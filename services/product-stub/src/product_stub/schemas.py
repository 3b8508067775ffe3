"""Request and response bodies. Request fields use `shopcommon.validation`'s types, so the document
says exactly what is accepted: integers as JSON Schema counts them (`5.0` is 5; `true` and `"5"` are
refused), and text without NUL (PostgreSQL cannot store it), stated as a `pattern`."""

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shopcommon.patching import PartialUpdate
from shopcommon.validation import NO_NUL, Price, Sku, Uint32

ProductName = Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)]
GroupName = Annotated[str, Field(min_length=1, max_length=100, pattern=NO_NUL)]
Description = Annotated[str, Field(max_length=5000, pattern=NO_NUL)]
Token = Annotated[str, Field(pattern=NO_NUL, description="The ProductService token.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- route256 RPC, field names verbatim ------------------------------------------------------
class GetProductRequest(BaseModel):
    token: Token
    sku: Sku


class GetProductResponse(BaseModel):
    name: str
    price: Price


class ListSkusRequest(BaseModel):
    token: Token
    startAfterSku: Uint32 = 0  # noqa: N815 - the seed's spelling
    count: Uint32


class ListSkusResponse(BaseModel):
    skus: list[int]


# --- REST ----------------------------------------------------------------------------------------
class Product(BaseModel):
    sku: int
    name: str
    price: int
    description: str
    category: str
    manufacturer: str


class ProductCreate(Strict):
    sku: Sku
    name: ProductName
    price: Price
    description: Description = ""
    category: GroupName
    manufacturer: GroupName


class ProductUpdate(PartialUpdate):
    name: ProductName | None = None
    price: Price | None = None
    description: Description | None = None
    category: GroupName | None = None
    manufacturer: GroupName | None = None


class InstrumentRef(BaseModel):
    sku: int
    name: str
    price: int


class Category(BaseModel):
    id: int
    name: str
    description: str
    instruments: list[InstrumentRef]


class Manufacturer(Category):
    pass


class GroupCreate(Strict):
    name: GroupName
    description: Description = ""


class GroupUpdate(PartialUpdate):
    name: GroupName | None = None
    description: Description | None = None
