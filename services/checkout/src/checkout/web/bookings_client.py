"""The bookings service's cancel-link API (CONTRACT.md "Bookings"), as the cancel page uses it.

Both calls are public: the token of the link is the only credential. Every answer the page cannot
use becomes an exception of its own, so the page says in words what happened; the bookings
service being down, slow or failing is `BookingsUnavailable`, never a hang or a 500.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from checkout.shopping.http_transport import request_peer

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)


class BookingView(BaseModel):
    """The part of bookings' `BookingOut` the page shows."""

    booking_id: int
    table_id: int
    starts_at: datetime
    ends_at: datetime
    name: str
    price: int
    status: str
    cancelled_by: str | None = None


class CancelLinkView(BaseModel):
    booking: BookingView
    cancellable: bool
    reason: str | None = None


class TableView(BaseModel):
    table_id: int
    name: str
    kind: str
    seats: int


class TableOffer(BaseModel):
    """A table of bookings' search (its `TableOut`)."""

    table_id: int
    name: str
    kind: str
    seats: int
    price: int | None = None
    bookable: bool


class TableList(BaseModel):
    items: list[TableOffer]


class BookingsUnavailable(Exception):
    """No usable answer: unreachable, too slow, a 5xx, or an answer we cannot read."""


class CancelLinkGone(Exception):
    """404: the token was already used, or was never issued."""


class CancelRefused(Exception):
    """409: the booking cannot be cancelled now; `slug` says why (`booking-started`, `invalid-transition`)."""

    def __init__(self, slug: str, detail: str) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail


class BookingRefused(Exception):
    """A 4xx the guest can act on (a closed or unknown table, a window or contact it does not take):
    `detail` says why in bookings' words."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class BookingsClient:
    def __init__(self, http: httpx.AsyncClient, *, timeout: float = 5.0) -> None:
        self.http = http
        self.timeout = timeout

    async def _call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await request_peer(self.http, method, path, limit=self.timeout, peer="the bookings service",
                                  unavailable=BookingsUnavailable, **kw)  # fmt: skip

    async def cancel_link(self, token: str) -> CancelLinkView:
        """What the link shows; changes nothing."""
        resp = await self._call("GET", f"/api/v1/bookings/by-token/{quote(token, safe='')}")
        if resp.status_code == 404:
            raise CancelLinkGone()
        return _read(resp, CancelLinkView)

    async def cancel(self, token: str) -> BookingView:
        """Cancel the booking of the link (once: the token is spent)."""
        resp = await self._call("POST", f"/api/v1/bookings/by-token/{quote(token, safe='')}/cancel")
        if resp.status_code == 404:
            raise CancelLinkGone()
        if resp.status_code == 409:
            problem = _problem(resp)
            slug = str(problem.get("type", "")).rsplit("/", 1)[-1]
            raise CancelRefused(slug, str(problem.get("detail") or ""))
        return _read(resp, BookingView)

    async def table(self, table_id: int) -> TableView | None:
        """The table's name, kind and seats; None when they cannot be had (the page shows the id)."""
        try:
            resp = await self._call("GET", f"/api/v1/tables/{table_id}")
            return _read(resp, TableView)
        except BookingsUnavailable as exc:
            log.info("table %s not shown: %s", table_id, exc)
            return None

    async def search(self, params: dict[str, Any]) -> list[TableOffer]:
        """The public table search (`kind`, `seats`, `min_price`, `max_price`, `starts_at`, `ends_at`)."""
        resp = await self._call("GET", "/api/v1/tables", params={k: v for k, v in params.items() if v is not None})
        return _read(_unless_refused(resp), TableList).items

    async def request_booking(
        self, body: dict[str, Any], *, idempotency_key: str, guest_address: str, customer_token: str | None = None
    ) -> BookingView:
        """A guest's request (pending until the restaurant confirms it); the key makes a resent form one
        request. Bookings limits requests per client address: `guest_address` (the guest's, not
        checkout's) goes in `X-Forwarded-For`, which bookings takes from the proxies it trusts
        (`FORWARDED_ALLOW_IPS`, which must name checkout). A signed-in customer's token links the
        booking to them (their `GET /bookings/mine`)."""
        headers = {"Idempotency-Key": idempotency_key, "X-Forwarded-For": guest_address}
        if customer_token:
            headers["Authorization"] = f"Bearer {customer_token}"
        resp = await self._call("POST", "/api/v1/bookings", json=body, headers=headers)
        if resp.status_code == 409 and str(_problem(resp).get("type", "")).endswith("/idempotency-key-in-use"):
            # Not a refusal: the first sending of this request is still being answered. The form
            # stays as it was, so sent again it gets that first answer.
            raise BookingsUnavailable("the same request, sent before, is still being answered")
        return _read(_unless_refused(resp), BookingView, ok=(201,))

    # --- the restaurant's staff (a manager's own token; bookings decides what they may do) ------------
    async def staff(
        self, method: str, path: str, *, token: str, json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:  # fmt: skip
        """One call of bookings' staff API (`/bookings`, `/bookings/{id}/confirm`, `/tables`...) with
        the manager's token: the JSON answer; a 4xx is `BookingRefused` in bookings' words."""
        query = {k: v for k, v in (params or {}).items() if v is not None}
        resp = await self._call(method, path, json=json, params=query, headers={"Authorization": f"Bearer {token}"})
        _expected(_unless_refused(resp), ok=(200, 201))
        try:
            return resp.json()
        except ValueError as exc:
            raise BookingsUnavailable("the bookings service answered something the page cannot read") from exc


#: Bookings' field names as the pages' forms label them.
FIELD_WORDS = {"starts_at": "From", "ends_at": "To", "name": "Name", "email": "Email", "phone": "Phone",
               "seats": "Seats", "price": "Price", "kind": "Kind"}  # fmt: skip


def _problem_words(resp: httpx.Response) -> str:
    """A refusal's detail as a sentence: the problem's `detail`, or its field errors' messages."""
    problem = _problem(resp)
    errors = problem.get("errors")
    if isinstance(errors, list) and errors:
        parts = []
        for err in errors[:3]:
            if isinstance(err, dict):
                field = str(err.get("field", "")).removeprefix("body.").removeprefix("query.")
                message = str(err.get("message", ""))
                if message.startswith("String should match pattern"):  # the pattern says nothing to a guest
                    message = "is not in a form we can use"
                parts.append(f"{FIELD_WORDS.get(field, field)}: {message}".strip(": "))
        if parts:
            return "; ".join(parts)
    return str(problem.get("detail") or problem.get("title") or f"refused ({resp.status_code})")


def _unless_refused(resp: httpx.Response) -> httpx.Response:
    """The answer, unless it is a refusal (a 4xx): then `BookingRefused`, in bookings' words."""
    if 400 <= resp.status_code < 500:
        raise BookingRefused(resp.status_code, _problem_words(resp))
    return resp


def _expected(resp: httpx.Response, ok: tuple[int, ...]) -> None:
    if resp.status_code not in ok:
        raise BookingsUnavailable(f"the bookings service answered {resp.status_code} unexpectedly")


def _read(resp: httpx.Response, model: type[M], ok: tuple[int, ...] = (200,)) -> M:
    _expected(resp, ok)
    try:
        return model.model_validate_json(resp.content)
    except ValidationError as exc:
        raise BookingsUnavailable("the bookings service answered something the page cannot read") from exc


def _problem(resp: httpx.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
