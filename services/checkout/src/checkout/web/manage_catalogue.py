"""The manager's catalogue desk: `/manage/products` (create, edit, delete instruments) and
`/manage/catalogue` (categories and manufacturers: create, edit, delete).

Every change goes through product-stub's manager REST endpoints with the manager's own token, so
product-stub's rules decide (a sku taken, a category still holding products, an unknown
manufacturer) and the refusal is said in words. The lists are read from product-stub directly, not
through the shop's short catalogue cache, so a change shows at once here; the shop's pages follow
within that cache's lifetime. Both lists ask again every `page_refresh_seconds` while open
(`web/refresh.py`): product-stub sends no events, so another manager's change shows that way.
Filtering and paging the products swap the `products` block alone (HTMX); the pages work
without JavaScript too."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import Path, Request
from fastapi.responses import Response

from checkout.identity import queries
from checkout.shopping.deps import run_together
from checkout.web import backends, refresh
from checkout.web.backends import Refused, Unavailable
from checkout.web.desk import back, manager, manager_form, notice
from checkout.web.forms import LIMITED, TEXT_LIMITED, Answered, BadInput, page_router, parse_amount, parse_count
from checkout.web.pages import amount_text
from shopcommon.auth import Principal
from shopcommon.validation import MAX_UINT32

log = logging.getLogger(__name__)
router = page_router()
PRODUCTS = "manage_products.html.j2"
GROUPS = "manage_catalogue.html.j2"
PAGE_SIZE = 20
Sku = Path(ge=1, le=MAX_UINT32)
GroupId = Path(ge=1, le=2_147_483_647)
#: The two kinds of group, by their path: (one of them, the heading).
KINDS = {"categories": ("category", "Categories"), "manufacturers": ("manufacturer", "Manufacturers")}


def _failed(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, Refused):
        return exc.status, exc.words
    if isinstance(exc, BadInput):
        return 422, str(exc)
    assert isinstance(exc, Unavailable)
    return 503, exc.words


# --- products ------------------------------------------------------------------------------------
async def _product_context(request: Request, context: dict[str, Any]) -> None:
    query = request.query_params
    category = query.get("category", "").strip()[:100]
    params: dict[str, Any] = {"limit": PAGE_SIZE, "cursor": query.get("cursor") or None, "category": category or None}
    source = backends.catalogue(request)
    listing, categories, makers = await run_together(
        source.call("GET", "/api/v1/products", token=None, params={k: v for k, v in params.items() if v}),
        source.call("GET", "/api/v1/categories", token=None),
        source.call("GET", "/api/v1/manufacturers", token=None),
    )
    for product in listing["items"]:
        product["price_text"] = amount_text(product["price"])
    context.update(products=listing["items"], next_cursor=listing.get("next_cursor"), wanted=category,
                   categories=[c["name"] for c in categories], manufacturers=[m["name"] for m in makers])  # fmt: skip


async def products_page(request: Request, status: int = 200, error: str | None = None,
                        values: dict[str, str] | None = None) -> Response:  # fmt: skip
    user = await manager(request)
    context: dict[str, Any] = {"products": [], "next_cursor": None, "wanted": "", "categories": [],
                               "manufacturers": [], "fields": values or {}}  # fmt: skip
    errors = [error] if error else []
    try:
        await _product_context(request, context)
    except (Refused, Unavailable) as exc:
        failed, words = _failed(exc)
        status, errors = max(status, failed), [*errors, words]
    shown = refresh.version(*(context[k] for k in ("products", "next_cursor", "categories", "manufacturers")))
    return await refresh.page_or_nothing_new(request, PRODUCTS, "products", shown, status, user=user, title="Products",
                                             failed=status != 200, error=" ".join(errors) or None,
                                             notice=notice(request), **context)  # fmt: skip


@router.get("/manage/products")
async def products_get(request: Request) -> Response:
    return await products_page(request)


def _product_fields(form: dict[str, str], *, new: bool) -> dict[str, Any]:
    """The product body from the form; on an edit only what was filled in (and the description)."""
    body: dict[str, Any] = {}
    if new:
        sku = parse_count(form.get("sku"), "SKU", high=MAX_UINT32)
        if sku is None:
            raise BadInput("Fill in the SKU.")
        body["sku"] = sku
    for name, label in (("name", "Name"), ("category", "Category"), ("manufacturer", "Manufacturer")):
        value = form.get(name, "").strip()
        if value:
            body[name] = value
        elif new or name in form:
            raise BadInput(f"Fill in the {label.lower()}.")
    price = parse_amount(form.get("price"), "Price")
    if price is not None:
        body["price"] = price
    elif new or "price" in form:
        raise BadInput("Fill in the price.")
    if "description" in form:
        body["description"] = form["description"].strip()
    return body


async def _product_change(request: Request, method: str, path: str, *, new: bool, done: str) -> Response:
    user, form = await manager_form(request)
    values = form if new else None
    try:
        body = _product_fields(form, new=new) if method != "DELETE" else None
        await backends.catalogue(request).call(method, path, token=user.token, json=body)
    except (BadInput, Refused, Unavailable) as exc:
        status, words = _failed(exc)
        return await products_page(request, status, f"Not changed: {words}", values)
    log.info("catalogue changed on the manager's desk: %s %s", method, path)
    return back(request, "/manage/products", done.format(**(body or {})) if body else done)


@router.post("/manage/products", openapi_extra=TEXT_LIMITED)
async def create_product(request: Request) -> Response:
    return await _product_change(request, "POST", "/api/v1/products", new=True, done="Product {sku} ({name}) added.")


@router.post("/manage/products/{sku}", openapi_extra=TEXT_LIMITED)
async def edit_product(request: Request, sku: int = Sku) -> Response:
    return await _product_change(request, "PATCH", f"/api/v1/products/{sku}", new=False, done=f"Product {sku} saved.")


@router.post("/manage/products/{sku}/delete", openapi_extra=LIMITED)
async def delete_product(request: Request, sku: int = Sku) -> Response:
    return await _product_change(request, "DELETE", f"/api/v1/products/{sku}", new=False,
                                 done=f"Product {sku} deleted.")  # fmt: skip


# --- categories and manufacturers ----------------------------------------------------------------
async def groups_page(request: Request, status: int = 200, error: str | None = None,
                      values: dict[str, str] | None = None) -> Response:  # fmt: skip
    user = await manager(request)
    context: dict[str, Any] = {"groups": {kind: [] for kind in KINDS}, "kinds": KINDS, "fields": values or {}}
    errors = [error] if error else []
    source = backends.catalogue(request)
    try:
        found = await run_together(*(source.call("GET", f"/api/v1/{kind}", token=None) for kind in KINDS))
        context["groups"] = dict(zip(KINDS, found, strict=True))
    except (Refused, Unavailable) as exc:
        failed, words = _failed(exc)
        status, errors = max(status, failed), [*errors, words]
    shown = refresh.version({kind: [(g.get("id"), g.get("name"), g.get("description"), len(g.get("instruments") or []))
                                    for g in found] for kind, found in context["groups"].items()})  # fmt: skip
    return await refresh.page_or_nothing_new(request, GROUPS, "groups", shown, status, user=user,
                                             title="Categories and manufacturers", failed=status != 200,
                                             error=" ".join(errors) or None, notice=notice(request),
                                             **context)  # fmt: skip


@router.get("/manage/catalogue")
async def groups_get(request: Request) -> Response:
    return await groups_page(request)


async def _group_change(request: Request, user: Principal, kind: str, method: str, path: str,
                        body: dict[str, Any] | None, done: str, values: dict[str, str] | None) -> Response:  # fmt: skip
    try:
        await backends.catalogue(request).call(method, path, token=user.token, json=body)
    except (Refused, Unavailable) as exc:
        status, words = _failed(exc)
        return await groups_page(request, status, f"Not changed: {words}", values)
    log.info("%s changed on the manager's desk: %s %s", kind, method, path)
    return back(request, "/manage/catalogue", done)


async def _group_form(request: Request, kind: str) -> tuple[Principal, dict[str, Any]]:
    """A manager's form about a group: the body (name and description); else `Answered`."""
    user, form = await manager_form(request)
    if kind not in KINDS:
        raise Answered(await groups_page(request, 404, "There is no such part of the catalogue."))
    body = {"name": form.get("name", "").strip(), "description": form.get("description", "").strip()}
    if "name" in form and not body["name"]:
        values = {f"{kind}:{k}": v for k, v in body.items()}
        raise Answered(await groups_page(request, 422, f"Fill in the {KINDS[kind][0]}'s name.", values))
    return user, body


