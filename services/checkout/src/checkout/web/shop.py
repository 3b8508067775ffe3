"""The customer's pages: `/shop` (instruments with filters, pages and manufacturers), a product,
`/cart`, `/orders` and an order. Each calls the use case the REST API calls (`shopping.catalogue`,
`shopping.carts`, `shopping.purchase`, LOMS with the person's own token); a refusal is said in words
on the page. Read pages work without JavaScript; the orders pages also listen to `/live`, and the
instruments and a product ask again while open (`web/refresh.py`): prices and stock send no events
a customer's stream carries."""

from __future__ import annotations

import contextlib
import logging
import secrets
from typing import Any, Literal

from fastapi import Path, Request
from fastapi.responses import RedirectResponse, Response

from checkout.identity.web import client_ip
from checkout.shopping.deps import ClientKey, Shopping, address_caller, get_shopping, run_together, user_caller
from checkout.shopping.errors import NoLongerSold, ReservationFailed
from checkout.shopping.schemas import CancelIn, Order
from checkout.shopping.usecases import carts, catalogue, orders, purchase
from checkout.web import people, refresh
from checkout.web.forms import (
    LIMITED,
    BadInput,
    csrf_ok,
    page,
    page_router,
    parse_amount,
    parse_count,
    person,
    person_form,
    problem_words,
    read_form,
    refused,
    signed_in,
    whole_number,
)
from checkout.web.live_watch import live_url
from checkout.web.pages import CANCEL_WORDS, SECOND_PRESS_WAIT, already_so, not_added_words, shortage_words
from shopcommon.auth import Principal, Role
from shopcommon.problems import ProblemError
from shopcommon.statuses import OrderStatus, RequestedCancelReason
from shopcommon.validation import MAX_JSON_INT, MAX_UINT32

log = logging.getLogger(__name__)
router = page_router()
PAGE_SIZE = 12
ORDERS_PAGE = 20
Sku = Path(ge=1, le=MAX_UINT32)
OrderId = Path(ge=1, le=MAX_JSON_INT)
#: Where the buttons show (LOMS decides: a refused press is said on the page).
PAYABLE = {OrderStatus.AWAITING_PAYMENT}
CANCELLABLE = {OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT}


def _user_id(user: Principal) -> int:
    assert user.user_id is not None  # signed_in() hands out people only
    return user.user_id


async def _groups(shop: Shopping) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Categories and manufacturers (with descriptions), from product-stub's public catalogue."""
    categories, makers = await run_together(
        shop.catalogue.get("/api/v1/categories", []), shop.catalogue.get("/api/v1/manufacturers", [])
    )
    return list(categories), list(makers)


# --- the catalogue -----------------------------------------------------------------------------
@router.get("/shop")
async def shop_page(request: Request) -> Response:
    user = await signed_in(request)
    shop = get_shopping(request)
    query = request.query_params
    fields = {name: query.get(name, "") for name in ("category", "manufacturer", "min_price", "max_price")}
    fields["in_stock"] = "1" if query.get("in_stock") else ""
    context: dict[str, Any] = {"fields": fields, "products": [], "next_cursor": None, "categories": [],
                               "manufacturers": [], "cursor": query.get("cursor"), "filter_query": {}}  # fmt: skip
    try:
        filters = catalogue.ProductFilters(
            category=fields["category"].strip()[:100] or None,
            manufacturer=fields["manufacturer"].strip()[:100] or None,
            min_price=parse_amount(fields["min_price"], "Min price"),
            max_price=parse_amount(fields["max_price"], "Max price"),
            in_stock=True if fields["in_stock"] else None,
        )
        listing, (context["categories"], context["manufacturers"]) = await run_together(
            catalogue.list_products(shop, limit=PAGE_SIZE, cursor=query.get("cursor") or None, filters=filters),
            _groups(shop),
        )
    except (BadInput, ProblemError) as exc:
        status, words = (422, str(exc)) if isinstance(exc, BadInput) else (exc.status, problem_words(exc))
        if isinstance(exc, BadInput):  # the other filters stay as chosen, their menus and makers shown
            with contextlib.suppress(ProblemError):
                context["categories"], context["manufacturers"] = await _groups(shop)
        return await refresh.page_or_nothing_new(request, "shop.html.j2", "instruments", "", status, user=user,
                                                 failed=True, title="Shop", error=words, **context)  # fmt: skip
    context["products"], context["next_cursor"] = listing.items, listing.next_cursor
    context["filter_query"] = {k: v for k, v in fields.items() if v}
    makers = [(m.get("name"), m.get("description")) for m in context["manufacturers"]]
    shown = refresh.version(context["products"], context["next_cursor"], makers)
    return await refresh.page_or_nothing_new(request, "shop.html.j2", "instruments", shown, user=user, title="Shop",
                                             **context)  # fmt: skip


