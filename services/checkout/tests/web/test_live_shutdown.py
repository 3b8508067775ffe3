"""`/live` when checkout stops: a real checkout process (started as every service process is) relays
the real notifications stream (in-process, over TCP); SIGTERM to checkout, as a container runtime
sends it, ends the relayed stream at once with a retry hint, and the process exits with status 0."""

from __future__ import annotations

import asyncio
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn

from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from shopcommon.devstack.servers import free_port
from shopcommon.services import service_spec
from shopcommon.testing.plugin import ServiceProcess, Stack

from .conftest import notifications_app

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
#: uvicorn's graceful-shutdown timeout for every service process (`shopcommon.services.uvicorn_argv`).
UVICORN_GRACE_SECONDS = 5.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def notifications_url(shop_stack: Stack, module_label: str, checkout_keys: tuple[str, str]) -> AsyncIterator[str]:
    """The notifications service served by uvicorn in this process, so its stream streams."""
    app, _ = notifications_app(shop_stack, f"live_{module_label}", checkout_keys[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "notifications did not start"
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    await serving


@pytest.fixture
async def checkout_process(
    shop_stack: Stack, checkout_db: str, checkout_keys: tuple[str, str], notifications_url: str
) -> AsyncIterator[ServiceProcess]:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    env = {
        "APP_ENV": "dev",
        "LOG_JSON": "false",
        "CHECKOUT_DATABASE_URL": checkout_db,
        "REDIS_URL": shop_stack.urls.redis_url,
        "JWT_JWKS_FILE": checkout_keys[1],
        "CHECKOUT_JWT_KEYS_DIR": checkout_keys[0],
        "SHOP_NOTIFICATIONS_URL": notifications_url,
        "CHECKOUT_SHOPPING_REDIS_PREFIX": f"t-{uuid.uuid4().hex[:10]}:",
        "CHECKOUT_IDENTITY_REDIS_PREFIX": f"t-{uuid.uuid4().hex[:10]}:",
    }
    proc = ServiceProcess(service_spec("checkout"), env, shop_stack.embedded.log_dir)
    await asyncio.to_thread(proc.start, 60)
    try:
        yield proc
    finally:
        proc.stop()


async def test_sigterm_ends_an_open_live_stream_at_once_with_a_retry_hint(checkout_process: ServiceProcess) -> None:
    received: list[str] = []
    opened = asyncio.Event()
    async with httpx.AsyncClient(base_url=checkout_process.url, timeout=30) as client:
        landing = await client.get("/")
        token = CSRF_FIELD.search(landing.text).group(1)  # type: ignore[union-attr]
        r = await client.post("/login", data={"csrf_token": token, "username": "customer", "password": DEMO_PASSWORD})
        assert r.status_code == 303

        async def listen() -> None:
            async with client.stream("GET", "/live") as stream:
                assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    received.append(line)
                    if line.startswith(": connected"):
                        opened.set()

        listening = asyncio.create_task(listen())
        await asyncio.wait_for(opened.wait(), 10)
        popen = checkout_process.proc.proc
        assert popen is not None
        popen.send_signal(signal.SIGTERM)
        sent_at = time.monotonic()
        await asyncio.wait_for(listening, 30)  # the stream ended: checkout closed it
        ended_after = time.monotonic() - sent_at
        status = await asyncio.to_thread(popen.wait, 30)
    hint = received.index(": server stopping; reconnect")
    assert re.fullmatch(r"retry: \d+", received[hint - 1]), received
    # Within the relay's own grace, well before uvicorn would cut the stream off.
    assert ended_after < UVICORN_GRACE_SECONDS - 1, ended_after
    assert status == 0, checkout_process.log()
