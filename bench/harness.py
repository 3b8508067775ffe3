"""Shared pieces of the benchmarks: the embedded stack, a service under uvicorn as `make run` runs
it, a bare ASGI hello-world baseline, and wrk (Debian package `wrk`) with its figures parsed."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from shopcommon.devstack.processes import ManagedProcess, wait_for
from shopcommon.devstack.servers import free_port
from shopcommon.devstack.stack import EmbeddedStack, StackPorts, StackUrls
from shopcommon.services import uvicorn_argv

ROOT = Path(__file__).resolve().parent.parent
HELLO_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"15")]})
    await send({"type": "http.response.body", "body": b'{"hello":"wor"}'})
"""


@dataclass
class WrkResult:
    name: str
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    errors: str

    def row(self, baseline: WrkResult | None = None) -> str:
        ratio = f"{self.rps / baseline.rps:.3f}" if baseline else "1.000"
        return f"| {self.name} | {self.rps:,.0f} | {self.p50_ms:.2f} | {self.p99_ms:.2f} | {ratio} | {self.non_2xx} |"


def _ms(value: str) -> float:
    number, unit = re.match(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(
    name: str, url: str, *, seconds: int = 10, connections: int = 32, threads: int = 2, lua: str | None = None
) -> WrkResult:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    script = None
    if lua:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)  # noqa: SIM115
        script.write(lua)
        script.close()
        argv += ["-s", script.name]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    if script:
        Path(script.name).unlink()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.MULTILINE).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return WrkResult(name, rps, p50, p99, int(non2xx.group(1)) if non2xx else 0, errors.group(0) if errors else "")


def post_lua(path: str, body: str, headers: dict[str, str] | None = None) -> str:
    lines = ['wrk.method = "POST"', f"wrk.body = [[{body}]]", 'wrk.headers["Content-Type"] = "application/json"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in (headers or {}).items()]
    lines.append(f'wrk.path = "{path}"')
    return "\n".join(lines)


class Bench:
    """Owns everything a benchmark starts, and stops it all at the end."""

    def __init__(self, label: str) -> None:
        self.data_dir = ROOT / ".data" / f"bench-{label}"
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.stack = EmbeddedStack(self.data_dir, StackPorts.free(), durable=True)
        self.procs: list[ManagedProcess] = []
        self.urls: StackUrls | None = None

    def __enter__(self) -> Bench:
        self.urls = self.stack.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in reversed(self.procs):
            proc.stop()
        self.stack.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def uvicorn(self, name: str, factory: str, env: dict[str, str], workers: int = 2, is_factory: bool = True) -> str:
        port = free_port()
        argv = uvicorn_argv(
            factory, host="127.0.0.1", port=port, workers=workers, factory=is_factory, extra=["--log-level", "warning"]
        )
        proc = ManagedProcess(name, argv, log_dir=self.data_dir / "logs", env=env, cwd=self.data_dir)
        proc.start()
        self.procs.append(proc)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: httpx.get(f"{url}/", timeout=2).status_code < 500, 60, name, proc)
        return url

    def hello_world(self, workers: int = 2) -> str:
        (self.data_dir / "hello_asgi.py").write_text(HELLO_APP)
        import os

        env = {**os.environ, "PYTHONPATH": str(self.data_dir)}
        return self.uvicorn("hello-world", "hello_asgi:app", env, workers=workers, is_factory=False)