async def _product_page(request: Request, sku: int, *, status: int = 200, error: str | None = None) -> Response:
    user = await signed_in(request)
    shop = get_shopping(request)
    caller = user_caller(_user_id(user)) if user else address_caller(client_ip(request))
    try:
        product = await catalogue.get_product(shop, sku=sku, caller=caller)
        description = await catalogue.product_description(shop, sku=sku)
    except ProblemError as exc:
        if same := refresh.nothing_new(request, "product", "", failed=True):
            return same
        return await page(request, "notice.html.j2", exc.status, user=user, title="Product",
                          detail=problem_words(exc), back="/shop")  # fmt: skip
    return await refresh.page_or_nothing_new(request, "product.html.j2", "product", refresh.version(product), status,
                                             user=user, here=f"/shop/products/{sku}", title=product.name,
                                             product=product, description=description, error=error)  # fmt: skip


@router.get("/shop/products/{sku}")
async def product_page(request: Request, sku: int = Sku) -> Response:
    return await _product_page(request, sku)


# --- the cart ----------------------------------------------------------------------------------
@router.post("/cart/items", openapi_extra=LIMITED)
async def add_to_cart(request: Request) -> Response:
    user = await signed_in(request)
    form = await read_form(request)
    if not csrf_ok(request, form):
        return await refused(request, user)
    try:
        sku = parse_count(form.get("sku"), "The product", high=MAX_UINT32)
        count = parse_count(form.get("count") or "1", "Quantity") or 1
    except BadInput as exc:
        return await page(request, "notice.html.j2", 422, user=user, title="Not added", detail=str(exc), back="/shop")
    if sku is None:
        return await page(request, "notice.html.j2", 422, user=user, title="Not added",
                          detail="Choose a product first.", back="/shop")  # fmt: skip
    if user is None:
        return RedirectResponse(f"/?next=/shop/products/{sku}", status_code=303)
    shop = get_shopping(request)
    try:
        async with shop.sessionmaker() as session, session.begin():
            await carts.add_item(shop, session, user_id=_user_id(user), sku=sku, count=count)
    except ProblemError as exc:
        words = not_added_words(exc.slug, exc.extra) or problem_words(exc)
        return await _product_page(request, sku, status=exc.status, error=words)
    return RedirectResponse("/cart?added=1", status_code=303)


@router.post("/cart/items/{sku}/remove", openapi_extra=LIMITED)
async def remove_from_cart(request: Request, sku: int = Sku) -> Response:
    user, _ = await person_form(request)
    shop = get_shopping(request)
    try:
        async with shop.sessionmaker() as session, session.begin():
            await carts.remove_item(session, user_id=_user_id(user), sku=sku, count=None)
    except ProblemError as exc:
        return await _cart_page(request, user, status=exc.status, error=problem_words(exc))
    return RedirectResponse("/cart", status_code=303)


async def _cart_page(request: Request, user: Principal, *, status: int = 200, error: str | None = None,
                     notice: str | None = None, refused: ProblemError | None = None) -> Response:  # fmt: skip
    shop = get_shopping(request)
    try:
        cart, gone = await carts.cart_and_gone(shop, user_id=_user_id(user))
    except ProblemError as exc:
        return await page(request, "notice.html.j2", exc.status, user=user, title="Your cart",
                          detail=problem_words(exc), back="/shop")  # fmt: skip
    if isinstance(refused, NoLongerSold):
        error = "Some products in your cart are no longer sold: remove them below, then check out."
    if isinstance(refused, ReservationFailed):
        names = {line.sku: line.name for line in cart.items}
        error = shortage_words(refused.extra.get("skus") or [], refused.extra.get("available") or {}, names)
    return await page(request, "cart.html.j2", status, user=user, title="Your cart", cart=cart, gone=gone,
                      error=error, notice=notice, key=secrets.token_urlsafe(16))  # fmt: skip


@router.get("/cart")
async def cart_page(request: Request) -> Response:
    user = await person(request)
    notice = "Added to your cart." if request.query_params.get("added") else None
    return await _cart_page(request, user, notice=notice)


@router.post("/cart/checkout", openapi_extra=LIMITED)
async def check_out(request: Request) -> Response:
    user, form = await person_form(request)
    key = ClientKey(form.get("key") or secrets.token_urlsafe(16), f"{user.role}:{user.subject}", "POST /cart/checkout")
    shop, user_id = get_shopping(request), _user_id(user)
    try:
        result = await purchase.checkout_cart(shop, user_id=user_id, client_key=key, wait=SECOND_PRESS_WAIT)
    except ProblemError as exc:
        return await _cart_page(request, user, status=exc.status, error=problem_words(exc), refused=exc)
    log.info("order %s placed from the web cart", result.order_id)
    return RedirectResponse(f"/orders?placed={result.order_id}", status_code=303)


