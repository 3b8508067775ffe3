"""httpx's interface over aiohttp's connections, for checkout's calls to LOMS and product-stub; and
one request to another service within a deadline (`request_peer`).

A call costs less CPU through this transport than through httpcore, whose pool also slows with
many requests waiting on it (figures: bench/checkout/README.md). Everything above the transport stays httpx: the clients, their error types, the
request-id hook, and the tests' in-process transports.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import httpx

#: Set by aiohttp itself from the body it sends, or meaningless once it has decoded the answer.
_REQUEST_HEADERS_AIOHTTP_SETS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
_ANSWER_HEADERS_NOW_WRONG = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class AiohttpTransport(httpx.AsyncBaseTransport):
    def __init__(self, *, max_connections: int = 200) -> None:
        self.max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running event loop.
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self.max_connections, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() not in _REQUEST_HEADERS_AIOHTTP_SETS]
        body = await request.aread()
        try:
            async with self._open().request(
                request.method,
                str(request.url),
                headers=headers,
                data=body or None,
                allow_redirects=False,
                timeout=_timeout(request),
            ) as answer:
                content = await answer.read()
                answer_headers = [
                    (k, v) for k, v in answer.headers.items() if k.lower() not in _ANSWER_HEADERS_NOW_WRONG
                ]
                status = answer.status
        except TimeoutError as exc:
            raise httpx.TimeoutException(f"timed out: {exc}", request=request) from exc
        except aiohttp.ClientConnectionError as exc:
            raise httpx.ConnectError(f"{type(exc).__name__}: {exc}", request=request) from exc
        except aiohttp.ClientError as exc:
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}") from exc
        return httpx.Response(status, headers=answer_headers, content=content, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _timeout(request: httpx.Request) -> aiohttp.ClientTimeout:
    """httpx's per-phase timeouts, as aiohttp names them."""
    phases = request.extensions.get("timeout", {})
    return aiohttp.ClientTimeout(
        total=None, connect=phases.get("pool"), sock_connect=phases.get("connect"), sock_read=phases.get("read")
    )


async def request_peer(
    http: httpx.AsyncClient,
    method: str,
    path: str,
    *,
    limit: float,
    peer: str,
    unavailable: Callable[[str], Exception],
    **kw: Any,
) -> httpx.Response:
    """One request to another service, the whole of it (not each phase) within `limit` seconds. No
    answer in time, no connection, or a 5xx is `unavailable(<what happened, naming the peer>)`; any
    other answer is the caller's to read."""
    try:
        async with asyncio.timeout(limit):
            resp = await http.request(method, path, timeout=limit, **kw)
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise unavailable(f"{peer} did not answer in time") from exc
    except httpx.TransportError as exc:
        raise unavailable(f"{peer} is unreachable ({type(exc).__name__})") from exc
    if resp.status_code >= 500:
        raise unavailable(f"{peer} failed ({resp.status_code})")
    return resp
