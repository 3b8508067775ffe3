"""The mail catcher's (Mailpit's) HTTP API, as the tests read it."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


async def messages_to(mail_api: str, address: str) -> list[dict[str, Any]]:
    """Full messages (Text, HTML) sent to `address`, oldest first."""
    async with httpx.AsyncClient(base_url=mail_api, timeout=10) as client:
        listing = (await client.get("/api/v1/messages", params={"limit": 5000})).json()
        ids = [m["ID"] for m in listing["messages"] if any(t["Address"] == address for t in m["To"])]
        full = [(await client.get(f"/api/v1/message/{mid}")).json() for mid in ids]
    return list(reversed(full))


async def wait_for_messages(
    mail_api: str, address: str, count: int, timeout: float = 15.0, settle: float = 0.0
) -> list[dict[str, Any]]:
    """Wait until at least `count` messages reached `address`; then `settle` seconds for extras."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await messages_to(mail_api, address)
        if len(found) >= count or asyncio.get_running_loop().time() > deadline:
            break
        await asyncio.sleep(0.1)
    if settle:
        await asyncio.sleep(settle)
        found = await messages_to(mail_api, address)
    return found


async def summaries_to(mail_api: str, address: str) -> list[dict[str, Any]]:
    """Message summaries (Subject, Created) sent to `address`, oldest first; one request."""
    async with httpx.AsyncClient(base_url=mail_api, timeout=10) as client:
        listing = (await client.get("/api/v1/messages", params={"limit": 100000})).json()
    found = [m for m in listing["messages"] if any(t["Address"] == address for t in m["To"])]
    return list(reversed(found))