# --- orders ------------------------------------------------------------------------------------
def order_view(order: Order) -> dict[str, Any]:
    """An order as the templates show it: LOMS's fields, which buttons it gets, until when it can be
    paid and why it was cancelled."""
    dump = order.model_dump()
    dump["tasks"] = dump.get("tasks") or []
    extra = order.model_extra or {}
    pay_by = extra.get("payment_deadline") if order.status in PAYABLE else None
    why = CANCEL_WORDS.get(str(extra.get("cancel_reason"))) if order.status == OrderStatus.CANCELLED else None
    return {**dump, "payable": order.status in PAYABLE, "cancellable": order.status in CANCELLABLE,
            "pay_by": pay_by, "why": why}  # fmt: skip


def task_workers(views: list[dict[str, Any]]) -> list[int | None]:
    """The workers of the orders' tasks, for naming them."""
    return [task.get("worker_id") for view in views for task in view["tasks"]]


async def _orders_page(request: Request, user: Principal, *, status: int = 200, error: str | None = None) -> Response:
    shop = get_shopping(request)
    cursor = request.query_params.get("cursor") or None
    try:
        listing = await orders.list_orders(
            shop, user, limit=ORDERS_PAGE, cursor=cursor, user_id=_user_id(user), status=None
        )
    except ProblemError as exc:
        return await page(request, "orders.html.j2", exc.status, user=user, title="My orders", orders=[],
                          next_cursor=None, error=problem_words(exc), workers={})  # fmt: skip
    placed = request.query_params.get("placed")
    notice = f"Order {placed} is placed." if placed and whole_number(placed) else None
    views = [order_view(o) for o in listing.items]
    workers = await people.names(request, task_workers(views))
    # The first page takes new orders live (one placed in another tab); it names those it shows,
    # so an event of one of them changes its row rather than adding one.
    return await page(request, "orders.html.j2", status, user=user, title="My orders", error=error, notice=notice,
                      orders=views, next_cursor=listing.next_cursor, workers=workers,
                      live="/live" if cursor else live_url(orders=[v["order_id"] for v in views], new=["orders"],
                                                          mine=user.role == Role.MANAGER))  # fmt: skip


@router.get("/orders")
async def orders_page(request: Request) -> Response:
    user = await person(request)
    return await _orders_page(request, user)


async def _order_page(request: Request, user: Principal, order_id: int, *, status: int = 200,
                      error: str | None = None) -> Response:  # fmt: skip
    shop = get_shopping(request)
    try:
        order = await orders.get_order(shop, user, order_id)
    except ProblemError as exc:
        return await page(request, "notice.html.j2", exc.status, user=user, title=f"Order {order_id}",
                          detail=problem_words(exc), back="/orders")  # fmt: skip
    names = await product_names(shop, user, [item.sku for item in order.items])
    view = order_view(order)
    workers = await people.names(request, task_workers([view]))
    return await page(request, "order.html.j2", status, user=user, title=f"Order {order_id}", error=error,
                      order=view, names=names, workers=workers)  # fmt: skip


async def product_names(shop: Shopping, user: Principal, skus: list[int]) -> dict[int, str]:
    """The products' names, where the catalogue still has them, looked up as `user`."""
    return await catalogue.product_names(shop, skus, caller=user_caller(_user_id(user)))


@router.get("/orders/{order_id}")
async def order_page(request: Request, order_id: int = OrderId) -> Response:
    user = await person(request)
    return await _order_page(request, user, order_id)


async def _move(request: Request, order_id: int, action: Literal["pay", "cancel"]) -> Response:
    user, form = await person_form(request)
    back = f"/orders/{order_id}" if form.get("back") == "order" else "/orders"
    reason = CancelIn(reason=RequestedCancelReason.CUSTOMER) if action == "cancel" else None
    try:
        await orders.move_order(get_shopping(request), user, order_id, action, idempotency_key=None, cancel=reason)
    except ProblemError as exc:
        if already_so(exc, OrderStatus.PAID if action == "pay" else OrderStatus.CANCELLED):
            return RedirectResponse(back, status_code=303)
        if back == "/orders":
            return await _orders_page(request, user, status=exc.status, error=problem_words(exc))
        return await _order_page(request, user, order_id, status=exc.status, error=problem_words(exc))
    return RedirectResponse(back, status_code=303)


@router.post("/orders/{order_id}/pay", openapi_extra=LIMITED)
async def pay(request: Request, order_id: int = OrderId) -> Response:
    return await _move(request, order_id, "pay")


@router.post("/orders/{order_id}/cancel", openapi_extra=LIMITED)
async def cancel(request: Request, order_id: int = OrderId) -> Response:
    return await _move(request, order_id, "cancel")