@router.post("/manage/catalogue/{kind}", openapi_extra=TEXT_LIMITED)
async def create_group(request: Request, kind: str) -> Response:
    user, body = await _group_form(request, kind)
    values = {f"{kind}:{k}": v for k, v in body.items()}
    done = f"{KINDS[kind][0].capitalize()} {body['name']} added."
    return await _group_change(request, user, kind, "POST", f"/api/v1/{kind}", body, done, values)


@router.post("/manage/catalogue/{kind}/{group_id}", openapi_extra=TEXT_LIMITED)
async def edit_group(request: Request, kind: str, group_id: int = GroupId) -> Response:
    user, body = await _group_form(request, kind)
    done = f"{KINDS[kind][0].capitalize()} {body['name']} saved."
    path = f"/api/v1/{kind}/{group_id}"
    if kind != "categories":
        return await _group_change(request, user, kind, "PATCH", path, body, done, None)
    # A category's workers are named by it: renamed here, they follow it (or its tasks would wait
    # for a worker of the new name that nobody is).
    try:
        before = await backends.catalogue(request).call("GET", path, token=user.token)
        await backends.catalogue(request).call("PATCH", path, token=user.token, json=body)
    except (Refused, Unavailable) as exc:
        status, words = _failed(exc)
        return await groups_page(request, status, f"Not changed: {words}")
    if before["name"] != body["name"]:
        async with request.app.state.sessionmaker() as session, session.begin():
            moved = await queries.rename_category(session, before["name"], body["name"])
        log.info("category %r renamed to %r; %d workers follow it", before["name"], body["name"], moved)
        done += f" Its workers ({moved}) work it under the new name."
    return back(request, "/manage/catalogue", done)


@router.post("/manage/catalogue/{kind}/{group_id}/delete", openapi_extra=LIMITED)
async def delete_group(request: Request, kind: str, group_id: int = GroupId) -> Response:
    user, _ = await _group_form(request, kind)
    done = f"{KINDS[kind][0].capitalize()} {group_id} deleted."
    return await _group_change(request, user, kind, "DELETE", f"/api/v1/{kind}/{group_id}", None, done, None)
