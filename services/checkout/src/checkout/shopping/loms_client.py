"""The LOMS REST client (CONTRACT.md "LOMS REST").

Checkout's own calls (stock reads, creating orders with the prices the customer saw) carry a
`service` token; calls made on a customer's or manager's behalf carry the caller's own token, so
LOMS applies its ownership rules to the real caller. LOMS's problem answers pass through to our
client unchanged; LOMS being down or failing is a 503, never a hang or a 500.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import httpx

from checkout.shopping.http_transport import request_peer
from shopcommon.idempotency import REPLAYED_HEADER
from shopcommon.polling import poll
from shopcommon.problems import Conflict, ProblemError, ServiceUnavailable

JSON = dict[str, Any]
#: LOMS's 409 for a request whose `Idempotency-Key` is held by a request still running: the one
#: refusal that asking again resolves.
KEY_IN_USE = "idempotency-key-in-use"


class LomsUnavailable(ServiceUnavailable):
    title, slug = "LOMS unavailable", "loms-unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": "1"})


class LomsClient:
    def __init__(
        self, http: httpx.AsyncClient, service_token: Callable[[], str], *, timeout: float = 5.0, order_wait: int = 10
    ) -> None:
        self.http = http
        self.service_token = service_token
        self.timeout = timeout
        self.order_wait = max(0, min(30, order_wait))

    def _auth(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.service_token()}"}

    async def _call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        resp = await request_peer(self.http, method, path, limit=timeout or self.timeout, peer="LOMS",
                                  unavailable=LomsUnavailable, headers={**self._auth(token), **(headers or {})},
                                  **kw)  # fmt: skip
        if resp.status_code >= 400:
            raise _passed_through(resp, own_call=token is None)
        return resp

    # --- stock -----------------------------------------------------------------------------------
    async def available(self, sku: int) -> int:
        """Units of one sku that can be bought now, over every warehouse."""
        try:
            resp = await self._call("GET", f"/api/v1/stocks/{sku}")
        except ProblemError as exc:
            if exc.status == 404:
                return 0
            raise
        return sum(int(s["count"]) for s in resp.json().get("stocks", []))

    async def available_many(self, skus: Iterable[int]) -> dict[int, int]:
        """Units that can be bought now, for many skus in one request."""
        wanted = list(dict.fromkeys(skus))
        if not wanted:
            return {}
        resp = await self._call("GET", "/api/v1/stocks", params=[("sku", s) for s in wanted])
        found = {int(item["sku"]): _total(item) for item in resp.json().get("items", [])}
        return {sku: found.get(sku, 0) for sku in wanted}

    # --- orders -------------------------------------------------------------------------------------
    async def create_order(self, *, user_id: int, items: list[JSON], idempotency_key: str) -> JSON:
        """Create an order as checkout (prices kept) and wait for its reservation to settle.

        A second request with the same key while the first still runs gets LOMS's 409
        `idempotency-key-in-use`; it waits and asks again, so both callers end with the one order.
        A replayed answer carries the order's status now, not the one it had when first answered.
        Every other 409 (the user's unpaid-orders limit, ...) is LOMS's answer and is raised at once.
        """
        body = {"user_id": user_id, "items": items}
        headers = {"Idempotency-Key": idempotency_key, "Prefer": f"wait={self.order_wait}"}
        limit = self.order_wait + self.timeout

        async def post() -> httpx.Response | ProblemError:
            try:
                return await self._call("POST", "/api/v1/orders", json=body, headers=headers, timeout=limit)
            except ProblemError as exc:
                if (exc.status, exc.slug) != (409, KEY_IN_USE):
                    raise
                return exc

        answer = await poll(
            post, until=lambda answer: not isinstance(answer, ProblemError), timeout=limit, pause=0.05, max_pause=0.5
        )
        if isinstance(answer, ProblemError):
            raise answer
        order: JSON = answer.json()
        if answer.headers.get(REPLAYED_HEADER) == "true":  # the first answer as it was: the order may have moved on
            order = {**order, **await self.get_order(int(order["order_id"])), "order_id": order["order_id"]}
        return order

    async def get_order(self, order_id: int, *, token: str | None = None) -> JSON:
        resp = await self._call("GET", f"/api/v1/orders/{order_id}", token=token)
        order: JSON = resp.json()
        return order

    async def list_orders(self, *, token: str, params: dict[str, Any]) -> JSON:
        query = {k: v for k, v in params.items() if v is not None}
        resp = await self._call("GET", "/api/v1/orders", token=token, params=query)
        page: JSON = resp.json()
        return page

    async def move_order(
        self, order_id: int, action: str, *, token: str, idempotency_key: str | None, body: JSON | None = None
    ) -> JSON:
        """`pay` or `cancel` on the caller's behalf."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        resp = await self._call(
            "POST",
            f"/api/v1/orders/{order_id}/{action}",
            token=token,
            headers=headers,
            json=body if body is not None else {},
        )
        order: JSON = resp.json()
        return order

    # --- fulfilment tasks (on the caller's behalf) ---------------------------------------------------
    async def list_tasks(self, *, token: str, params: dict[str, Any]) -> JSON:
        query = {k: v for k, v in params.items() if v is not None}
        page: JSON = (await self._call("GET", "/api/v1/tasks", token=token, params=query)).json()
        return page

    async def get_task(self, task_id: int, *, token: str) -> JSON:
        task: JSON = (await self._call("GET", f"/api/v1/tasks/{task_id}", token=token)).json()
        return task

    async def move_task(self, task_id: int, action: str, *, token: str, body: JSON | None = None) -> JSON:
        """`start`, `done` or `assign`, as LOMS decides for this caller."""
        path = f"/api/v1/tasks/{task_id}/{action}"
        task: JSON = (await self._call("POST", path, token=token, json=body if body is not None else {})).json()
        return task


def _total(item: JSON) -> int:
    if "total_available" in item:
        return int(item["total_available"])
    return sum(int(s["count"]) for s in item.get("stocks", []))


def _passed_through(resp: httpx.Response, *, own_call: bool) -> ProblemError:
    """LOMS's problem, as our client would have got it from LOMS."""
    try:
        body = resp.json()
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    if own_call and resp.status_code in (401, 403):
        # Our own service token refused: a deployment fault, not the client's.
        return LomsUnavailable(f"LOMS refused checkout's credentials ({resp.status_code})")
    extra = {k: v for k, v in body.items() if k not in {"type", "title", "status", "detail", "slug", "headers"}}
    headers = {"Retry-After": resp.headers["Retry-After"]} if "Retry-After" in resp.headers else None
    slug = str(body.get("type", "")).rsplit("/", 1)[-1] or None
    error = Conflict if resp.status_code == 409 else ProblemError
    return error(
        str(body.get("detail") or f"LOMS answered {resp.status_code}"),
        status=resp.status_code,
        title=str(body.get("title") or "LOMS refused the request"),
        slug=slug,
        headers=headers,
        **extra,
    )
