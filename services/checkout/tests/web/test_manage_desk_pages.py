"""The manager's stock and catalogue desks against the real LOMS and product-stub in-process:
stock per warehouse set through LOMS's administration API, products, categories and manufacturers
made, changed and deleted through product-stub's manager endpoints; refusals in words (never the
JSON problem), forged forms and other roles refused."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo

from .conftest import CheckoutFactory
from .test_shop_pages import words
from .test_staff_pages import sign_in

POSTS = ["/manage/stock", "/manage/warehouses", "/manage/products", "/manage/products/1", "/manage/products/1/delete",
         "/manage/catalogue/categories", "/manage/catalogue/categories/1", "/manage/catalogue/manufacturers/1/delete"]  # fmt: skip


@pytest.fixture
async def web(
    checkout: CheckoutFactory, checkout_db: str, loms: httpx.AsyncBaseTransport, product_stub: httpx.AsyncBaseTransport
) -> AsyncIterator[httpx.AsyncClient]:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    yield await checkout(loms=loms, product=product_stub)


async def read(transport: httpx.AsyncBaseTransport, base: str, path: str) -> Any:
    async with httpx.AsyncClient(transport=transport, base_url=base) as client:
        r = await client.get(path)
    return r.status_code, (r.json() if r.status_code == 200 else None)


def row(page: httpx.Response, sku: int) -> str:
    return page.text.split(f'<tr data-sku="{sku}" ')[1].split("</tr>")[0]


# --- stock -----------------------------------------------------------------------------------------
async def test_a_manager_sees_and_sets_stock_per_warehouse(web: httpx.AsyncClient, loms: Any) -> None:
    token = await sign_in(web, "admin")
    r = await web.get("/manage/stock")
    assert r.status_code == 200, words(r)
    assert "Stock in Central warehouse" in words(r) and "North warehouse" in r.text
    central = int(re.search(r'id="show-warehouse".*?<option value="(\d+)" selected', r.text, re.S).group(1))  # type: ignore[union-attr]
    sku = int(r.text.split('<tr data-sku="')[1].split('"')[0])
    assert re.search(r"<td>\d+</td><td>[^<]+</td>", row(r, sku)), "the product's name beside its sku"
    r = await web.post("/manage/stock", data={"csrf_token": token, "warehouse": str(central), "sku": str(sku),
                                              "total": "4321"})  # fmt: skip
    assert r.status_code == 303 and r.headers["location"].startswith(f"/manage/stock?warehouse={central}&done=")
    page = await web.get(r.headers["location"])
    assert f"SKU {sku} now has 4321 in this warehouse." in words(page)
    assert '<td class="num">4321</td>' in row(page, sku)
    # A row's Save sends the total the row showed: made from an older figure (a sale, another
    # manager's change since), it is refused in words, not applied over theirs.
    assert 'name="expected" value="4321"' in row(page, sku)
    stale = {"csrf_token": token, "warehouse": str(central), "sku": str(sku), "total": "4400", "expected": "4300"}
    r = await web.post("/manage/stock", data=stale)
    assert r.status_code == 409 and f"holds 4321 of sku {sku} now, not the 4300 expected" in words(r), words(r)
    r = await web.post("/manage/stock", data={**stale, "expected": "4321"})
    assert r.status_code == 303
    r = await web.post("/manage/stock", data={**stale, "total": "4321", "expected": "4400"})
    assert r.status_code == 303
    status, stock = await read(loms, "http://loms", f"/api/v1/stocks/{sku}")
    assert status == 200 and any(s["warehouse_id"] == central and s["count"] == 4321 for s in stock["stocks"])
    # Another warehouse, as the block alone (HTMX).
    others = re.findall(r'<option value="(\d+)"', r.text if r.text else page.text)
    north = next(int(w) for w in others if int(w) != central)
    block = await web.get("/manage/stock", params={"warehouse": north}, headers={"HX-Request": "true"})
    assert block.status_code == 200 and block.text.lstrip().startswith('<section id="stock"')
    assert "<html" not in block.text and "Stock in North warehouse" in words(block)


async def test_stock_refusals_are_said_in_words(web: httpx.AsyncClient) -> None:
    token = await sign_in(web, "admin")
    form = {"csrf_token": token, "warehouse": "1", "sku": "1", "total": "many"}
    r = await web.post("/manage/stock", data=form)
    assert r.status_code == 422 and "Count must be a whole number from 0 to 4294967295." in words(r)
    assert 'value="many"' in r.text  # what was typed stays in the field
    r = await web.post("/manage/stock", data={**form, "total": "3", "warehouse": "987654"})
    assert r.status_code == 404 and "Not changed:" in words(r) and '"type"' not in r.text
    r = await web.get("/manage/stock", params={"warehouse": "987654"})
    assert r.status_code == 404 and "There is no warehouse 987654." in words(r)
    name = f"Depot {uuid.uuid4().hex[:6]}"
    r = await web.post("/manage/warehouses", data={"csrf_token": token, "name": name})
    assert r.status_code == 303
    assert f"Warehouse {name} added." in words(await web.get(r.headers["location"]))
    r = await web.post("/manage/warehouses", data={"csrf_token": token, "name": name})
    assert r.status_code == 409 and "Not added:" in words(r) and '"type"' not in r.text


async def test_forged_forms_and_other_roles_are_refused(web: httpx.AsyncClient) -> None:
    r = await web.get("/manage/stock", params={"warehouse": "2"}, headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["hx-redirect"] == "/?next=/manage/stock%3Fwarehouse%3D2"
    token = await sign_in(web, "admin")
    for path in POSTS:
        r = await web.post(path, data={"csrf_token": "forged" + token[6:], "name": "x", "total": "1", "sku": "1"})
        assert r.status_code == 403 and "could not verify this request" in words(r), path
    await web.post("/logout", data={"csrf_token": token})
    token = await sign_in(web, "customer")
    for path in ("/manage/stock", "/manage/products", "/manage/catalogue"):
        r = await web.get(path)
        assert r.status_code == 403 and "This page is for the managers' accounts." in words(r), path
    for path in POSTS:
        r = await web.post(path, data={"csrf_token": token, "name": "x", "total": "1", "sku": "1", "warehouse": "1"})
        assert r.status_code == 403 and "This page is for the managers' accounts." in words(r), path


# --- the catalogue ----------------------------------------------------------------------------------
async def test_a_shop_filter_typed_wrong_keeps_the_others_as_chosen(web: httpx.AsyncClient) -> None:
    shop = await web.get("/shop")
    category = re.search(r'<option value="([^"]+)">', shop.text.split('id="category"', 1)[1]).group(1)  # type: ignore[union-attr]
    r = await web.get("/shop", params={"category": category, "min_price": "abc"})
    assert r.status_code == 422 and "Min price must be an amount like 12.50." in words(r)
    assert f'<option value="{category}" selected>' in r.text and 'value="abc"' in r.text


async def test_a_manager_adds_edits_and_deletes_a_product(web: httpx.AsyncClient, product_stub: Any) -> None:
    token = await sign_in(web, "admin")
    r = await web.get("/manage/products")
    assert r.status_code == 200 and "New product" in words(r)
    category = re.search(r'id="new-category"[^>]*><option value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    maker = re.search(r'id="new-manufacturer"[^>]*><option value="([^"]+)"', r.text).group(1)  # type: ignore[union-attr]
    sku = 4_000_000_000 + int(uuid.uuid4().int % 1_000_000)
    form = {"csrf_token": token, "sku": str(sku), "name": "Glass harmonica", "price": "cheap", "category": category,
            "manufacturer": maker, "description": "Wet fingers."}  # fmt: skip
    r = await web.post("/manage/products", data=form)
    assert (
        r.status_code == 422
        and "Price must be an amount like 12.50." in words(r)
        and 'value="Glass harmonica"' in r.text
    )
    r = await web.post("/manage/products", data={**form, "price": "1250.50", "manufacturer": "Nobody & Sons"})
    assert (
        r.status_code == 404
        and "Not changed: Manufacturer: no such manufacturer." in words(r)
        and '"type"' not in r.text
    )
    r = await web.post("/manage/products", data={**form, "price": "1250.50"})
    assert r.status_code == 303 and f"Product {sku} (Glass harmonica) added." in words(
        await web.get(r.headers["location"])
    )
    assert (await read(product_stub, "http://product-stub", f"/api/v1/products/{sku}"))[1]["price"] == 125050
    r = await web.post("/manage/products", data={**form, "price": "1250.50"})
    assert r.status_code == 409 and "already exists" in words(r)
    listed = await web.get("/manage/products", params={"category": category}, headers={"HX-Request": "true"})
    assert listed.text.lstrip().startswith('<div id="products"') and "<html" not in listed.text
    # As long a description as the field takes, in letters that URL-encode to 6 bytes each.
    description = ("Стеклянная гармоника" * 250)[:5000]
    r = await web.post(f"/manage/products/{sku}",
                       data={**form, "name": "Glass armonica", "price": "99", "description": description})  # fmt: skip
    assert r.status_code == 303, words(r)
    found = (await read(product_stub, "http://product-stub", f"/api/v1/products/{sku}"))[1]
    assert (found["name"], found["price"], found["description"]) == ("Glass armonica", 9900, description)
    r = await web.post(f"/manage/products/{sku}", data={**form, "name": " ", "price": "99"})
    assert r.status_code == 422 and "Fill in the name." in words(r)
    r = await web.post(f"/manage/products/{sku}/delete", data={"csrf_token": token})
    assert r.status_code == 303 and f"Product {sku} deleted." in words(await web.get(r.headers["location"]))
    assert (await read(product_stub, "http://product-stub", f"/api/v1/products/{sku}"))[0] == 404


async def test_a_manager_adds_edits_and_deletes_categories_and_manufacturers(
    web: httpx.AsyncClient, product_stub: Any
) -> None:
    token = await sign_in(web, "admin")
    r = await web.get("/manage/catalogue")
    assert r.status_code == 200 and "Categories" in words(r) and "Manufacturers" in words(r)
    name = f"Theremins {uuid.uuid4().hex[:4]}"
    r = await web.post(
        "/manage/catalogue/categories", data={"csrf_token": token, "name": name, "description": "Hands off."}
    )
    assert r.status_code == 303 and f"Category {name} added." in words(await web.get(r.headers["location"]))
    _, groups = await read(product_stub, "http://product-stub", "/api/v1/categories")
    made = next(c for c in groups if c["name"] == name)
    r = await web.post("/manage/catalogue/categories", data={"csrf_token": token, "name": name})
    assert r.status_code == 409 and "already exists" in words(r) and f'value="{name}"' in r.text
    r = await web.post(f"/manage/catalogue/categories/{made['id']}", data={"csrf_token": token, "name": "",
                                                                         "description": "x"})  # fmt: skip
    assert r.status_code == 422 and "Fill in the category's name." in words(r)
    r = await web.post(f"/manage/catalogue/categories/{made['id']}", data={"csrf_token": token, "name": name,
                                                                         "description": "Played in the air."})  # fmt: skip
    assert r.status_code == 303
    busy = next(c for c in groups if c["instruments"])
    r = await web.post(f"/manage/catalogue/categories/{busy['id']}/delete", data={"csrf_token": token})
    assert r.status_code == 409 and "still has" in words(r) and '"type"' not in r.text
    r = await web.post(f"/manage/catalogue/categories/{made['id']}/delete", data={"csrf_token": token})
    assert r.status_code == 303
    _, groups = await read(product_stub, "http://product-stub", "/api/v1/categories")
    assert name not in [c["name"] for c in groups]
    r = await web.post("/manage/catalogue/instruments", data={"csrf_token": token, "name": "x"})
    assert r.status_code == 404 and "There is no such part of the catalogue." in words(r)
    r = await web.post("/manage/catalogue/manufacturers", data={"csrf_token": token, "name": "Moog & Sons"})
    assert r.status_code == 303


async def test_the_desks_say_so_when_the_services_are_down(checkout: CheckoutFactory, checkout_db: str) -> None:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    web = await checkout()
    token = await sign_in(web, "admin")
    for path, service in (("/manage/stock", "stock service"), ("/manage/products", "catalogue"),
                          ("/manage/catalogue", "catalogue")):  # fmt: skip
        r = await web.get(path)
        assert r.status_code == 503 and f"We could not reach the {service}" in words(r), path
    r = await web.post("/manage/stock", data={"csrf_token": token, "warehouse": "1", "sku": "1", "total": "5"})
    assert r.status_code == 503 and "Nothing was changed." in words(r)


# --- lists over data that sends no events ask again ----------------------------------------------
TIMER = re.compile(r'id="(\w+)" hx-get="([^"]+)" hx-trigger="every (\d+)ms" hx-swap="outerHTML" '
                   r"hx-headers='\{\"X-Page-Version\": \"(\w+)\"\}' data-refresh")  # fmt: skip


def timer(page: httpx.Response, block: str) -> tuple[str, dict[str, str]]:
    """Where the block asks again and the headers its timer sends (htmx's, and what it shows)."""
    found = {m.group(1): m for m in TIMER.finditer(page.text)}
    assert block in found, f"no timer on #{block}"
    match = found[block]
    assert int(match.group(3)) == 10_000  # the default `page_refresh_seconds`
    url = match.group(2).replace("&amp;", "&")
    return url, {"HX-Request": "true", "HX-Trigger": block, "X-Page-Version": match.group(4)}


async def test_renaming_a_category_takes_its_workers_along(web: httpx.AsyncClient, product_stub: Any) -> None:
    """Workers are named by their categories: renamed on the desk, the category keeps its workers
    (once, its new tasks waited for a worker of the new name that nobody was)."""
    token = await sign_in(web, "admin")
    old, new = f"Harps {uuid.uuid4().hex[:4]}", f"Lyres {uuid.uuid4().hex[:4]}"
    for name in (old, new):
        r = await web.post("/manage/catalogue/categories", data={"csrf_token": token, "name": name})
        assert r.status_code == 303, words(r)
    admin = await web.post("/api/v1/auth/token", json={"username": "admin", "password": DEMO_PASSWORD})
    bearer = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    workers = []
    for categories in ([old], [old, new], ["drums"]):
        name = "w" + uuid.uuid4().hex[:10]
        made = await web.post("/api/v1/users", headers=bearer, json={
            "username": name, "email": f"{name}@workers.test", "password": "correct-horse-1", "role": "worker",
            "categories": categories})  # fmt: skip
        assert made.status_code == 201, made.text
        workers.append(made.json()["id"])
    _, groups = await read(product_stub, "http://product-stub", "/api/v1/categories")
    harps = next(c for c in groups if c["name"] == old)
    renamed = f"Concert harps {uuid.uuid4().hex[:4]}"
    r = await web.post(f"/manage/catalogue/categories/{harps['id']}", data={"csrf_token": token, "name": renamed})
    assert r.status_code == 303 and "Its workers (2) work it under the new name." in words(
        await web.get(r.headers["location"])
    )
    now = [(await web.get(f"/api/v1/users/{w}", headers=bearer)).json()["categories"] for w in workers]
    assert now == [[renamed], [renamed, new], ["drums"]]


async def test_a_banner_says_only_what_this_browser_did(web: httpx.AsyncClient, product_stub: Any) -> None:
    """The notice after a change travels in the address, signed with the browser's form token: a
    link made elsewhere (say, in a phishing mail) cannot put its own words in the desk's banner."""
    token = await sign_in(web, "admin")
    name = f"Kazoos {uuid.uuid4().hex[:4]}"
    r = await web.post("/manage/catalogue/categories", data={"csrf_token": token, "name": name})
    assert r.status_code == 303 and f"Category {name} added." in words(await web.get(r.headers["location"]))
    forged = "Your session expired: call +1 555 0100 to restore it."
    for query in ({"done": forged}, {"done": forged, "sig": "0" * 32}):
        assert "call +1 555" not in words(await web.get("/manage/catalogue", params=query))
    web.cookies.clear()  # another browser: the same address says nothing
    await sign_in(web, "admin")
    assert f"Category {name} added." not in words(await web.get(r.headers["location"]))


async def test_open_catalogue_lists_hear_nothing_new_until_the_catalogue_changes(
    web: httpx.AsyncClient, product_stub: Any, test_issuer: Any
) -> None:
    await sign_in(web, "admin")
    opened = {block: await web.get(path) for path, block in
              (("/manage/products", "products"), ("/manage/catalogue", "groups"), ("/shop", "instruments"))}  # fmt: skip
    sku = int(opened["instruments"].text.split('data-sku="')[1].split('"')[0])
    assert f'data-sku="{sku}"' in opened["products"].text
    opened["product"] = await web.get(f"/shop/products/{sku}")
    pages = {block: timer(page, block) for block, page in opened.items()}
    for block, (url, headers) in pages.items():
        r = await web.get(url, headers=headers)
        assert (r.status_code, r.content) == (204, b""), block
        # A pager or a filter asks for the block too, but not as its timer: it always gets the block.
        r = await web.get(url, headers={**headers, "HX-Trigger": "elsewhere"})
        assert r.status_code == 200 and re.match(rf'<\w+ id="{block}"', r.text.lstrip()), block

    price = 10_000 + uuid.uuid4().int % 90_000  # shown as "123.45"
    async with httpx.AsyncClient(transport=product_stub, base_url="http://product-stub") as stub:
        r = await stub.patch(f"/api/v1/products/{sku}", json={"price": price}, headers=test_issuer.auth(1, "manager"))
        assert r.status_code == 200, r.text
        groups = (await stub.get("/api/v1/categories")).json()
        r = await stub.patch(f"/api/v1/categories/{groups[0]['id']}", headers=test_issuer.auth(1, "manager"),
                             json={"name": groups[0]["name"], "description": f"Now {price}"})  # fmt: skip
        assert r.status_code == 200, r.text

    shown = f"{price // 100}.{price % 100:02d}"
    wanted = {"products": shown, "groups": f"Now {price}", "instruments": shown, "product": shown}
    for block, (url, headers) in pages.items():
        for _ in range(40):  # the shop reads through its catalogue cache (half a second by default)
            r = await web.get(url, headers=headers)
            if r.status_code == 200:
                break
            assert r.status_code == 204
            await asyncio.sleep(0.1)
        assert r.status_code == 200 and wanted[block] in r.text and "<html" not in r.text, block
        again = TIMER.search(r.text)
        assert again is not None and again.group(4) != headers["X-Page-Version"]
        r = await web.get(url, headers={**headers, "X-Page-Version": again.group(4)})
        assert r.status_code == 204, block


async def test_an_open_list_keeps_what_it_shows_while_the_catalogue_is_down(
    checkout: CheckoutFactory, checkout_db: str
) -> None:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    web = await checkout()
    await sign_in(web, "admin")
    for path, block in (("/manage/products", "products"), ("/manage/catalogue", "groups"), ("/shop", "instruments"),
                        ("/shop/products/1", "product")):  # fmt: skip
        headers = {"HX-Request": "true", "HX-Trigger": block, "X-Page-Version": "what-the-page-showed"}
        r = await web.get(path, headers=headers)
        assert (r.status_code, r.content) == (204, b""), path
        r = await web.get(path, headers={"HX-Request": "true"})
        assert r.status_code == 503 and ("could not reach" in words(r) or "is unreachable" in words(r)), path
