"""The in-process cache of catalogue pages is keyed by the query as it is encoded on the wire: two
different queries never share an entry, whatever their values contain."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import httpx

from checkout.shopping.catalogue_source import CatalogueSource
from checkout.shopping.lifespan import Shopping
from checkout.shopping.usecases.catalogue import product_description
from product_stub.demo import demo_products
from shopcommon.devstack.servers import free_port

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory

PRODUCTS = demo_products()


async def test_a_value_holding_a_separator_is_not_served_another_querys_page(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    sample = PRODUCTS[0]
    client = await checkout(product=await product_stub(), loms=loms, catalogue_cache_ttl=60)
    posing = await client.get(
        "/api/v1/products", params={"category": f"{sample.category}&manufacturer={sample.manufacturer}"}
    )
    real = await client.get(
        "/api/v1/products", params={"category": sample.category, "manufacturer": sample.manufacturer}
    )
    assert posing.status_code == real.status_code == 200
    assert posing.json()["items"] == []  # no category has that name
    assert sample.sku in {p["sku"] for p in real.json()["items"]}
    # And the other way round: the real query's page is not the posing one's.
    again = await client.get(
        "/api/v1/products", params={"category": f"{sample.category}&manufacturer={sample.manufacturer}"}
    )
    assert again.json()["items"] == []


async def test_an_empty_value_is_not_confused_with_a_joined_one(
    checkout: CheckoutFactory, product_stub: ProductStubFactory, loms: CountingTransport
) -> None:
    sample = PRODUCTS[0]
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms, catalogue_cache_ttl=60)
    joined = await client.get("/api/v1/products", params={"category": f"{sample.category}&manufacturer="})
    split = await client.get("/api/v1/products", params={"category": sample.category, "manufacturer": ""})
    assert joined.json()["items"] == []
    assert stub.count("/api/v1/products") == 2, "the second query was answered from the first one's entry"
    assert split.status_code == 200


def test_cache_keys_are_the_encoded_query_in_one_order() -> None:
    from checkout.shopping.catalogue_source import cache_key

    assert cache_key("/p", [("a", "1&b=")]) != cache_key("/p", [("a", "1"), ("b", "")])
    assert cache_key("/p", [("a", "1=b")]) != cache_key("/p", [("a=1", "b")])
    assert cache_key("/p", [("limit", 20), ("category", "x")]) == cache_key("/p", [("category", "x"), ("limit", 20)])
    assert cache_key("/p", [("sku", 2), ("sku", 1)]) != cache_key("/p", [("sku", 1), ("sku", 2)])
    assert cache_key("/p", [("limit", 20)]) != cache_key("/p", [("limit", 20), ("cursor", "c")])


async def test_a_product_page_goes_without_the_description_when_the_catalogue_cannot_say_it() -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=2) as http:
        shop = cast(Shopping, SimpleNamespace(catalogue=CatalogueSource(http, ttl=0)))
        assert await product_description(shop, sku=PRODUCTS[0].sku) == ""
