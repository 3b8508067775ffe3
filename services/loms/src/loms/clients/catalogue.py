"""Each sku's product category, from product-stub's public list API
(`shopcommon.catalogue_lookup`). A sku product-stub does not list (deleted since it was sold) gets
`UNKNOWN_CATEGORY`. The answers are cached in LOMS's `sku_categories` table by the caller
(`repositories/tasks.py`)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from loms.domain.tasks import UNKNOWN_CATEGORY
from shopcommon.catalogue_lookup import products_by_sku


class CatalogueClient:
    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    async def categories(self, skus: Sequence[int]) -> dict[int, str]:
        """sku -> category for every sku asked; ServiceUnavailable when product-stub does not answer."""
        found = await products_by_sku(self.http, self.base_url, skus)
        return {sku: str(found[sku]["category"]) if sku in found else UNKNOWN_CATEGORY for sku in sorted(set(skus))}
