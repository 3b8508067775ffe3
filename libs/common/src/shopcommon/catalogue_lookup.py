"""Products by sku from product-stub's public list API (`GET /api/v1/products?sku=...`, the
parameter repeated, up to 200 skus a call): LOMS reads their categories, notifications their names."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx

from shopcommon.problems import ServiceUnavailable

#: product-stub's largest page, and so the most skus one call asks for.
PAGE = 200


async def products_by_sku(http: httpx.AsyncClient, base_url: str, skus: Iterable[int]) -> dict[int, dict[str, Any]]:
    """sku -> product-stub's product (`{sku, name, price, description, category, manufacturer}`) for
    each sku it lists; one it does not (deleted since it was sold) is missing. ServiceUnavailable when
    product-stub does not answer, or answers with something that is not its page."""
    wanted = sorted(set(skus))
    found: dict[int, dict[str, Any]] = {}
    for start in range(0, len(wanted), PAGE):
        params = httpx.QueryParams([("limit", str(PAGE)), *(("sku", str(s)) for s in wanted[start : start + PAGE])])
        try:
            resp = await http.get(f"{base_url.rstrip('/')}/api/v1/products", params=params)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(f"product-stub unreachable: {type(exc).__name__}") from exc
        if resp.status_code != 200:
            raise ServiceUnavailable(f"product-stub answered {resp.status_code} to a lookup by sku")
        try:
            found.update({int(product["sku"]): product for product in resp.json().get("items", [])})
        except (ValueError, LookupError, TypeError, AttributeError) as exc:  # a proxy's page, say
            raise ServiceUnavailable(f"product-stub's answer to a lookup by sku is not a page: {exc!r}") from exc
    return found
