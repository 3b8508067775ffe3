"""Serve an ASGI app with uvicorn inside the running event loop (real HTTP, so SSE streams)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from notifications.testing.tls import TestCertificate
from shopcommon.devstack.servers import free_port


@asynccontextmanager
async def serve_app(
    app: Any, *, port: int | None = None, startup_timeout: float = 30.0, tls: TestCertificate | None = None
) -> AsyncIterator[str]:
    """The app's base URL while it is served; https with `tls`'s certificate when given."""
    port = port or free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
        ssl_certfile=str(tls.cert_file) if tls else None,
        ssl_keyfile=str(tls.key_file) if tls else None,
    )
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]  # the runner owns signals
    task = asyncio.create_task(server.serve())
    deadline = asyncio.get_running_loop().time() + startup_timeout
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server exited during startup")
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("server did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
