from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shopcommon.patching import PartialUpdate

Sku = Annotated[int, Field(ge=1, le=4_294_967_295, description="uint32, 1..2^32-1")]
Uint32 = Annotated[int, Field(ge=0, le=4_294_967_295)]
Price = Annotated[int, Field(ge=0, le=4_294_967_295, description="In the smallest currency unit.")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- route256 RPC, field names verbatim ------------------------------------------------------
class GetProductRequest(BaseModel):
    token: str
    sku: Sku


class GetProductResponse(BaseModel):
    name: str
    price: Price


class ListSkusRequest(BaseModel):
    token: str
    startAfterSku: Uint32 = 0  # noqa: N815 - the seed's spelling
    count: Annotated[int, Field(ge=0, le=4_294_967_295)]


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
    name: Annotated[str, Field(min_length=1, max_length=200)]
    price: Price
    description: Annotated[str, Field(max_length=5000)] = ""
    category: Annotated[str, Field(min_length=1, max_length=100)]
    manufacturer: Annotated[str, Field(min_length=1, max_length=100)]


class ProductUpdate(PartialUpdate):
    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    price: Price | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    category: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    manufacturer: Annotated[str, Field(min_length=1, max_length=100)] | None = None


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
    name: Annotated[str, Field(min_length=1, max_length=100)]
    description: Annotated[str, Field(max_length=5000)] = ""


class GroupUpdate(PartialUpdate):
    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
