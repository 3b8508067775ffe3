"""Calls the manager's desk and the notifications page make to another service's REST API on the
signed-in person's behalf: LOMS's warehouse and stock administration, product-stub's catalogue
writes, the notifications service's list and web push subscriptions.

Each call carries the person's own token, so the service behind applies its own rules (a manager's
change, a customer's own notifications). A 4xx is `Refused` with the service's reason as a sentence
(its problem's `detail`, or its field errors), never the JSON; the service being down, slow or
failing is `Unavailable`. The pages say either in words."""

from __future__ import annotations

import logging
from typing import Any

import httpx
from fastapi import Request

from checkout.shopping.deps import get_shopping
from checkout.web.lifespan import get_web

log = logging.getLogger(__name__)
#: The longest a page waits for one answer, seconds.
TIMEOUT = 5.0
#: Field names as a form labels them.
FIELD_WORDS = {"sku": "SKU", "total": "Count", "delta": "Change", "name": "Name", "price": "Price",
               "description": "Description", "category": "Category", "manufacturer": "Manufacturer",
               "endpoint": "Push address", "keys": "Browser keys"}  # fmt: skip


class Unavailable(Exception):
    """No usable answer: unreachable, too slow, a 5xx, or an answer that cannot be read."""

    def __init__(self, service: str) -> None:
        super().__init__(f"We could not reach {service}. Nothing was changed. Please try again in a minute.")
        self.words = str(self)


class Refused(Exception):
    """A 4xx: `words` is the service's reason as a sentence."""

    def __init__(self, status: int, words: str) -> None:
        super().__init__(words)
        self.status = status
        self.words = words


class Backend:
    """One service's REST API, called with a person's token."""

    def __init__(self, http: httpx.AsyncClient, service: str) -> None:
        self.http = http
        self.service = service

    async def call(self, method: str, path: str, *, token: str | None, json: Any = None, params: Any = None) -> Any:
        """The decoded JSON answer (None for 204); without a token, a public read."""
        headers = {"Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
        try:
            resp = await self.http.request(method, path, json=json, params=params, timeout=TIMEOUT, headers=headers)
        except httpx.HTTPError as exc:
            log.warning("%s %s %s: %s", self.service, method, path, type(exc).__name__)
            raise Unavailable(self.service) from exc
        if 400 <= resp.status_code < 500:
            raise Refused(resp.status_code, problem_words(resp))
        if resp.status_code >= 300:
            log.warning("%s %s %s answered %s", self.service, method, path, resp.status_code)
            raise Unavailable(self.service)
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise Unavailable(self.service) from exc


def problem_words(resp: httpx.Response) -> str:
    """A refusal as a sentence: the field errors (`Price: must be ...`) or the problem's detail."""
    try:
        problem = resp.json()
    except ValueError:
        problem = {}
    if not isinstance(problem, dict):
        problem = {}
    parts = []
    for err in (problem.get("errors") or [])[:3] if isinstance(problem.get("errors"), list) else []:
        if isinstance(err, dict) and err.get("message"):
            field = str(err.get("field", "")).removeprefix("body.").removeprefix("query.").split(".")[0]
            label = FIELD_WORDS.get(field, field.replace("_", " ").capitalize())
            parts.append(f"{label}: {_message_words(str(err['message']))}".strip(": "))
    text = "; ".join(parts) or str(problem.get("detail") or problem.get("title") or "")
    text = text.strip() or f"The request was refused ({resp.status_code})"
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _message_words(message: str) -> str:
    """A validation message a person can read: a pattern is not shown, it is said."""
    if message.startswith("String should match pattern"):
        return "not in the form expected"
    return message


def loms(request: Request) -> Backend:
    return Backend(get_shopping(request).loms.http, "the stock service (LOMS)")


def catalogue(request: Request) -> Backend:
    return Backend(get_shopping(request).catalogue.http, "the catalogue (ProductService)")


def notifications(request: Request) -> Backend:
    return Backend(get_web(request).notifications, "the notifications service")
