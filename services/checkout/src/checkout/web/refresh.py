"""Blocks over data that sends no events ask for it again while the page is open.

Product-stub publishes nothing when the catalogue changes (ARCHITECTURE: it talks to no broker),
and a customer's live stream carries only their own orders, not the stock figures the shop shows.
So the shop's instruments and the manager's catalogue lists are re-read: the block carries its own
address (`hx-get`), a timer (`hx-trigger="every Ns"`, the `page_refresh_seconds` setting) and the
digest of what it shows (`X-Page-Version`). Checkout reads the data as for the page and, when the
digest is the same or the data cannot be read this time, answers 204 (htmx swaps nothing); else
the block, whose forms keep what is being typed (`static/live.js`). Without JavaScript the page
stays as it was loaded."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel

from checkout.web.desk import page_or_block, wants_fragment
from shopcommon.auth import Principal

HEADER = "x-page-version"


def version(*shown: Any) -> str:
    """The digest of what a block shows: its data (not its markup, which carries the digest), and
    only the fields it shows, so a page over a large catalogue stays cheap to ask again."""
    blob = orjson.dumps(shown, default=_plain, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:20]


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"{type(value).__name__} is not shown on a page")


def nothing_new(request: Request, block_id: str, shown: str, *, failed: bool = False) -> Response | None:
    """204 when this is the block's own timer asking and the block already shows `shown`, or the
    data could not be read this time (the page keeps what it shows and asks again later; a person's
    own action still says the failure in words)."""
    headers = request.headers
    timer = wants_fragment(request) and headers.get("hx-trigger") == block_id and HEADER in headers
    return Response(status_code=204) if timer and (failed or headers[HEADER] == shown) else None


async def page_or_nothing_new(
    request: Request,
    template: str,
    block: str,
    shown: str,
    status: int = 200,
    *,
    user: Principal | None,
    failed: bool = False,
    here: str | None = None,
    **context: Any,
) -> Response:
    """A page whose `block` (also its element's id) asks again: 204 for its timer when nothing is new
    (`nothing_new`), else the page, or the block alone for an HTMX swap, carrying `shown` and where
    to ask (`here`: the request's own address unless given)."""
    if same := nothing_new(request, block, shown, failed=failed):
        return same
    return await page_or_block(request, template, block, status, user=user, version=shown,
                               here=here or _here(request), **context)  # fmt: skip


def _here(request: Request) -> str:
    """The page's own address, for the block to ask again (without the one-time `done` notice)."""
    query = urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in ("done", "sig")])
    return f"{request.url.path}?{query}" if query else request.url.path
