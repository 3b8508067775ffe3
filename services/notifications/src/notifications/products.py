"""Instrument names for the e-mails about an order, from product-stub's public catalogue, kept for
`cache_seconds`. The events name an order's items by sku only (CONTRACT.md fixes their fields);
a customer reads names. When product-stub does not answer, the e-mail goes out naming skus rather
than wait for it: the order's new status is the news, the names a courtesy."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable

import httpx

from shopcommon.catalogue_lookup import products_by_sku
from shopcommon.problems import ServiceUnavailable

log = logging.getLogger(__name__)


class ProductNames:
    def __init__(
        self, http: httpx.AsyncClient, base_url: str, *, cache_seconds: float = 600.0, cache_size: int = 10_000
    ) -> None:
        self.http = http
        self.base_url = base_url
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        #: sku -> (expiry, its name; None for a sku the catalogue no longer lists).
        self._cache: OrderedDict[int, tuple[float, str | None]] = OrderedDict()

    async def of(self, skus: Iterable[int]) -> dict[int, str]:
        """The names of those skus the catalogue lists; none when product-stub does not answer."""
        now = time.monotonic()
        known: dict[int, str | None] = {}
        missing: list[int] = []
        for sku in set(skus):
            hit = self._cache.get(sku)
            if hit is not None and hit[0] > now:
                known[sku] = hit[1]
            else:
                missing.append(sku)
        if missing:
            try:
                found = await products_by_sku(self.http, self.base_url, missing)
            except ServiceUnavailable as exc:
                log.warning("e-mails name skus, not products: %s", exc)
                found = None
            if found is not None:
                for sku in missing:
                    known[sku] = str(found[sku]["name"]) if sku in found else None
                    self._remember(sku, known[sku], now)
        return {sku: name for sku, name in known.items() if name}

    def _remember(self, sku: int, name: str | None, now: float) -> None:
        self._cache[sku] = (now + self.cache_seconds, name)
        self._cache.move_to_end(sku)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
