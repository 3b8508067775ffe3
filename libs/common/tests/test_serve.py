"""`python -m shopcommon.serve`, as every service process runs: SIGTERM stops it in order (a request
in flight is answered, no new connection is taken) and the process ends with status 0, where plain
`python -m uvicorn` dies of the signal it re-raises (143 in a shell, -15 here)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from shopcommon.devstack.servers import free_port

APP = """
import asyncio


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(1.5)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"done"})
"""


def _start(module: str, app_dir: Path, port: int) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", module, "--app-dir", str(app_dir), "slow_app:app", "--port", str(port)]
    proc = subprocess.Popen([*argv, "--log-level", "warning"])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the server never answered")


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "slow_app.py").write_text(APP)
    return tmp_path


def test_sigterm_answers_the_request_in_flight_refuses_new_ones_and_exits_0(app_dir: Path) -> None:
    port = free_port()
    proc = _start("shopcommon.serve", app_dir, port)
    answers: list[httpx.Response] = []
    in_flight = threading.Thread(target=lambda: answers.append(httpx.get(f"http://127.0.0.1:{port}/slow", timeout=10)))
    in_flight.start()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
    in_flight.join(10)
    assert proc.wait(10) == 0
    assert [(r.status_code, r.text) for r in answers] == [(200, "done")]


def test_plain_uvicorn_would_die_of_the_signal(app_dir: Path) -> None:
    port = free_port()
    proc = _start("uvicorn", app_dir, port)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM
