"""product-stub's REST catalogue, read through a short in-process cache.

Names, prices, categories change rarely and a listing composes two services on every request,
so each distinct page is kept for `catalogue_cache_ttl` seconds (0 turns it off). Stock is not
kept here: the composed answers (`usecases/catalogue.py`) read it from LOMS on every refill.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

import httpx
import orjson

from checkout.shopping.errors import ProductServiceUnavailable
from shopcommon.problems import NotFound, ProblemError

Params = list[tuple[str, Any]]


class CatalogueSource:
    def __init__(self, http: httpx.AsyncClient, *, ttl: float, max_entries: int = 2048) -> None:
        self.http = http
        self.ttl = ttl
        self.max_entries = max_entries
        self._pages: OrderedDict[str, tuple[float, Any]] = OrderedDict()

    def peek(self, path: str, params: Params) -> Any | None:
        """The cached answer of this GET, if there is one still fresh."""
        hit = self._pages.get(cache_key(path, params))
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    async def get(self, path: str, params: Params) -> Any:
        """The decoded JSON answer of a public GET; 404 passes through, failures are 503."""
        key = cache_key(path, params)
        hit = self._pages.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        body = await self._fetch(path, params)
        if self.ttl > 0:
            self._pages[key] = (time.monotonic() + self.ttl, body)
            self._pages.move_to_end(key)
            while len(self._pages) > self.max_entries:
                self._pages.popitem(last=False)
        return body

    async def _fetch(self, path: str, params: Params) -> Any:
        try:
            resp = await self.http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise ProductServiceUnavailable(f"ProductService is unreachable ({type(exc).__name__})") from exc
        if resp.status_code >= 500:
            raise ProductServiceUnavailable(f"ProductService failed ({resp.status_code})")
        if resp.status_code >= 400:
            detail = _detail(resp) or f"ProductService refused the request ({resp.status_code})"
            if resp.status_code == 404:
                raise NotFound(detail)
            raise ProblemError(detail, status=resp.status_code)
        return resp.json()


def cache_key(path: str, params: Params) -> str:
    """The path and every parameter, encoded so that two different queries never share a key: JSON
    quotes and escapes each name and value, so none can pose as a separator or as another parameter
    (a hand-joined `k=v&...` cannot tell `a=1&b=` in one value from `a=1` and `b=`). Names are put
    in one order; repeated names keep theirs. (JSON rather than percent-encoding: much cheaper, and
    this runs on every catalogue request.)"""
    ordered = sorted(params, key=lambda param: param[0])
    return path + "?" + orjson.dumps(ordered).decode()


def _detail(resp: httpx.Response) -> str | None:
    if "json" not in resp.headers.get("content-type", ""):
        return None
    try:
        detail = resp.json().get("detail")
    except (ValueError, AttributeError):
        return None
    return str(detail) if detail else None
