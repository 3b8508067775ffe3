"""Each sku's product category, from product-stub's public list API (`?sku=` repeated, up to 200
skus a call). A sku product-stub does not list (deleted since it was sold) gets `UNKNOWN_CATEGORY`.
The answers are cached in LOMS's `sku_categories` table by the caller (`repositories/tasks.py`)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from loms.domain.tasks import UNKNOWN_CATEGORY
from shopcommon.problems import ServiceUnavailable

PAGE = 200


class CatalogueClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")

    async def categories(self, skus: Sequence[int]) -> dict[int, str]:
        """sku -> category for every sku asked; ServiceUnavailable when product-stub does not answer."""
        wanted = sorted(set(skus))
        found: dict[int, str] = {}
        for start in range(0, len(wanted), PAGE):
            chunk = wanted[start : start + PAGE]
            params = httpx.QueryParams([("limit", str(PAGE)), *(("sku", str(s)) for s in chunk)])
            try:
                resp = await self.http.get(f"{self.base_url}/api/v1/products", params=params)
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"product-stub unreachable: {exc}") from exc
            if resp.status_code != 200:
                raise ServiceUnavailable(f"product-stub answered {resp.status_code} to a category lookup")
            for product in resp.json().get("items", []):
                found[int(product["sku"])] = str(product["category"])
        return {sku: found.get(sku, UNKNOWN_CATEGORY) for sku in wanted}
