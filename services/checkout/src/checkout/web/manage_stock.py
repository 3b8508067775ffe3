"""The manager's stock desk, `/manage/stock`: each warehouse's stock (total, reserved, what can
still be bought), setting a sku's count in a warehouse, and adding a warehouse.

Everything goes through LOMS's warehouse and stock administration (`/api/v1/warehouses`) with the
manager's own token: LOMS decides (a count below what is reserved is refused), and a refusal is
said in words. Choosing another warehouse or page swaps the `stock_table` block alone (HTMX); the
page works without JavaScript too. The table follows `/live`, naming its warehouse and skus
(`live_frames.live_url`): a row changes as other managers change its total and as orders reserve,
take and release its units (`live_frames.stock_rows`); a count being typed in it is kept (`live.js`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Request
from fastapi.responses import Response

from checkout.web import backends
from checkout.web.backends import Refused, Unavailable
from checkout.web.desk import back, manager, manager_form, notice, page_or_block
from checkout.web.forms import LIMITED, BadInput, page_router, parse_count, whole_number
from checkout.web.live_watch import live_url
from shopcommon.auth import Principal
from shopcommon.validation import MAX_JSON_INT, MAX_UINT32

log = logging.getLogger(__name__)
router = page_router()
TEMPLATE = "manage_stock.html.j2"
TITLE = "Stock per warehouse"
PAGE_SIZE = 25


def parse_total(text: str | None) -> int:
    """A count from 0 (none left) up: the whole number a manager typed."""
    text = (text or "").strip()
    if not text:
        raise BadInput("Fill in the count.")
    value = whole_number(text)
    if value is None or value > MAX_UINT32:
        raise BadInput(f"Count must be a whole number from 0 to {MAX_UINT32}.")
    return value


async def _names(request: Request, skus: list[int]) -> dict[int, str]:
    """The products' names from the catalogue; none when it does not answer (the stock still shows)."""
    if not skus:
        return {}
    try:
        found = await backends.catalogue(request).call(
            "GET", "/api/v1/products", token=None, params=[("limit", 200), *(("sku", s) for s in skus[:200])]
        )
    except (Refused, Unavailable):
        return {}
    return {p["sku"]: p["name"] for p in found.get("items", [])}


async def _stock(request: Request, user: Principal, context: dict[str, Any], wanted: int | None,
                 cursor: str | None) -> None:  # fmt: skip
    """Fill the context with the warehouses and the chosen one's page of stock."""
    loms = backends.loms(request)
    warehouses = await loms.call("GET", "/api/v1/warehouses", token=user.token)
    context["warehouses"] = warehouses
    chosen = next((w for w in warehouses if w["id"] == wanted), None) if wanted else None
    if wanted and chosen is None:
        raise Refused(404, f"There is no warehouse {wanted}.")
    chosen = chosen or (warehouses[0] if warehouses else None)
    if chosen is None:
        return
    params: dict[str, Any] = {"limit": PAGE_SIZE} | ({"cursor": cursor} if cursor else {})
    listing = await loms.call("GET", f"/api/v1/warehouses/{chosen['id']}/stocks", token=user.token, params=params)
    context.update(chosen=chosen, rows=listing["items"], next_cursor=listing.get("next_cursor"), cursor=cursor)
    context["live"] = live_url(stock=chosen["id"], skus=[row["sku"] for row in listing["items"]])
    context["names"] = await _names(request, [row["sku"] for row in listing["items"]])


async def stock_page(request: Request, status: int = 200, error: str | None = None, *,
                     warehouse: int | None = None, values: dict[str, str] | None = None) -> Response:  # fmt: skip
    user = await manager(request)
    query = request.query_params
    context: dict[str, Any] = {"warehouses": [], "chosen": None, "rows": [], "names": {}, "next_cursor": None,
                               "cursor": None, "fields": values or {}, "live": ""}  # fmt: skip
    errors = [error] if error else []
    try:
        wanted = warehouse or parse_count(query.get("warehouse"), "Warehouse", high=MAX_JSON_INT)
        await _stock(request, user, context, wanted, (query.get("cursor") or "")[:512] or None)
    except BadInput as exc:
        errors.append(str(exc))
        status = 422
    except Refused as exc:
        errors.append(exc.words)
        status = max(status, exc.status)
    except Unavailable as exc:
        errors.append(exc.words)
        status = 503
    context.update(user=user, title=TITLE, error=" ".join(errors) or None, notice=notice(request))
    return await page_or_block(request, TEMPLATE, "stock_table", status, **context)


@router.get("/manage/stock")
async def stock_get(request: Request) -> Response:
    return await stock_page(request)


@router.post("/manage/stock", openapi_extra=LIMITED)
async def set_stock(request: Request) -> Response:
    """Set one sku's count in one warehouse (LOMS creates the row when it is new)."""
    user, form = await manager_form(request)
    try:
        warehouse = parse_count(form.get("warehouse"), "Warehouse", high=MAX_JSON_INT)
        if warehouse is None:
            raise BadInput("Choose a warehouse.")
    except BadInput as exc:
        return await stock_page(request, 422, str(exc), values=form)
    try:
        sku = parse_count(form.get("sku"), "SKU", high=MAX_UINT32)
        if sku is None:
            raise BadInput("Fill in the SKU.")
        total = parse_total(form.get("total"))
        # A row's form says what total it showed: a sale or another manager's change since is then
        # refused rather than overwritten by a count made from the older figure.
        seen = whole_number(form.get("expected", "").strip())
        wanted = {"total": total} | ({"expected_total": seen} if seen is not None and seen <= MAX_UINT32 else {})
        await backends.loms(request).call("PUT", f"/api/v1/warehouses/{warehouse}/stocks/{sku}", token=user.token,
                                          json=wanted)  # fmt: skip
    except BadInput as exc:
        return await stock_page(request, 422, str(exc), warehouse=warehouse, values=form)
    except Refused as exc:
        return await stock_page(request, exc.status, f"Not changed: {exc.words}", warehouse=warehouse, values=form)
    except Unavailable as exc:
        return await stock_page(request, 503, exc.words, warehouse=warehouse, values=form)
    log.info("stock of sku %s in warehouse %s set to %s on the manager's desk", sku, warehouse, total)
    return back(request, f"/manage/stock?warehouse={warehouse}", f"SKU {sku} now has {total} in this warehouse.")


@router.post("/manage/warehouses", openapi_extra=LIMITED)
async def add_warehouse(request: Request) -> Response:
    user, form = await manager_form(request)
    name = form.get("name", "").strip()
    if not name:
        return await stock_page(request, 422, "Fill in the warehouse's name.", values=form)
    try:
        made = await backends.loms(request).call("POST", "/api/v1/warehouses", token=user.token, json={"name": name})
    except Refused as exc:
        return await stock_page(request, exc.status, f"Not added: {exc.words}", values=form)
    except Unavailable as exc:
        return await stock_page(request, 503, exc.words, values=form)
    return back(request, f"/manage/stock?warehouse={made['id']}", f"Warehouse {made['name']} added.")
